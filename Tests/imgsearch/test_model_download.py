"""`imgsearch model download` against a loopback server that behaves like the
Hugging Face hub for the files it needs:

- `HEAD|GET /{repo}/resolve/{revision}/{file}`; files kept in git answer with
  a relative 307 to `/api/resolve-cache/models/{repo}/{commit}/{file}`, which
  answers 200 with `ETag: "<git blob sha1>"` (as the hub does since 2025; with
  `resolve_cache = False` the resolve URL answers 200 itself, as for private
  repos); the LFS file (model.safetensors) answers 302 to `/cdn/...` with
  `X-Linked-Etag: "<sha256>"` and `X-Linked-Size` on the 302;
- `X-Error-Code` RepoNotFound / RevisionNotFound / EntryNotFound on 404s;
- `Range: bytes=N-` answered with 206 (or ignored, on request);
- fault injection: drop the connection after N body bytes, corrupt a body.
"""
import hashlib
import http.server
import json
import os
import re
import subprocess
import threading

import pytest

from conftest import FIXTURE_MODEL_FILES

REPO = "openai/clip-vit-base-patch32"
COMMIT = "3d74acf9a28c67741b2f4f2ea7635f0aaf6f0268"
LFS = {"model.safetensors"}


def git_blob_sha1(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class Hub:
    def __init__(self, files):
        self.files = dict(files)
        self.requests = []          # (method, path, Range header or None)
        self.drop_after = {}        # file -> body bytes sent before the connection drops (once)
        self.corrupt = set()        # files whose body has one byte flipped
        self.ignore_range = False   # answer Range requests with 200 and the whole file
        self.refuse_range_once = False  # answer the next Range request with 416
        self.repo_missing_status = 404
        self.resolve_cache = True
        self.lock = threading.Lock()
        hub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_HEAD(self):
                hub.handle(self, head=True)

            def do_GET(self):
                hub.handle(self, head=False)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def gets(self):
        """(path, Range) of every GET so far."""
        with self.lock:
            return [(p, r) for m, p, r in self.requests if m == "GET"]

    def reset(self):
        with self.lock:
            self.requests.clear()

    @staticmethod
    def reply(h, status, headers, body=b"", head=False):
        h.send_response(status)
        for k, v in headers.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body) if "Content-Length" not in headers else headers["Content-Length"]))
        h.end_headers()
        if not head and body:
            h.wfile.write(body)

    def error(self, h, status, code, message, head):
        body = json.dumps({"error": message}).encode()
        self.reply(h, status, {"X-Error-Code": code, "X-Error-Message": message,
                               "Content-Type": "application/json"}, body, head)

    def handle(self, h, head):
        path = h.path.split("?")[0]
        with self.lock:
            self.requests.append(("HEAD" if head else "GET", path, h.headers.get("Range")))
        if path.startswith("/cdn/"):
            return self.body(h, path[len("/cdn/"):], head, cdn=True)
        prefix = f"/api/resolve-cache/models/{REPO}/{COMMIT}/"
        if path.startswith(prefix):
            return self.body(h, path[len(prefix):], head, cdn=False)
        m = re.fullmatch(r"/(.+)/resolve/([^/]+)/(.+)", path)
        if not m:
            return self.reply(h, 404, {}, b"not found", head)
        repo, revision, name = m.groups()
        if repo != REPO:
            return self.error(h, self.repo_missing_status, "RepoNotFound", "Repository not found", head)
        if revision != "main":
            return self.error(h, 404, "RevisionNotFound", f"Invalid rev id: {revision}", head)
        if name not in self.files:
            return self.error(h, 404, "EntryNotFound", f"{name} does not exist on \"main\"", head)
        data = self.files[name]
        if name in LFS:
            headers = {"Location": f"{self.url}/cdn/{name}?X-Amz-Signature=abc", "X-Repo-Commit": COMMIT,
                       "X-Linked-Etag": f'"{hashlib.sha256(data).hexdigest()}"',
                       "X-Linked-Size": str(len(data)), "ETag": f'"{hashlib.sha256(data).hexdigest()}"'}
            return self.reply(h, 302, headers, b"", head)
        if self.resolve_cache:
            etag = git_blob_sha1(data)
            location = f"/api/resolve-cache/models/{REPO}/{COMMIT}/{name}?etag=%22{etag}%22"
            return self.reply(h, 307, {"Location": location, "X-Repo-Commit": COMMIT}, b"", head)
        return self.body(h, name, head, cdn=False)

    def body(self, h, name, head, cdn):
        data = self.files[name]
        if name in self.corrupt:
            data = data[: len(data) // 2] + bytes([data[len(data) // 2] ^ 0xFF]) + data[len(data) // 2 + 1:]
        headers = {"Accept-Ranges": "bytes", "Content-Type": "application/octet-stream"}
        if not cdn:
            headers.update({"ETag": f'"{git_blob_sha1(self.files[name])}"', "X-Repo-Commit": COMMIT})
        status, start = 200, 0
        requested = h.headers.get("Range")
        if requested and self.refuse_range_once and not head:
            self.refuse_range_once = False
            return self.reply(h, 416, {"Content-Range": f"bytes */{len(data)}"}, b"", head)
        if requested and not self.ignore_range:
            start = int(re.fullmatch(r"bytes=(\d+)-", requested).group(1))
            if start >= len(data):
                return self.reply(h, 416, {"Content-Range": f"bytes */{len(data)}"}, b"", head)
            status = 206
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        body = data[start:]
        if head:
            return self.reply(h, status, headers, body, head=True)
        with self.lock:
            drop = self.drop_after.pop(name, None)
        if drop is None:
            return self.reply(h, status, headers, body)
        # Promise the whole body, send part of it, hang up.
        h.send_response(status)
        for k, v in headers.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body[:drop])
        h.wfile.flush()
        h.close_connection = True


FIXTURE = {name: path.read_bytes() for name, path in FIXTURE_MODEL_FILES.items()}


@pytest.fixture
def hub():
    server = Hub(FIXTURE)
    yield server
    server.close()


def download(imgsearch_bin, env, *args, endpoint=None):
    command = [imgsearch_bin, "model", "download", *args]
    if endpoint:
        command += ["--endpoint", endpoint]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


def assert_model_equals_fixture(directory):
    names = sorted(os.listdir(directory))
    assert names == sorted(FIXTURE), names
    for name, data in FIXTURE.items():
        assert (directory / name).read_bytes() == data, name


@pytest.mark.parametrize("resolve_cache", [True, False])
def test_download_to_default_directory_then_embed(hub, imgsearch_bin, imgsearch_env, tmp_path, resolve_cache):
    hub.resolve_cache = resolve_cache
    env = dict(imgsearch_env, HF_ENDPOINT=hub.url)   # the endpoint from the environment, as huggingface_hub
    result = download(imgsearch_bin, env)
    assert result.returncode == 0, result.stderr
    directory = tmp_path / "xdg-data" / "imgsearch" / "models" / "openai--clip-vit-base-patch32"
    assert_model_equals_fixture(directory)
    assert f"Model directory: {directory}" in result.stdout
    assert f"export IMGSEARCH_CLIP_MODEL={directory}" in result.stdout
    assert "5 downloaded, 0 already up to date" in result.stderr
    assert COMMIT in result.stderr
    # The safetensors came through the redirect; optional files were asked for and are absent.
    assert ("/cdn/model.safetensors", None) in hub.gets()
    if resolve_cache:   # small files fetched from where the HEAD's redirect pointed
        assert (f"/api/resolve-cache/models/{REPO}/{COMMIT}/vocab.json", None) in hub.gets()
    assert any(p.endswith("/tokenizer_config.json") for _, p, _ in hub.requests)

    embed = subprocess.run([imgsearch_bin, "embed", "--model", str(directory), "--text", "a photo"],
                           env=imgsearch_env, capture_output=True, text=True, timeout=120)
    assert embed.returncode == 0, embed.stderr
    line = json.loads(embed.stdout)
    assert line["kind"] == "text" and line["input"] == "a photo"
    config = json.loads(FIXTURE["config.json"])
    assert len(line["embedding"]) == config["projection_dim"]


def test_second_run_downloads_nothing(hub, imgsearch_bin, imgsearch_env, tmp_path):
    out = tmp_path / "model"
    assert download(imgsearch_bin, imgsearch_env, "--output", str(out), endpoint=hub.url).returncode == 0
    hub.reset()
    again = download(imgsearch_bin, imgsearch_env, "--output", str(out), endpoint=hub.url)
    assert again.returncode == 0, again.stderr
    assert hub.gets() == []
    assert "0 downloaded, 5 already up to date" in again.stderr
    assert "model.safetensors: up to date" in again.stderr and "SHA-256 verified" in again.stderr
    assert_model_equals_fixture(out)


def test_resume_after_dropped_connection(hub, imgsearch_bin, imgsearch_env, tmp_path):
    out = tmp_path / "model"
    cut = 600_000
    hub.drop_after["model.safetensors"] = cut
    first = download(imgsearch_bin, imgsearch_env, "--output", str(out), endpoint=hub.url)
    assert first.returncode == 1
    assert "network error for 'model.safetensors'" in first.stderr and "run the command again to resume" in first.stderr
    assert f"{hub.url}/cdn/model.safetensors" in first.stderr
    assert (out / "model.safetensors.part").stat().st_size == cut
    assert not (out / "model.safetensors").exists()

    hub.reset()
    second = download(imgsearch_bin, imgsearch_env, "--output", str(out), endpoint=hub.url)
    assert second.returncode == 0, second.stderr
    gets = hub.gets()
    assert ("/cdn/model.safetensors", f"bytes={cut}-") in gets
    # config.json was complete after the first run and is not fetched again.
    assert not any(p.endswith("/config.json") for p, _ in gets)
    assert_model_equals_fixture(out)


def test_resume_when_the_server_ignores_range(hub, imgsearch_bin, imgsearch_env, tmp_path):
    out = tmp_path / "model"
    hub.drop_after["model.safetensors"] = 300_000
    assert download(imgsearch_bin, imgsearch_env, "--output", str(out), endpoint=hub.url).returncode == 1
    hub.ignore_range = True
    second = download(imgsearch_bin, imgsearch_env, "--output", str(out), endpoint=hub.url)
    assert second.returncode == 0, second.stderr
    assert "does not support resuming; starting again" in second.stderr
    assert_model_equals_fixture(out)


def test_leftover_part_files(hub, imgsearch_bin, imgsearch_env, tmp_path):
    out = tmp_path / "model"
    out.mkdir()
    data = FIXTURE["model.safetensors"]
    # A complete .part (interrupted before the rename) is verified, not fetched again;
    # a .part longer than the file is discarded.
    (out / "model.safetensors.part").write_bytes(data)
    (out / "vocab.json.part").write_bytes(FIXTURE["vocab.json"] + b"extra")
    result = download(imgsearch_bin, imgsearch_env, "--output", str(out), endpoint=hub.url)
    assert result.returncode == 0, result.stderr
    assert "model.safetensors.part is complete; verifying" in result.stderr
    gets = hub.gets()
    assert not any("model.safetensors" in p for p, _ in gets)
    assert (f"/api/resolve-cache/models/{REPO}/{COMMIT}/vocab.json", None) in gets
    assert_model_equals_fixture(out)

    # A server that refuses the range (the file changed upstream): start again from zero.
    (out / "model.safetensors").unlink()
    (out / "model.safetensors.part").write_bytes(data[:1000])
    hub.refuse_range_once = True
    hub.reset()
    result = download(imgsearch_bin, imgsearch_env, "--output", str(out), endpoint=hub.url)
    assert result.returncode == 0, result.stderr
    assert [r for p, r in hub.gets() if p == "/cdn/model.safetensors"] == ["bytes=1000-", None]
    assert_model_equals_fixture(out)


@pytest.mark.parametrize("name", ["model.safetensors", "vocab.json"])
def test_corrupted_content_is_rejected(hub, imgsearch_bin, imgsearch_env, tmp_path, name):
    out = tmp_path / "model"
    hub.corrupt.add(name)
    result = download(imgsearch_bin, imgsearch_env, "--output", str(out), endpoint=hub.url)
    assert result.returncode == 1
    data = FIXTURE[name]
    bad = data[: len(data) // 2] + bytes([data[len(data) // 2] ^ 0xFF]) + data[len(data) // 2 + 1:]
    if name in LFS:
        expected, actual, what = hashlib.sha256(data).hexdigest(), hashlib.sha256(bad).hexdigest(), "SHA-256"
    else:
        expected, actual, what = git_blob_sha1(data), git_blob_sha1(bad), "git blob SHA-1"
    assert f"imgsearch: {name}: {what} mismatch: expected {expected}, got {actual}" in result.stderr
    assert "the partial download was deleted" in result.stderr
    assert not (out / name).exists() and not (out / (name + ".part")).exists()

    hub.corrupt.clear()   # a good server afterwards: the next run completes
    assert download(imgsearch_bin, imgsearch_env, "--output", str(out), endpoint=hub.url).returncode == 0
    assert_model_equals_fixture(out)


@pytest.mark.parametrize("status", [404, 401])
def test_unknown_repository(hub, imgsearch_bin, imgsearch_env, tmp_path, status):
    hub.repo_missing_status = status
    out = tmp_path / "model"
    result = download(imgsearch_bin, imgsearch_env, "--repo", "nobody/no-such-model", "--output", str(out), endpoint=hub.url)
    assert result.returncode == 1
    assert "repository 'nobody/no-such-model' not found" in result.stderr
    assert f"(HTTP {status} for {hub.url}/nobody/no-such-model/resolve/main/config.json)" in result.stderr
    assert "the server says: Repository not found" in result.stderr
    assert os.listdir(out) == []


def test_unknown_revision_and_missing_file(hub, imgsearch_bin, imgsearch_env, tmp_path):
    result = download(imgsearch_bin, imgsearch_env, "--revision", "v9", "--output", str(tmp_path / "a"), endpoint=hub.url)
    assert result.returncode == 1 and "revision 'v9' not found in 'openai/clip-vit-base-patch32'" in result.stderr

    del hub.files["merges.txt"]
    result = download(imgsearch_bin, imgsearch_env, "--output", str(tmp_path / "b"), endpoint=hub.url)
    assert result.returncode == 1
    assert "file 'merges.txt' not found in 'openai/clip-vit-base-patch32' at revision 'main'" in result.stderr


def test_changed_file_is_replaced(hub, imgsearch_bin, imgsearch_env, tmp_path):
    out = tmp_path / "model"
    out.mkdir()
    (out / "config.json").write_text("{}")
    result = download(imgsearch_bin, imgsearch_env, "--output", str(out), endpoint=hub.url)
    assert result.returncode == 0, result.stderr
    assert "config.json: differs from openai/clip-vit-base-patch32@main; downloading it again" in result.stderr
    assert_model_equals_fixture(out)


def test_unreachable_endpoint(imgsearch_bin, imgsearch_env, tmp_path):
    import socket
    with socket.socket() as s:     # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = download(imgsearch_bin, imgsearch_env, "--output", str(tmp_path / "m"), endpoint=f"http://127.0.0.1:{port}")
    assert result.returncode == 1
    assert f"network error for 'config.json' at http://127.0.0.1:{port}/{REPO}/resolve/main/config.json" in result.stderr


def test_usage_errors(imgsearch_bin, imgsearch_env):
    for args in (["--repo", "../etc"], ["--endpoint", "ftp://example.org"], ["--timeout", "0"]):
        result = download(imgsearch_bin, imgsearch_env, *args)
        assert result.returncode == 64, (args, result.stderr)
