"""imgsearch as a daily tool (issue 20): overlapping folders, a batch the
server rejects, concurrent runs, file names that are not UTF-8, symbolic
links, connection strings with passwords, and a change of model.

Shares the fixtures and helpers of test_index_search.py."""
import json
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.parse

import numpy
import psycopg
import psycopg.sql
import pytest
from PIL import Image

import test_index_search
from test_index_search import (  # noqa: F401  (fixtures)
    binary, db, good_image_count, make_library, model, query, run, server, workspace)


def run_together(*commands, env=None, user=None):
    """Starts every command (a tuple of imgsearch arguments) at once and
    waits for all; returns their CompletedProcess results in order."""
    processes = []
    for args in commands:
        command = [test_index_search.BINARY, *args]
        if user:
            command = ["runuser", "-u", user, "--", "env", *[f"{k}={v}" for k, v in (env or {}).items()],
                       test_index_search.shared_binary(), *args]
        processes.append(subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                          env={**os.environ, **(env or {})} if not user else None))
    results = []
    for args, process in zip(commands, processes):
        out, err = process.communicate(timeout=600)
        results.append(subprocess.CompletedProcess(args, process.returncode, out, err))
    return results


def server_user():
    """Who runs the embedded server: PostgreSQL refuses root."""
    return "postgres" if os.geteuid() == 0 else None


def embedded_home(workspace):
    home = tempfile.mkdtemp(dir=workspace)
    if server_user():
        shutil.chown(home, server_user())
    return home


def test_overlapping_folders_index_each_file_once(db, model, workspace):
    """A folder and one inside it (and the same folder spelled another way or
    through a symbolic link) reach the same files: each is indexed once."""
    library = make_library(workspace, broken=False)
    good = good_image_count(library)
    alias = os.path.join(workspace, os.path.basename(library) + "-alias")
    os.symlink(library, alias)
    roots = [library, os.path.join(library, "clipart"), os.path.join(library, "photos", "..", "photos"),
             os.path.join(alias, "clipart", "nested"), os.path.join(library, "photos", "beach_2019.jpg")]
    first = run("index", "--db", db, "--model", model, *roots, check=0)
    assert f"{good} images found: {good} embedded, 0 unchanged, 0 failed" in first.stdout, first.stdout
    assert query(db, "SELECT count(*), count(DISTINCT path) FROM imgsearch.images")[0] == (good, good)
    assert query(db, "SELECT count(*) FROM imgsearch.images WHERE path LIKE %s", alias + "%")[0][0] == 0
    again = run("index", "--db", db, "--model", model, *reversed(roots), check=0)
    assert f"{good} images found: 0 embedded, {good} unchanged" in again.stdout, again.stdout


def test_a_rejected_batch_costs_only_its_own_files(db, model, workspace):
    """The server refuses one row (a trigger stands in for any per-row error):
    that file is reported with the server's message, every other file of its
    batch and of the other batches is stored."""
    library = make_library(workspace, clipart=12, photos=0, broken=False)
    good = good_image_count(library)
    poison = sorted(os.listdir(os.path.join(library, "clipart")))[4]
    run("index", "--db", db, "--model", model, os.path.join(library, "photos"), check=0)  # creates the schema
    with psycopg.connect(db, autocommit=True) as c:
        c.execute("""
            CREATE FUNCTION public.refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF NEW.path LIKE %s THEN RAISE EXCEPTION 'refused by the test trigger'; END IF;
                RETURN NEW;
            END $$""".replace("%s", "'%" + poison + "'"))
        c.execute("CREATE TRIGGER refuse BEFORE INSERT OR UPDATE ON imgsearch.images "
                  "FOR EACH ROW EXECUTE FUNCTION public.refuse_poison()")
    photos = len(os.listdir(os.path.join(library, "photos")))
    result = run("index", "--db", db, "--model", model, "--batch-size", "4", library, check=1)
    assert f"{good - photos - 1} embedded, {photos} unchanged, 1 failed" in result.stdout, result.stdout
    assert f"{poison}: not stored: refused by the test trigger\n" in result.stderr, result.stderr
    assert query(db, "SELECT count(*) FROM imgsearch.images")[0][0] == good - 1


def assert_all_succeeded(results):
    for r in results:
        assert r.returncode == 0, f"{r.args}: exit {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"


def test_concurrent_first_runs_on_the_embedded_server(model, workspace):
    """Two, then three imgsearch processes start together on a data directory
    that does not exist yet: one creates the cluster, all use it, the last
    one stops it."""
    for count in (2, 3):
        home = embedded_home(workspace)
        library = make_library(workspace, clipart=6, photos=1, broken=False)
        good = good_image_count(library)
        env = {"IMGSEARCH_HOME": home, "IMGSEARCH_CLIP_MODEL": model}
        assert_all_succeeded(run_together(*[("index", library)] * count, env=env, user=server_user()))
        searches = run_together(*[("search", "a photo", "--json", "--limit", "100")] * count, ("status",),
                                ("index", library), env=env, user=server_user())
        assert_all_succeeded(searches)
        for result in searches[:count]:
            assert len(result.stdout.splitlines()) == good
        assert f"images:    {good}" in searches[count].stdout
        assert f"{good} images found: 0 embedded, {good} unchanged" in searches[count + 1].stdout
        data = os.path.join(home, "pgdata")
        assert not os.path.exists(os.path.join(data, "postmaster.pid")), "the server was left running"


@pytest.mark.parametrize("count", [2, 3])
def test_concurrent_first_runs_on_one_database(db, model, workspace, count):
    """Runs that start together on an empty database: one creates the
    extension and the schema, none fails on the catalog, every file is stored
    once (two of the runs index the same folder)."""
    libraries = [make_library(workspace, clipart=6, photos=1, broken=False) for _ in range(count - 1)]
    results = run_together(*[("index", "--db", db, "--model", model, library) for library in libraries + libraries[:1]])
    assert_all_succeeded(results)
    good = sum(good_image_count(library) for library in libraries)
    assert query(db, "SELECT count(*), count(DISTINCT path) FROM imgsearch.images")[0] == (good, good)
    searches = run_together(*[("search", "--db", db, "--model", model, "x", "--json", "--limit", "100")] * count,
                            ("index", "--db", db, "--model", model, libraries[-1]))
    assert_all_succeeded(searches)
    assert all(len(r.stdout.splitlines()) == good for r in searches[:count])


def noise(seed, size=(96, 96)):
    """An image no other test image looks like (its own nearest neighbour)."""
    return Image.fromarray(numpy.random.default_rng(seed).integers(0, 256, (*size[::-1], 3), dtype=numpy.uint8))


def imgsearch_bytes(*args):
    """Runs imgsearch with arguments that may be bytes; output as bytes."""
    return subprocess.run([os.fsencode(test_index_search.BINARY), *[os.fsencode(a) for a in args]],
                          capture_output=True, timeout=600)


def test_file_names_that_are_not_utf8(db, model, workspace):
    """Names in Latin-1 and with bytes valid in no encoding are stored with
    their real bytes: re-indexing sees them unchanged, `similar` finds them by
    their path, pruning removes exactly the deleted one."""
    library = make_library(workspace, clipart=4, photos=0, broken=False)
    folder = os.fsencode(library) + b"/caf\xe9 photos"        # Latin-1 folder name
    os.mkdir(folder)
    names = [folder + b"/caf\xe9.png",                          # Latin-1 "café"
             folder + "/café.png".encode(),                     # the same name in UTF-8: another file
             os.fsencode(library) + b"/bad \xff\xfe\x80.png",    # no encoding at all
             os.fsencode(library) + b"/also bad \xff.png"]       # shows like the one above
    for i, name in enumerate(names):
        noise(i).save(os.fsdecode(name), format="PNG")
    good = good_image_count(library)
    first = imgsearch_bytes("index", "--db", db, "--model", model, library)
    assert first.returncode == 0, first.stderr
    assert f"{good} images found: {good} embedded".encode() in first.stdout, first.stdout
    stored = {bytes(p) for (p,) in query(db, "SELECT path_bytes FROM imgsearch.images")}
    assert set(names) <= stored and len(stored) == good
    again = imgsearch_bytes("index", "--db", db, "--model", model, library)
    assert f"{good} images found: 0 embedded, {good} unchanged".encode() in again.stdout, again.stdout
    # A root given by a name that is not UTF-8.
    root = imgsearch_bytes("index", "--db", db, "--model", model, folder)
    assert b"2 images found: 0 embedded, 2 unchanged" in root.stdout, root.stdout + root.stderr

    for name in names:
        similar = imgsearch_bytes("similar", "--db", db, "--model", model, name, "--limit", "1")
        assert similar.returncode == 0, similar.stderr
        assert similar.stdout.rstrip(b"\n").endswith(b"  " + name), similar.stdout   # the real bytes
        assert b"  0.0000  " in similar.stdout
    hits = [json.loads(line) for line in imgsearch_bytes(
        "similar", "--db", db, "--model", model, names[2], "--json", "--limit", "1").stdout.splitlines()]
    assert bytes.fromhex(hits[0]["path_bytes"]) == names[2] and "\ufffd" in hits[0]["path"]

    os.remove(names[3])
    pruned = imgsearch_bytes("index", "--db", db, "--model", model, "--prune", library)
    assert b"1 pruned" in pruned.stdout, pruned.stdout
    assert {bytes(p) for (p,) in query(db, "SELECT path_bytes FROM imgsearch.images")} == stored - {names[3]}


# The schema imgsearch 1 created (Schema.swift at schema version 1), for the
# migration test: a library made by that version must keep working.
SCHEMA_V1 = """
CREATE SCHEMA IF NOT EXISTS imgsearch;
CREATE TABLE IF NOT EXISTS imgsearch.meta (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE IF NOT EXISTS imgsearch.images (
    id           bigserial PRIMARY KEY,
    path         text NOT NULL UNIQUE,
    content_hash text NOT NULL,
    size_bytes   bigint NOT NULL,
    modified_at  timestamptz NOT NULL,
    width        integer NOT NULL,
    height       integer NOT NULL,
    taken_at     timestamp,
    camera       text,
    embedding    vector(%d) NOT NULL,
    indexed_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS images_embedding_idx ON imgsearch.images USING vectors (embedding vector_cos_ops);
CREATE INDEX IF NOT EXISTS images_content_hash_idx ON imgsearch.images (content_hash);
"""
COLUMNS_V1 = "path, content_hash, size_bytes, modified_at, width, height, taken_at, camera, embedding, indexed_at"


def make_version_1(db):
    """Rewrites an indexed database as imgsearch schema version 1 held it:
    the same rows and model, the old tables."""
    with psycopg.connect(db, autocommit=True) as c:
        rows = c.execute(f"SELECT {COLUMNS_V1.replace('embedding', 'embedding::text')} FROM imgsearch.images").fetchall()
        meta = dict(c.execute("SELECT key, value FROM imgsearch.meta").fetchall())
        c.execute("DROP SCHEMA imgsearch CASCADE")
        c.execute(SCHEMA_V1 % int(meta["dimension"]))
        for key in ("model_name", "dimension", "model_fingerprint"):
            c.execute("INSERT INTO imgsearch.meta VALUES (%s, %s)", (key, meta[key]))
        c.execute("INSERT INTO imgsearch.meta VALUES ('schema_version', '1')")
        with c.cursor() as cursor:
            cursor.executemany(f"INSERT INTO imgsearch.images ({COLUMNS_V1}) VALUES "
                               "(%s, %s, %s, %s, %s, %s, %s, %s, %s::vector, %s)", rows)
    return len(rows)


def test_a_version_1_library_is_migrated(db, model, workspace):
    library = make_library(workspace, clipart=6, photos=1, broken=False)
    run("index", "--db", db, "--model", model, library, check=0)
    good = make_version_1(db)
    # Read-only commands migrate too, and then see every row.
    hits = [json.loads(line) for line in run("search", "--db", db, "--model", model, "x", "--json", "--limit", "100",
                                             check=0).stdout.splitlines()]
    assert len(hits) == good
    assert query(db, "SELECT value FROM imgsearch.meta WHERE key = 'schema_version'") == [("3",)]
    assert query(db, "SELECT count(*) FROM imgsearch.images WHERE path_bytes = convert_to(path, 'UTF8')")[0][0] == good
    again = run("index", "--db", db, "--model", model, library, check=0)
    assert f"{good} images found: 0 embedded, {good} unchanged" in again.stdout, again.stdout
    target = hits[0]["path"]
    first = json.loads(run("similar", "--db", db, "--model", model, target, "--json", check=0).stdout.splitlines()[0])
    assert first["path"] == target and abs(first["distance"]) < 1e-6
    status = run("status", "--db", db, "--check", check=0).stdout
    assert "schema:    imgsearch, version 3" in status and "integrity: ok" in status, status
    # A newer schema than this imgsearch knows is refused, not misread.
    query(db, "UPDATE imgsearch.meta SET value = '99' WHERE key = 'schema_version' RETURNING 1")
    newer = run("search", "--db", db, "--model", model, "x", check=1)
    assert "schema is version 99, newer than this imgsearch understands (3)" in newer.stderr, newer.stderr


def test_symbolic_links_and_unreadable_folders(db, model, workspace):
    """Links to image files are followed and the target indexed once under
    its own path; links to folders, broken links and loops are counted in
    the summary with the reason. An unreadable folder is listed with its path
    among the failures and the rest is indexed."""
    library = make_library(workspace, clipart=6, photos=0, broken=False)
    real = good_image_count(library)
    inside = os.path.join(library, "clipart", sorted(os.listdir(os.path.join(library, "clipart")))[1])
    outside = os.path.join(tempfile.mkdtemp(dir=workspace), "outside.png")
    noise(7).save(outside)
    os.chmod(os.path.dirname(outside), 0o755)
    links = os.path.join(library, "links")
    os.mkdir(links)
    os.symlink(inside, os.path.join(links, "to_inside.png"))
    os.symlink(inside, os.path.join(links, "again_inside.jpg"))
    os.symlink(outside, os.path.join(links, "to_outside.png"))
    os.symlink(os.path.join(library, "photos"), os.path.join(links, "to_folder"))
    os.symlink(os.path.join(library, "missing.png"), os.path.join(links, "broken.png"))
    os.symlink(os.path.join(links, "loop_b.png"), os.path.join(links, "loop_a.png"))
    os.symlink(os.path.join(links, "loop_a.png"), os.path.join(links, "loop_b.png"))
    locked = os.path.join(library, "locked")
    os.mkdir(locked)
    noise(8).save(os.path.join(locked, "hidden.png"))
    os.chmod(locked, 0)
    user = server_user()  # root reads every folder: run as someone who cannot
    env = {"PATH": os.environ["PATH"]}
    try:
        result = run("index", "--db", db, "--model", model, library, env=env, user=user, check=1)
    finally:
        os.chmod(locked, 0o755)
    assert f"{real + 1} images found: {real + 1} embedded" in result.stdout, result.stdout + result.stderr
    assert "symbolic links: 3 to image files followed, 4 skipped (1 to a folder, 1 broken, 2 in a loop)" in result.stdout, result.stdout
    assert f"  {locked}: cannot open directory: Permission denied" in result.stderr, result.stderr
    paths = {p for (p,) in query(db, "SELECT path FROM imgsearch.images")}
    assert inside in paths and outside in paths and not any(p.startswith(links) for p in paths)
    assert len(paths) == real + 1


PASSWORD = "s3cr@t/ p'a\\ss:%"


@pytest.fixture
def password_db(server, db):
    """`db` reachable only with a password: a role that the server asks
    for one (scram-sha-256 on the unix socket). Yields (host, dbname, user)."""
    user = "pw_" + db.rsplit("=", 1)[1][2:]
    with psycopg.connect(db, autocommit=True) as c:
        c.execute(psycopg.sql.SQL("CREATE ROLE {} LOGIN SUPERUSER PASSWORD {}").format(
            psycopg.sql.Identifier(user), psycopg.sql.Literal(PASSWORD)))
        hba = os.path.join(server, "data", "pg_hba.conf")
        with open(hba) as f:
            rules = f.read()
        with open(hba, "w") as f:
            f.write(f"local all {user} scram-sha-256\n" + rules)
        c.execute("SELECT pg_reload_conf()")
    yield server, db.rsplit("=", 1)[1], user


def connection_strings(host, dbname, user, password):
    """The same database as a URL (password in the user info and as a query
    parameter) and as key=value strings (quoted, with escapes)."""
    def quoted(value):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    encoded = urllib.parse.quote(password, safe="")
    host_q = urllib.parse.quote(host, safe="")
    return [
        f"postgresql://{user}:{encoded}@/{dbname}?host={host_q}&port=54351&sslmode=disable",
        f"postgres://{user}@/{dbname}?host={host_q}&port=54351&password={encoded}&sslmode=prefer",
        f"host={host} port=54351 user={user} password={quoted(password)} dbname={dbname} sslmode=disable",
        f"password = {quoted(password)} host={host} port=54351 user={user} dbname={dbname}",
    ]


def assert_no_password(result, password=PASSWORD):
    output = result.stdout + result.stderr
    for piece in {password, urllib.parse.quote(password, safe=""), password.replace("'", "\\'"), "s3cr"}:
        assert piece not in output, f"the password was printed:\n{output}"


def test_passwords_are_never_printed(password_db, model, workspace):
    host, dbname, user = password_db
    library = make_library(workspace, clipart=3, photos=0, broken=False)
    good = good_image_count(library)
    for n, url in enumerate(connection_strings(host, dbname, user, PASSWORD)):
        for how in ("--db", "DATABASE_URL"):
            args, env = (["--db", url], None) if how == "--db" else ([], {"DATABASE_URL": url})
            indexed = run("index", *args, "--model", model, library, env=env, check=0)
            assert f"{good} images found" in indexed.stdout
            status = run("status", *args, env=env, check=0)
            assert "database:  " in status.stdout and "***" in status.stdout, status.stdout
            assert_no_password(indexed)
            assert_no_password(status)
    # Wrong passwords and broken strings fail with a message that names neither.
    for url in connection_strings(host, dbname, user, "s3cr-wrong"):
        for command in (["status"], ["search", "--model", model, "x"], ["index", "--model", model, library]):
            failed = run(command[0], "--db", url, *command[1:], check=1)
            assert "password authentication failed" in failed.stderr, failed.stderr
            assert_no_password(failed, "s3cr-wrong")
    broken = run("status", "--db", f"postgresql://{user}:s3cr%zz@/x?host=/nonexistent&bogus=1", check=1)
    assert "cannot connect to PostgreSQL" in broken.stderr
    assert_no_password(broken)


def test_changing_the_model_reembeds_every_row(db, model, workspace):
    """`index --model NEW --reembed`: every row re-embedded in batches,
    resumable after an interruption, the old model's embeddings searchable
    until the switch commits, then the column's dimension changed (24 -> 12)
    and the index rebuilt; `status` says which model the rows come from."""
    library = make_library(workspace, clipart=200, photos=0, broken=False)
    total = good_image_count(library)
    run("index", "--db", db, "--model", model, library, check=0)
    other = test_index_search.model_directory("model_b", tempfile.mkdtemp(dir=workspace))
    refused = run("index", "--db", db, "--model", other, library, check=1)
    assert "holds embeddings of model model_a" in refused.stderr and "--reembed" in refused.stderr, refused.stderr

    process = subprocess.Popen([test_index_search.BINARY, "index", "--db", db, "--model", other, "--reembed",
                                "--batch-size", "4"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None:
        if query(db, "SELECT count(next_embedding) FROM imgsearch.images")[0][0] >= 8:
            break
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    done = query(db, "SELECT count(next_embedding) FROM imgsearch.images")[0][0]
    assert 8 <= done < total, "the re-embed ended before it could be interrupted"

    # Until the switch: the old model's rows answer, the new model is refused.
    assert len(run("search", "--db", db, "--model", model, "x", "--json", "--limit", "1000", check=0).stdout.splitlines()) == total
    pending = run("search", "--db", db, "--model", other, "x", check=1)
    assert "re-embedding to model model_b" in pending.stderr and f"{done} of {total}" in pending.stderr, pending.stderr
    status = run("status", "--db", db, check=0).stdout
    assert f"model:     model_a, 24-d" in status and f"all {total} rows" in status, status
    assert f"re-embed:  to model_b, 12-d" in status and f"{done} of {total} rows done" in status, status
    # Indexing with the old model goes on meanwhile; the new file is re-embedded too.
    test_daily_new = os.path.join(library, "new.png")
    noise(3).save(test_daily_new)
    run("index", "--db", db, "--model", model, library, check=0)

    resumed = run("index", "--db", db, "--model", other, "--reembed", "--batch-size", "4", check=0)
    assert f"{total + 1 - done} re-embedded" in resumed.stdout and "now model model_b (12-d)" in resumed.stdout, resumed.stdout
    assert query(db, "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
                     "WHERE attrelid = 'imgsearch.images'::regclass AND attname = 'embedding'") == [("vector(12)",)]
    status = run("status", "--db", db, "--model", other, "--check", check=0).stdout
    assert "model:     model_b, 12-d" in status and "(matches" in status and "integrity: ok" in status, status
    assert "re-embed:" not in status
    hits = [json.loads(line) for line in run("search", "--db", db, "--model", other, "x", "--json", "--limit", "1000",
                                             check=0).stdout.splitlines()]
    assert len(hits) == total + 1
    first = json.loads(run("similar", "--db", db, "--model", other, test_daily_new, "--json", check=0).stdout.splitlines()[0])
    assert first["path"] == test_daily_new and abs(first["distance"]) < 1e-5
    assert "holds embeddings of model model_b" in run("search", "--db", db, "--model", model, "x", check=1).stderr
    again = run("index", "--db", db, "--model", other, library, check=0)
    assert f"{total + 1} images found: 0 embedded, {total + 1} unchanged" in again.stdout


def test_a_reembed_waits_for_missing_files_or_drops_them(db, model, workspace):
    library = make_library(workspace, clipart=4, photos=0, broken=False)
    total = good_image_count(library)
    run("index", "--db", db, "--model", model, library, check=0)
    gone = os.path.join(library, "clipart", sorted(f for f in os.listdir(os.path.join(library, "clipart")) if f.endswith(".png"))[-1])
    os.remove(gone)
    other = test_index_search.model_directory("model_b", tempfile.mkdtemp(dir=workspace))
    blocked = run("index", "--db", db, "--model", other, "--reembed", check=1)
    assert f"{total - 1} re-embedded with model model_b, 1 failed" in blocked.stdout, blocked.stdout
    assert f"  {gone}: cannot read file: No such file or directory" in blocked.stderr
    assert "not switched" in blocked.stderr and "--prune" in blocked.stderr
    assert len(run("search", "--db", db, "--model", model, "x", "--json", "--limit", "100", check=0).stdout.splitlines()) == total
    # --prune drops the row at the switch; folders given are then indexed with the new model.
    extra = make_library(workspace, clipart=2, photos=0, broken=False)
    switched = run("index", "--db", db, "--model", other, "--reembed", "--prune", extra, check=0)
    assert "0 re-embedded with model model_b, 1 failed, 1 dropped" in switched.stdout, switched.stdout
    assert f"{good_image_count(extra)} embedded" in switched.stdout
    assert query(db, "SELECT count(*) FROM imgsearch.images")[0][0] == total - 1 + good_image_count(extra)
    assert "model:     model_b, 12-d" in run("status", "--db", db, check=0).stdout


def test_concurrent_reembeds_and_an_index_run(db, model, workspace):
    """Two re-embeds to the same model and an index run with the old one,
    started together: the library ends on the new model with every row, once."""
    library = make_library(workspace, clipart=40, photos=0, broken=False)
    total = good_image_count(library)
    run("index", "--db", db, "--model", model, library, check=0)
    other = test_index_search.model_directory("model_b", tempfile.mkdtemp(dir=workspace))
    extra = make_library(workspace, clipart=3, photos=0, broken=False)
    results = run_together(("index", "--db", db, "--model", other, "--reembed", "--batch-size", "4"),
                           ("index", "--db", db, "--model", other, "--reembed", "--batch-size", "4"),
                           ("index", "--db", db, "--model", model, extra))
    for r in results[:2]:
        assert r.returncode == 0, r.stderr
    # The old-model run either finished before the switch or was refused after it.
    assert results[2].returncode == 0 or "holds embeddings of model model_b" in results[2].stderr, results[2].stderr
    run("index", "--db", db, "--model", other, extra, check=0)
    expected = total + good_image_count(extra)
    assert query(db, "SELECT count(*), count(DISTINCT path_bytes) FROM imgsearch.images")[0] == (expected, expected)
    status = run("status", "--db", db, "--check", check=0).stdout
    assert "model:     model_b, 12-d" in status and "integrity: ok" in status and "re-embed:" not in status, status
    assert len(run("search", "--db", db, "--model", other, "x", "--json", "--limit", "1000", check=0).stdout.splitlines()) == expected
