#!/usr/bin/env bash
# Installs the Debian packages the build, tests and demo need, if missing.
# Safe to run repeatedly; does nothing when everything is present.
set -euo pipefail

packages=(
    make gcc bc
    postgresql postgresql-contrib postgresql-server-dev-all libpq-dev  # server, PGXS headers, libpq
    libipc-run-perl           # PostgreSQL's TAP cluster-test modules
    libopenblas-dev zlib1g-dev libjpeg62-turbo-dev libpng-dev libwebp-dev  # CLIP module
    openclipart-png mate-backgrounds  # real images for the imgsearch tests and demo
    libcurl4 ca-certificates  # imgsearch: FoundationNetworking loads libcurl; HTTPS to the hub
)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}"
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
