"""Shared fixtures for the end-to-end tests of the `imgsearch` binary.

scripts/test.sh builds it in release mode and exports IMGSEARCH_BIN; run
directly (`pytest Tests/imgsearch`), the fixture builds a debug binary with
`swift build --product imgsearch`."""
import os
import pathlib
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
CLIP_FIXTURES = ROOT / "Tests" / "CLIPTests" / "Fixtures"

# The PostgreSQL to test against: scripts/pgcluster.sh takes its programs from
# $PG_CONFIG (default: the pg_config on the PATH); the embedded server of
# imgsearch must use the same installation, the one the extension was
# installed into, so it is told through IMGSEARCH_PG_BINDIR.
if os.environ.get("PG_CONFIG") and not os.environ.get("IMGSEARCH_PG_BINDIR"):
    os.environ["IMGSEARCH_PG_BINDIR"] = subprocess.run(
        [os.environ["PG_CONFIG"], "--bindir"], check=True, capture_output=True, text=True).stdout.strip()

# The small random-weight CLIP model (docs/CLIP.md, model_a) as a complete
# Hugging Face model directory: file name in the directory -> fixture path.
FIXTURE_MODEL_FILES = {
    "config.json": CLIP_FIXTURES / "model_a" / "config.json",
    "model.safetensors": CLIP_FIXTURES / "model_a" / "model.safetensors",
    "preprocessor_config.json": CLIP_FIXTURES / "model_a" / "preprocessor_config.json",
    "vocab.json": CLIP_FIXTURES / "vocab.json",
    "merges.txt": CLIP_FIXTURES / "merges.txt",
}


@pytest.fixture(scope="session")
def imgsearch_bin():
    """Path of the imgsearch executable."""
    path = os.environ.get("IMGSEARCH_BIN")
    if path:
        assert os.access(path, os.X_OK), f"IMGSEARCH_BIN={path} is not an executable"
        return path
    build = subprocess.run(["swift", "build", "--product", "imgsearch"], cwd=ROOT, capture_output=True, text=True)
    assert build.returncode == 0, build.stdout[-4000:] + build.stderr[-4000:]
    bin_dir = subprocess.run(["swift", "build", "--show-bin-path"], cwd=ROOT, check=True,
                             capture_output=True, text=True).stdout.strip()
    return os.path.join(bin_dir, "imgsearch")


@pytest.fixture
def clip_model_dir(tmp_path):
    """A copy of the fixture model as a model directory."""
    directory = tmp_path / "fixture-model"
    directory.mkdir()
    for name, source in FIXTURE_MODEL_FILES.items():
        shutil.copyfile(source, directory / name)
    return directory


@pytest.fixture
def imgsearch_env(tmp_path):
    """An environment for running imgsearch that cannot reach the network
    through a proxy or pick up the user's model, hub settings or data directory."""
    env = {k: v for k, v in os.environ.items()
           if k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
           and k not in ("IMGSEARCH_CLIP_MODEL", "HF_ENDPOINT", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")}
    env["no_proxy"] = env["NO_PROXY"] = "127.0.0.1,localhost"
    env["XDG_DATA_HOME"] = str(tmp_path / "xdg-data")
    return env
