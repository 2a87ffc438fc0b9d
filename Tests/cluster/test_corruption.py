"""A damaged index file must never crash the server (issue 12, part 3).

Small indexes are built, the server is stopped, and copies of the index
files are damaged byte by byte: the metapage, elements, layer-0 lists kept
apart, vector parts, upper tuples, a page's special area. After a restart
every statement that reads the index (an index scan, INSERT, VACUUM,
vectors_index_check) must fail with SQLSTATE XX002 (index_corrupted) and a
message naming the index, and no backend may crash (the postmaster's start
time stays the same). Faults vectors_index_check exists to count (a link to
a removed element, an unreachable element, a missing list kept apart, a
missing part) are reported in its result instead.

Each damaged index has a table of its own, so an INSERT's error comes from
that index; the tables are small and the searches wide (ef_search and
ef_construction above the row count), so every statement reaches every
node and the damage is unavoidable."""
import os
import shutil
import struct
import tempfile
import time

import numpy as np
import psycopg
import pytest

from conftest import ROOT, Cluster, glove, literal, load

BLCKSZ = 8192
M = 16
ROWS = 300
PARTS_ROWS = 60
TAG_ELEMENT, TAG_UPPER, TAG_PART, TAG_LINKS = 0x45, 0x55, 0x50, 0x4C
LP_UNUSED, LP_NORMAL = 0, 1


# ---- the index's page layout (CShims/hnsw.h), read and written in place ----

def u16(buf, at):
    return struct.unpack_from("<H", buf, at)[0]


def u32(buf, at):
    return struct.unpack_from("<I", buf, at)[0]


def put16(buf, at, value):
    struct.pack_into("<H", buf, at, value)


def put32(buf, at, value):
    struct.pack_into("<I", buf, at, value)


def tid(buf, at):
    hi, lo, offset = struct.unpack_from("<HHH", buf, at)
    return (hi << 16 | lo, offset)


def slot(buf, at):
    """A neighbour slot's target: a TID whose offset's top bit marks a
    pinned link (CShims/hnsw.h, HNSW_SLOT_PINNED), which is no part of it."""
    block, offset = tid(buf, at)
    return (block, offset & 0x7FFF)


def put_tid(buf, at, block, offset):
    struct.pack_into("<HHH", buf, at, block >> 16, block & 0xFFFF, offset)


def maxalign(n):
    return (n + 7) & ~7


META = 24  # PageGetContents: the metapage's fields start here
META_DIMS, META_M, META_METRIC, META_ENTRY_LEVEL = META + 8, META + 12, META + 16, META + 17
META_PARTS, META_ENTRY_BLOCK, META_ENTRY_OFFSET = META + 18, META + 20, META + 24
META_LAST_BLOCK, META_ELEMENT_SIZE = META + 28, META + 32


class IndexFile:
    """An index file's bytes; `items` yields the used line pointers."""

    def __init__(self, path):
        self.path = path
        with open(path, "rb") as f:
            self.buf = bytearray(f.read())
        self.dims = u32(self.buf, META_DIMS)
        self.parts = u16(self.buf, META_PARTS)
        self.entry = (u32(self.buf, META_ENTRY_BLOCK), u16(self.buf, META_ENTRY_OFFSET))

    def save(self):
        with open(self.path, "r+b") as f:
            f.write(self.buf)

    @property
    def blocks(self):
        return len(self.buf) // BLCKSZ

    def line_pointers(self, block):
        base = block * BLCKSZ
        pd_lower = u16(self.buf, base + 12)
        if u16(self.buf, base + 14) == 0:  # pd_upper 0: a new page
            return
        for i in range((pd_lower - 24) // 4):
            at = base + 24 + 4 * i
            raw = u32(self.buf, at)
            yield i + 1, at, raw & 0x7FFF, (raw >> 15) & 3, raw >> 17

    def items(self, tag=None, block=None):
        """(block, offset, tuple address, line pointer address) of used slots."""
        for b in ([block] if block is not None else range(1, self.blocks)):
            for offset, lp, off, flags, length in self.line_pointers(b):
                at = b * BLCKSZ + off
                if flags == LP_NORMAL and (tag is None or self.buf[at] == tag):
                    yield b, offset, at, lp

    def set_lp(self, lp, off=None, flags=None, length=None):
        raw = u32(self.buf, lp)
        old = (raw & 0x7FFF, (raw >> 15) & 3, raw >> 17)
        off, flags, length = (old[0] if off is None else off, old[1] if flags is None else flags,
                              old[2] if length is None else length)
        put32(self.buf, lp, off | flags << 15 | length << 17)

    def remove(self, lp):
        """What VACUUM leaves of a freed tuple: an unused line pointer."""
        put32(self.buf, lp, 0)

    # Every neighbour list: (address of its uint16 count, address of its slots).
    def lists(self):
        for block, offset, at, lp in self.items():
            tag = self.buf[at]
            if tag == TAG_ELEMENT and not self.buf[at + 2] & 0x02:  # not LINKS_APART
                yield at + 4, at + 24 + (4 * self.dims if self.parts == 0 else 0)
            elif tag == TAG_LINKS:
                yield at + 2, at + 16
            elif tag == TAG_UPPER:
                levels = self.buf[at + 1]
                for level in range(levels):
                    yield at + 2 + 2 * level, at + maxalign(2 + 2 * levels) + 6 * M * level

    def unlink(self, node):
        """Removes `node` from every list that names it."""
        removed = 0
        for count_at, slots in self.lists():
            listed = [slot(self.buf, slots + 6 * i) for i in range(u16(self.buf, count_at))]
            if node in listed:
                kept = [t for t in listed if t != node]
                for i, t in enumerate(kept):
                    put_tid(self.buf, slots + 6 * i, *t)
                put16(self.buf, count_at, len(kept))
                removed += 1
        return removed

    def level0_nodes(self):
        """Elements of level 0 other than the entry point, with an incoming link."""
        linked = set()
        for count_at, slots in self.lists():
            linked.update(slot(self.buf, slots + 6 * i) for i in range(u16(self.buf, count_at)))
        return [(b, o) for b, o, at, lp in self.items(TAG_ELEMENT)
                if self.buf[at + 1] == 0 and (b, o) != self.entry and (b, o) in linked]


# ---- the damage done to each index ----

def xor_metapage(f):
    for i in range(32, 88):  # as in the report: the fields after magic and version
        f.buf[i] ^= 0xA5


def every_element_on_entry_page(change):
    def damage(f):
        done = 0
        for block, offset, at, lp in f.items(TAG_ELEMENT, block=f.entry[0]):
            change(f, at, lp)
            done += 1
        assert done > 0
    return damage


def every_tuple(tag, change):
    def damage(f):
        done = 0
        for block, offset, at, lp in list(f.items(tag)):
            change(f, at, lp)
            done += 1
        assert done > 0, f"no tuple with tag {tag:#x} to damage"
    return damage


def every_page_id(f):
    for block in range(1, f.blocks):
        special = block * BLCKSZ + u16(f.buf, block * BLCKSZ + 16)  # pd_special
        assert u16(f.buf, special + 2) == 0xFF91  # HnswPageOpaqueData.page_id
        f.buf[special + 3] ^= 0x5A


def link_beyond_end(f, at, lp):
    assert u16(f.buf, at + 4) > 0
    put_tid(f.buf, at + 24 + 4 * f.dims, f.blocks + 1000, 1)


def shorter(f, at, lp):
    f.set_lp(lp, length=(u32(f.buf, lp) >> 17) - 8)


# name: (dimensions, damage)
ERRORS = {
    "meta_xor": (50, xor_metapage),
    "meta_dims": (50, lambda f: put32(f.buf, META_DIMS, 51)),
    "meta_m": (50, lambda f: put16(f.buf, META_M, 1)),
    "meta_metric": (50, lambda f: f.buf.__setitem__(META_METRIC, 7)),
    "meta_entry_level": (50, lambda f: f.buf.__setitem__(META_ENTRY_LEVEL, 40)),
    "meta_parts": (50, lambda f: put16(f.buf, META_PARTS, 3)),
    "meta_entry_block": (50, lambda f: put32(f.buf, META_ENTRY_BLOCK, 1 << 20)),
    "meta_entry_offset": (50, lambda f: put16(f.buf, META_ENTRY_OFFSET, 0)),
    "meta_last_block": (50, lambda f: put32(f.buf, META_LAST_BLOCK, f.blocks + 5)),
    "meta_element_size": (50, lambda f: put32(f.buf, META_ELEMENT_SIZE, u32(f.buf, META_ELEMENT_SIZE) + 8)),
    "element_count0": (50, every_element_on_entry_page(lambda f, at, lp: put16(f.buf, at + 4, 2 * M + 1))),
    "element_level": (50, every_element_on_entry_page(lambda f, at, lp: f.buf.__setitem__(at + 1, 99))),
    "element_tag": (50, every_element_on_entry_page(lambda f, at, lp: f.buf.__setitem__(at, 0x7A))),
    "element_length": (50, every_element_on_entry_page(shorter)),
    "element_offset": (50, every_element_on_entry_page(lambda f, at, lp: f.set_lp(lp, off=BLCKSZ - 16))),
    "element_link": (50, every_element_on_entry_page(link_beyond_end)),
    "upper_count": (50, every_tuple(TAG_UPPER, lambda f, at, lp: put16(f.buf, at + 2, M + 1))),
    "upper_levels": (50, every_tuple(TAG_UPPER, lambda f, at, lp: f.buf.__setitem__(at + 1, f.buf[at + 1] + 1))),
    "links_count": (200, every_tuple(TAG_LINKS, lambda f, at, lp: put16(f.buf, at + 2, 2 * M + 1))),
    "links_length": (200, every_tuple(TAG_LINKS, shorter)),
    "part_index": (4000, every_tuple(TAG_PART, lambda f, at, lp: put16(f.buf, at + 2, 7))),
    "part_length": (4000, every_tuple(TAG_PART, shorter)),
    "special": (50, every_page_id),
}


def remove_element(f):
    node = f.level0_nodes()[0]
    f.remove(next(lp for b, o, at, lp in f.items(TAG_ELEMENT) if (b, o) == node))


def unreachable_element(f):
    assert f.unlink(f.level0_nodes()[0]) > 0


def remove_first(tag):
    def damage(f):
        f.remove(next(lp for b, o, at, lp in f.items(tag)))
    return damage


def remove_list(f):
    """Removes the list kept apart of a node on layer 0 only (one on the
    upper layers could be where every search enters layer 0)."""
    nodes = set(f.level0_nodes())
    f.remove(next(lp for b, o, at, lp in f.items(TAG_LINKS) if tid(f.buf, at + 4) in nodes))


# name: (dimensions, damage, the vectors_index_check column that must count it)
COUNTED = {
    "count_removed_element": (50, remove_element, "bad_links"),
    "count_unreachable": (50, unreachable_element, "unreachable"),
    "count_missing_list": (200, remove_list, "bad_links"),
    "count_missing_part": (4000, remove_first(TAG_PART), "bad_links"),
}


def vectors_for(dims):
    if dims == 4000:
        return np.random.default_rng(12).standard_normal((PARTS_ROWS, dims)).astype(np.float32)
    return glove(ROWS, tile=dims // 50)


def connect(cluster):
    """A connection, waiting out a restart after a crashed backend."""
    deadline = time.time() + 60
    while True:
        try:
            conn = cluster.connect()
            conn.execute("SET enable_seqscan = off; SET vectors.hnsw_ef_search = 1000")
            return conn
        except psycopg.OperationalError:
            if time.time() > deadline:
                raise
            time.sleep(0.5)


@pytest.fixture(scope="module")
def damaged():
    """A server with one table and index per kind of damage, damaged while
    the server was down. Yields (cluster, postmaster start time)."""
    directory = tempfile.mkdtemp(prefix="vectors-corrupt-")
    os.chmod(directory, 0o755)
    cluster = Cluster(directory).init(autovacuum="off").start()
    try:
        conn = cluster.connect()
        conn.execute("CREATE EXTENSION vectors")
        paths = {}
        for name, (dims, *_) in {**ERRORS, **COUNTED}.items():
            conn.execute(f"CREATE TABLE t_{name} (id integer PRIMARY KEY, embedding vector({dims}))")
            load(conn, f"t_{name}", vectors_for(dims))
            conn.execute(f"CREATE INDEX i_{name} ON t_{name} USING vectors (embedding vector_l2_ops) "
                         f"WITH (m = {M}, ef_construction = 1000)")
            paths[name] = conn.execute("SELECT pg_relation_filepath(%s)", (f"i_{name}",)).fetchone()[0]
        conn.execute("CHECKPOINT")
        conn.close()
        cluster.stop()
        for name, (dims, damage, *_) in {**ERRORS, **COUNTED}.items():
            f = IndexFile(os.path.join(cluster.data, paths[name]))
            damage(f)
            f.save()
        cluster.start()
        started = cluster.connect().execute("SELECT pg_postmaster_start_time()").fetchone()[0]
        yield cluster, started
    finally:
        cluster.stop("immediate")
        shutil.rmtree(directory, ignore_errors=True)


def assert_corrupted(conn, name, sql, params=()):
    try:
        conn.execute(sql, params)
    except psycopg.Error as error:
        assert error.sqlstate == "XX002", f"{sql}: SQLSTATE {error.sqlstate}: {error}"
        assert f'index "i_{name}"' in str(error), f"{sql}: {error}"
        detail = error.diag.message_detail or ""
        assert detail.startswith("block "), f"{sql}: the detail names no block: {detail!r}"
        return f"{error.diag.message_primary} ({detail})"
    raise AssertionError(f"{sql}: succeeded on a damaged index")


def assert_no_crash(cluster, started):
    conn = connect(cluster)
    assert conn.execute("SELECT pg_postmaster_start_time()").fetchone()[0] == started, \
        "the postmaster restarted: a backend crashed"


@pytest.mark.parametrize("name", list(ERRORS))
def test_damage_is_reported_not_crashed_on(damaged, name):
    cluster, started = damaged
    dims = ERRORS[name][0]
    vectors = vectors_for(dims)
    query = literal(vectors[1] + 0.01)
    statements = [
        ("scan", f"SELECT id FROM t_{name} ORDER BY embedding <-> %s LIMIT 5", (query,)),
        ("insert", f"INSERT INTO t_{name} VALUES (-1, %s)", (query,)),
        ("check", f"SELECT * FROM vectors_index_check('i_{name}')", ()),
        ("vacuum", f"VACUUM t_{name}", ()),
    ]
    failures = []
    conn = connect(cluster)
    conn.execute(f"DELETE FROM t_{name} WHERE id % 7 = 0")  # something for VACUUM to remove
    for what, sql, params in statements:
        try:
            message = assert_corrupted(conn, name, sql, params)
            print(f"{name} {what}: {message.splitlines()[0]}")
        except (AssertionError, psycopg.OperationalError) as failure:
            failures.append(f"{what}: {failure}")
            conn = connect(cluster)
    assert_no_crash(cluster, started)
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("name", list(COUNTED))
def test_check_counts_graph_faults(damaged, name):
    cluster, started = damaged
    dims, _, column = COUNTED[name]
    conn = connect(cluster)
    cur = conn.execute(f"SELECT * FROM vectors_index_check('i_{name}')")
    row = dict(zip([c.name for c in cur.description], cur.fetchone()))
    print(f"{name}: {row}")
    assert row[column] > 0 and row["ok"] is False, row
    # Scans still work: a stale or missing target reads as a freed node.
    found = conn.execute(f"SELECT id FROM t_{name} ORDER BY embedding <-> %s LIMIT 5",
                         (literal(vectors_for(dims)[1]),)).fetchall()
    assert len(found) == 5
    assert_no_crash(cluster, started)
