"""imgsearch end to end: real images into a real PostgreSQL 15 with the
`vectors` extension installed (scripts/test.sh runs `make install` first),
through the built binary, with the small random-weight CLIP fixture model so
embeddings are deterministic.

Images: PNGs from Debian's openclipart-png, JPEG photos from
mate-backgrounds, JPEGs with EXIF capture times and cameras written here by
Pillow, and the broken files of the CLIP decoder tests.
"""
import atexit
import glob
import json
import os
import re
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import uuid

import psycopg
import pytest
from PIL import Image

from conftest import FIXTURE_MODEL_FILES

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIXTURES = os.path.join(ROOT, "Tests", "CLIPTests", "Fixtures")
CLIPART = "/usr/share/openclipart/png"
PHOTOS = "/usr/share/backgrounds/mate"
BROKEN = ["bad_corrupt.webp", "bad_empty.png", "bad_text.jpg", "bad_truncated.jpg", "bad_truncated.png", "bad_huge.png"]
# (file name, EXIF DateTimeOriginal, Make, Model)
EXIF_PHOTOS = [
    ("beach_2019.jpg", "2019:07:14 10:30:00", "Canon", "Canon EOS 5D"),
    ("forest_2021.jpg", "2021:05:02 08:00:00", "NIKON CORPORATION", "NIKON D750"),
    ("city_2023.jpg", "2023:11:20 18:45:10", "Apple", "iPhone 12"),
]


BINARY = None


@pytest.fixture(autouse=True, scope="module")
def binary(imgsearch_bin):
    global BINARY
    BINARY = imgsearch_bin


_shared_binary = None


def shared_binary():
    """A copy of the binary another user can run: the checkout may sit in a
    directory only its owner can enter (a clone into `mktemp -d` is 0700).
    Its libraries come from the toolchain's runpath, not from beside it."""
    global _shared_binary
    if _shared_binary is None:
        directory = tempfile.mkdtemp(prefix="imgsearch-bin-")
        os.chmod(directory, 0o755)
        atexit.register(shutil.rmtree, directory, True)
        _shared_binary = shutil.copy2(BINARY, os.path.join(directory, "imgsearch"))
    return _shared_binary


def run(*args, env=None, check=None, user=None):
    """Runs imgsearch (as `user` if given); `check` is the expected exit status (None: any)."""
    command = [BINARY, *args]
    if user:
        command = ["runuser", "-u", user, "--", "env", *[f"{k}={v}" for k, v in (env or {}).items()],
                   shared_binary(), *args]
        env = None
    result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=600)
    if check is not None:
        assert result.returncode == check, f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def server():
    """A throwaway PostgreSQL 15 cluster (scripts/pgcluster.sh) on a unix socket."""
    directory = tempfile.mkdtemp(prefix="imgsearch-test-")
    os.chmod(directory, 0o755)
    subprocess.run([os.path.join(ROOT, "scripts", "pgcluster.sh"), "start", directory, "54351"], check=True)
    yield directory
    subprocess.run([os.path.join(ROOT, "scripts", "pgcluster.sh"), "stop", directory], check=True)
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def db(server):
    """A fresh database; yields its libpq connection string."""
    name = "t_" + uuid.uuid4().hex[:10]
    admin = f"host={server} port=54351 user=postgres dbname=postgres"
    with psycopg.connect(admin, autocommit=True) as c:
        c.execute(f"CREATE DATABASE {name}")
    yield f"host={server} port=54351 user=postgres dbname={name}"
    with psycopg.connect(admin, autocommit=True) as c:
        c.execute(f"DROP DATABASE {name} WITH (FORCE)")


def query(db, sql, *params):
    with psycopg.connect(db) as c:
        return c.execute(sql, params).fetchall()


def model_directory(name, parent):
    """A fixture model in the Hugging Face layout (config, weights, tokenizer files)."""
    target = os.path.join(parent, name)
    os.makedirs(target)
    for file, source in FIXTURE_MODEL_FILES.items():
        shutil.copyfile(str(source).replace("model_a", name), os.path.join(target, file))
        os.chmod(os.path.join(target, file), 0o644)
    os.chmod(target, 0o755)
    return target


@pytest.fixture(scope="module")
def workspace():
    """Models and image folders, readable by every user (the embedded-server
    test runs imgsearch as an unprivileged user)."""
    directory = tempfile.mkdtemp(prefix="imgsearch-work-")
    os.chmod(directory, 0o755)
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def model(workspace):
    return model_directory("model_a", workspace)


def make_library(parent, clipart=24, photos=3, broken=True):
    """A folder tree of real images: clip art in a subfolder, photos, EXIF photos, broken files."""
    library = tempfile.mkdtemp(dir=parent)
    os.chmod(library, 0o755)
    os.makedirs(os.path.join(library, "clipart", "nested"))
    pngs = sorted(glob.glob(os.path.join(CLIPART, "*", "*.png")))
    assert len(pngs) >= clipart, "openclipart-png is not installed"
    for i, source in enumerate(pngs[:: max(1, len(pngs) // clipart)][:clipart]):
        sub = "nested" if i % 3 == 0 else ""
        shutil.copy(source, os.path.join(library, "clipart", sub, f"{i:03d}_{os.path.basename(source)}"))
    jpegs = sorted(glob.glob(os.path.join(PHOTOS, "*", "*.jpg")))
    assert jpegs, "mate-backgrounds is not installed"
    os.makedirs(os.path.join(library, "photos"))
    for source in jpegs[:photos]:
        # Scaled copies: the same real photos, smaller files.
        with Image.open(source) as image:
            image.thumbnail((800, 800))
            image.save(os.path.join(library, "photos", os.path.basename(source)), quality=90)
    for i, (name, taken, make, camera_model) in enumerate(EXIF_PHOTOS):
        with Image.open(jpegs[i % len(jpegs)]) as image:
            image.thumbnail((640, 640))
            exif = Image.Exif()
            exif[0x010F] = make
            exif[0x0110] = camera_model
            exif.get_ifd(0x8769)[0x9003] = taken
            image.save(os.path.join(library, "photos", name), exif=exif, quality=90)
    if broken:
        os.makedirs(os.path.join(library, "broken"))
        for name in BROKEN:
            shutil.copy(os.path.join(FIXTURES, "decode", name), os.path.join(library, "broken", name))
    for dirpath, dirnames, filenames in os.walk(library):
        for d in dirnames:
            os.chmod(os.path.join(dirpath, d), 0o755)
    return library


def good_image_count(library):
    return sum(1 for dirpath, _, files in os.walk(library) for f in files if "broken" not in dirpath)


def search(db, model, text, *options):
    result = run("search", "--db", db, "--model", model, text, "--json", *options, check=0)
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_index_reindex_change_and_prune(db, model, workspace):
    library = make_library(workspace)
    good = good_image_count(library)

    first = run("index", "--db", db, "--model", model, library, check=1)  # broken files fail the run
    assert f"{good + len(BROKEN)} images found: {good} embedded, 0 unchanged" in first.stdout
    for name in BROKEN:
        assert os.path.join(library, "broken", name) in first.stderr, first.stderr
    assert "empty file (0 bytes)" in first.stderr and "not a JPEG, PNG or WebP file" in first.stderr
    assert query(db, "SELECT count(*), count(DISTINCT path) FROM imgsearch.images")[0] == (good, good)

    # Stored metadata: sizes as Pillow sees them, EXIF capture time and camera.
    rows = dict((os.path.basename(p), (w, h, t, c, s)) for p, w, h, t, c, s in query(
        db, "SELECT path, width, height, taken_at::text, camera, size_bytes FROM imgsearch.images"))
    for path in glob.glob(os.path.join(library, "clipart", "*.png"))[:5]:
        with Image.open(path) as image:
            assert rows[os.path.basename(path)][:2] == image.size
        assert rows[os.path.basename(path)][4] == os.path.getsize(path)
    assert rows["beach_2019.jpg"][2:4] == ("2019-07-14 10:30:00", "Canon EOS 5D")
    assert rows["forest_2021.jpg"][2:4] == ("2021-05-02 08:00:00", "NIKON D750")
    assert rows["city_2023.jpg"][2:4] == ("2023-11-20 18:45:10", "Apple iPhone 12")
    hash_before = dict(query(db, "SELECT path, content_hash FROM imgsearch.images"))
    some_png = sorted(glob.glob(os.path.join(library, "clipart", "*.png")))[0]
    assert hash_before[some_png] == subprocess.run(["sha256sum", some_png], capture_output=True, text=True).stdout.split()[0]

    # Re-indexing without changes embeds nothing.
    shutil.rmtree(os.path.join(library, "broken"))
    second = run("index", "--db", db, "--model", model, library, check=0)
    assert f"{good} images found: 0 embedded, {good} unchanged" in second.stdout
    indexed_at = dict(query(db, "SELECT path, indexed_at FROM imgsearch.images"))

    # A changed file is re-embedded; a touched one (same bytes, new mtime) is not.
    pngs = sorted(glob.glob(os.path.join(library, "clipart", "*.png")))
    changed, touched = pngs[1], pngs[2]
    with Image.open(changed) as image:
        image.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(changed)
    os.utime(touched, (time.time() + 100, time.time() + 100))
    third = run("index", "--db", db, "--model", model, library, check=0)
    assert "1 embedded" in third.stdout and "1 touched (same content)" in third.stdout, third.stdout
    after = dict(query(db, "SELECT path, indexed_at FROM imgsearch.images"))
    hashes = dict(query(db, "SELECT path, content_hash FROM imgsearch.images"))
    assert after[changed] > indexed_at[changed] and hashes[changed] != hash_before[changed]
    assert after[touched] == indexed_at[touched] and hashes[touched] == hash_before[touched]

    # Deleted files: reported, then pruned with --prune (only under the given folder).
    os.remove(pngs[3])
    fourth = run("index", "--db", db, "--model", model, library, check=0)
    assert "1 indexed files under these folders no longer exist" in fourth.stdout
    assert query(db, "SELECT count(*) FROM imgsearch.images WHERE path = %s", pngs[3])[0][0] == 1
    other = make_library(workspace, clipart=3, photos=0, broken=False)
    run("index", "--db", db, "--model", model, other, check=0)
    fifth = run("index", "--db", db, "--model", model, "--prune", library, check=0)
    assert "1 pruned" in fifth.stdout
    assert query(db, "SELECT count(*) FROM imgsearch.images WHERE path = %s", pngs[3])[0][0] == 0
    assert query(db, "SELECT count(*) FROM imgsearch.images WHERE path LIKE %s", other + "/%")[0][0] == good_image_count(other)

    # The index stays structurally sound through all of it.
    status = run("status", "--db", db, "--model", model, "--check", check=0)
    assert "integrity: ok" in status.stdout and "(matches" in status.stdout, status.stdout
    # The OpenBLAS kernels in use, and whether the environment chose them.
    forced = run("status", "--db", db, env={"OPENBLAS_CORETYPE": "Sandybridge"}, check=0).stdout
    assert "compute:   OpenBLAS kernels Sandybridge (set by OPENBLAS_CORETYPE=Sandybridge)" in forced, forced
    unset = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    own = subprocess.run([BINARY, "status", "--db", db], capture_output=True, text=True, env=unset, check=True).stdout
    assert re.search(r"compute:   OpenBLAS kernels \w+\n", own), own


def test_interrupted_run_resumes_without_duplicates(db, model, workspace):
    library = make_library(workspace, clipart=300, photos=0, broken=False)
    total = good_image_count(library)
    process = subprocess.Popen([BINARY, "index", "--db", db, "--model", model,
                                "--batch-size", "4", library], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    committed = 0
    while time.time() < deadline and process.poll() is None:
        try:
            committed = query(db, "SELECT count(*) FROM imgsearch.images")[0][0]
        except psycopg.Error:
            committed = 0  # schema not created yet
        if committed >= 8:
            break
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "rolled back" in stderr
    interrupted_at = query(db, "SELECT count(*) FROM imgsearch.images")[0][0]
    assert 8 <= interrupted_at < total, "the run ended before it could be interrupted"
    assert interrupted_at % 4 == 0, "only whole batches are committed"

    resumed = run("index", "--db", db, "--model", model, "--batch-size", "4", library, check=0)
    assert f"{total} images found: {total - interrupted_at} embedded, {interrupted_at} unchanged" in resumed.stdout
    assert query(db, "SELECT count(*), count(DISTINCT path), count(DISTINCT content_hash) >= 1 FROM imgsearch.images")[0][:2] == (total, total)
    assert "integrity: ok" in run("status", "--db", db, "--check", check=0).stdout


def test_search_filters_and_similar(db, model, workspace):
    library = make_library(workspace, broken=False)
    run("index", "--db", db, "--model", model, library, check=0)
    total = good_image_count(library)

    hits = search(db, model, "a red mushroom", "--limit", "100")
    assert len(hits) == total and [h["rank"] for h in hits] == list(range(1, total + 1))
    distances = [h["distance"] for h in hits]
    assert distances == sorted(distances)
    assert len(search(db, model, "a red mushroom", "--limit", "5")) == 5

    # Table output: rank, distance, path.
    table = run("search", "--db", db, "--model", model, "a dog", "--limit", "3", check=0).stdout.splitlines()
    assert len(table) == 3 and table[0].split()[0] == "1" and table[0].split()[2].startswith(library)

    dated = search(db, model, "a photo", "--limit", "100", "--after", "2020-01-01", "--before", "2023-01-01")
    assert [os.path.basename(h["path"]) for h in dated] == ["forest_2021.jpg"]
    assert dated[0]["taken_at"] == "2021-05-02 08:00:00" and dated[0]["camera"] == "NIKON D750"
    since = search(db, model, "a photo", "--limit", "100", "--after", "2019-07-14 10:30")
    assert {os.path.basename(h["path"]) for h in since} >= {"beach_2019.jpg", "forest_2021.jpg", "city_2023.jpg"}
    assert all(h["taken_at"] is None or h["taken_at"] >= "2019-07-14 10:30" for h in since)
    canon = search(db, model, "a photo", "--limit", "100", "--camera", "canon")
    assert [os.path.basename(h["path"]) for h in canon] == ["beach_2019.jpg"]

    nested = search(db, model, "a photo", "--limit", "100", "--path-glob", "*/clipart/nested/*")
    expected = {os.path.join(library, "clipart", "nested", f) for f in os.listdir(os.path.join(library, "clipart", "nested"))}
    assert {h["path"] for h in nested} == expected
    jpegs = search(db, model, "a photo", "--limit", "100", "--path-glob", "*.jpg")
    assert len(jpegs) == len(os.listdir(os.path.join(library, "photos")))

    # vbase: a filter that drops most rows still fills the limit.
    assert len(search(db, model, "a photo", "--limit", "7", "--path-glob", "*/clipart/*")) == 7

    # similar: an indexed image finds itself first; an outside copy of it too.
    target = os.path.join(library, "photos", "city_2023.jpg")
    similar = run("similar", "--db", db, "--model", model, target, "--json", "--limit", "3", check=0)
    first = json.loads(similar.stdout.splitlines()[0])
    assert first["path"] == target and abs(first["distance"]) < 1e-6
    outside = os.path.join(workspace, "outside.jpg")
    shutil.copy(target, outside)
    first = json.loads(run("similar", "--db", db, "--model", model, outside, "--json", check=0).stdout.splitlines()[0])
    assert first["path"] == target and abs(first["distance"]) < 1e-5


def test_sql_injection_is_inert(db, model, workspace):
    library = make_library(workspace, clipart=6, photos=0, broken=False)
    quoted = os.path.join(library, "clipart", "it's a \"quote\"; DROP TABLE x.png")
    shutil.copy(sorted(glob.glob(os.path.join(library, "clipart", "*.png")))[0], quoted)
    run("index", "--db", db, "--model", model, library, check=0)
    count = query(db, "SELECT count(*) FROM imgsearch.images")[0][0]

    attacks = ["x' OR '1'='1", "'; DROP TABLE imgsearch.images; --", "%", "_", "\\", "$1", "canon') OR true --"]
    for attack in attacks:
        assert search(db, model, attack, "--camera", attack) == []
        assert search(db, model, attack, "--path-glob", attack) == []
    # LIKE wildcards in --camera and --path-glob are literal characters.
    assert search(db, model, "x", "--path-glob", "*%*") == []
    hits = search(db, model, "x", "--path-glob", "it's a \"quote\"; DROP TABLE x.png")
    assert [h["path"] for h in hits] == [quoted]
    assert query(db, "SELECT count(*) FROM imgsearch.images")[0][0] == count


def test_bad_input_is_reported(db, model, workspace):
    late = run("search", "--db", db, "--model", model, "anything", check=1)
    assert "nothing indexed yet" in late.stderr
    bad_date = run("search", "--db", db, "--model", model, "x", "--after", "last tuesday", check=64)
    assert "'last tuesday' is not a date" in bad_date.stderr
    assert "'2024-13-01' is not a date" in run("search", "--db", db, "--model", model, "x", "--before", "2024-13-01", check=64).stderr
    assert "--limit must be positive, got 0" in run("search", "--db", db, "--model", model, "x", "--limit", "0", check=64).stderr
    assert "--batch-size must be positive" in run("index", "--db", db, "--model", model, "--batch-size", "0", workspace, check=64).stderr
    unreachable = run("status", "--db", "host=/nonexistent port=1 dbname=x", check=1)
    assert "cannot connect to PostgreSQL" in unreachable.stderr
    missing = run("index", "--db", db, "--model", "/nonexistent-model", workspace, check=1)
    assert "cannot load the model in /nonexistent-model" in missing.stderr
    missing_dir = run("index", "--db", db, "--model", model, "/nonexistent-photos", check=1)
    assert "/nonexistent-photos: No such file or directory" in missing_dir.stderr

    # Embeddings of one model are not searched with another.
    library = make_library(workspace, clipart=3, photos=0, broken=False)
    run("index", "--db", db, "--model", model, library, check=0)
    other = model_directory("model_b", tempfile.mkdtemp(dir=workspace))
    mismatch = run("search", "--db", db, "--model", other, "x", check=1)
    assert "holds embeddings of model model_a" in mismatch.stderr and "model_b" in mismatch.stderr
    assert "(differs from" in run("status", "--db", db, "--model", other, check=0).stdout


def test_embedded_server(model, workspace):
    """Without --db: a private cluster in IMGSEARCH_HOME, created on first use,
    started and stopped by imgsearch, run as an unprivileged user."""
    user = "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
    home = tempfile.mkdtemp(dir=workspace)
    if os.geteuid() == 0:
        shutil.chown(home, user)
    library = make_library(workspace, clipart=5, photos=1, broken=False)
    env = {"IMGSEARCH_HOME": home, "IMGSEARCH_CLIP_MODEL": model}
    indexed = run("index", library, env=env, user=user if os.geteuid() == 0 else None, check=0)
    assert f"{good_image_count(library)} embedded" in indexed.stdout
    data = os.path.join(home, "pgdata")
    assert os.path.exists(os.path.join(data, "PG_VERSION"))
    assert not os.path.exists(os.path.join(data, "postmaster.pid")), "the server was left running"
    hits = run("search", "a photo", "--json", env=env, user=user if os.geteuid() == 0 else None, check=0)
    assert len(hits.stdout.splitlines()) == good_image_count(library)
    status = run("status", env=env, user=user if os.geteuid() == 0 else None, check=0)
    assert f"embedded, {data}" in status.stdout and f"images:    {good_image_count(library)}" in status.stdout
    assert not os.path.exists(os.path.join(data, "postmaster.pid"))

    if os.geteuid() == 0:
        as_root = run("status", env={"IMGSEARCH_HOME": home}, check=1)
        assert "cannot run as root" in as_root.stderr
    no_server = run("status", env={"IMGSEARCH_HOME": home, "IMGSEARCH_PG_BINDIR": "/nonexistent"},
                    user=user if os.geteuid() == 0 else None, check=1)
    assert "not found in /nonexistent" in no_server.stderr or "cannot run as root" in no_server.stderr
