"""imgsearch as a daily tool (issue 20): overlapping folders, a batch the
server rejects, concurrent runs, file names that are not UTF-8, symbolic
links, connection strings with passwords, and a change of model.

Shares the fixtures and helpers of test_index_search.py."""
import os
import shutil

import psycopg

from test_index_search import (  # noqa: F401  (fixtures)
    binary, db, good_image_count, make_library, model, query, run, server, workspace)


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
