"""imgsearch as a daily tool (issue 20): overlapping folders, a batch the
server rejects, concurrent runs, file names that are not UTF-8, symbolic
links, connection strings with passwords, and a change of model.

Shares the fixtures and helpers of test_index_search.py."""
import json
import os
import pwd
import shutil
import subprocess
import tempfile

import psycopg

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


def test_concurrent_first_runs_on_one_database(db, model, workspace):
    """Runs that start together on an empty database: one creates the
    extension and the schema, none fails on the catalog, every file is stored
    once."""
    libraries = [make_library(workspace, clipart=6, photos=1, broken=False) for _ in range(2)]
    results = run_together(*[("index", "--db", db, "--model", model, library) for library in libraries + libraries[:1]])
    assert_all_succeeded(results)
    good = sum(good_image_count(library) for library in libraries)
    assert query(db, "SELECT count(*), count(DISTINCT path) FROM imgsearch.images")[0] == (good, good)
    searches = run_together(*[("search", "--db", db, "--model", model, "x", "--json", "--limit", "100")] * 3,
                            ("index", "--db", db, "--model", model, libraries[1]))
    assert_all_succeeded(searches)
    assert all(len(r.stdout.splitlines()) == good for r in searches[:3])
