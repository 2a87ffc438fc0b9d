"""Writes bench/results/clip.md from the `json {...}` lines of one bench/clip/run.sh run.
Usage: report.py OUTPUT_DIR RESULTS_MD COMMAND"""
import datetime
import json
import os
import platform
import subprocess
import sys

out_dir, results_path, command = sys.argv[1:4]


def load(name):
    rows = []
    with open(os.path.join(out_dir, name)) as f:
        for line in f:
            if line.startswith("json "):
                rows.append(json.loads(line[5:]))
    return rows


runs = {"auto": load("swift-auto.txt"), "haswell": load("swift-haswell.txt"), "torch": load("torch.txt")}


def setup(run):
    return next(r for r in runs[run] if r["kind"] == "setup")


def rate(run, kind, threads, batch):
    return next((r["per_s"] for r in runs[run] if r["kind"] == kind and r["threads"] == threads and r["batch"] == batch), None)


def sgemm(run, threads):
    return next(r for r in runs[run] if r["kind"] == "sgemm" and r["threads"] == threads)


def cpu_model():
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


auto_kernels, haswell_kernels = setup("auto")["kernels"], setup("haswell")["kernels"]
torch_setup = setup("torch")
gflop = setup("auto")["gflop_per_image"]
threads_list = sorted({r["threads"] for r in runs["auto"] if "threads" in r})
git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
load_avg = os.getloadavg()[0]

lines = [
    "# CLIP throughput: Swift `CLIP` vs transformers + PyTorch",
    "",
    f"Run {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC with `{command}` (git {git}); "
    "the three runs one after the other on the same machine.",
    "",
    f"- Machine: {cpu_model()}, {os.cpu_count()} cores; load average {load_avg:.2f} at the end of the run.",
    f"- Model: random weights of the exact `openai/clip-vit-base-patch32` shape "
    f"(`scripts/clip-fixtures.sh --full-size`), f32; the vision tower's matrix products are {gflop:.2f} GFLOP per image.",
    "- Inputs: 64 captions of about 15 tokens; 32 random 320x240 RGB images (64 per timed image pass). "
    "Times include tokenisation and image preprocessing in both tools (no file decoding).",
    f"- Swift: `swift build -c release`, OpenBLAS kernels `{auto_kernels}` (OpenBLAS's own choice for this CPU, "
    f"`OPENBLAS_CORETYPE` unset) and `{haswell_kernels}` (`OPENBLAS_CORETYPE=Haswell`, as this workplace's "
    "environment sets it: AVX2 only).",
    f"- PyTorch {torch_setup['torch']} (CPU capability `{torch_setup['capability']}`, MKL "
    f"{'on' if torch_setup['mkl'] else 'off'}), transformers' slow tokenizer and image processor; "
    "`OPENBLAS_CORETYPE` does not affect it.",
    "",
    "## Items per second",
    "",
    f"| threads | input | batch | Swift ({auto_kernels}) | Swift ({haswell_kernels}) | PyTorch | "
    f"ratio ({auto_kernels}) | ratio ({haswell_kernels}) |",
    "|--:|---|--:|--:|--:|--:|--:|--:|",
]
for threads in threads_list:
    for kind, batches in (("text", (1, 16, 64)), ("image", (1, 8, 32))):
        for batch in batches:
            a, h, t = (rate(run, kind, threads, batch) for run in ("auto", "haswell", "torch"))
            lines.append(f"| {threads} | {kind} | {batch} | {a:.1f} | {h:.1f} | {t:.1f} | {a / t:.2f}x | {h / t:.2f}x |")
lines += [
    "",
    "## Share of what sgemm alone sustains (images, batch 32)",
    "",
    "sgemm alone: the best of 5 calls of a 2048x2048x2048 product, and of the tower's largest product at "
    "batch 32 (the MLP up-projection), with the same kernels and thread count. Share = images/s x GFLOP "
    "per image / sgemm 2048^3 GFLOP/s.",
    "",
    "| threads | kernels | images/s | GFLOP/s in the tower | sgemm 2048^3 GFLOP/s | sgemm MLP shape GFLOP/s | share |",
    "|--:|---|--:|--:|--:|--:|--:|",
]
for threads in threads_list:
    for run, kernels in (("auto", auto_kernels), ("haswell", haswell_kernels)):
        images = rate(run, "image", threads, 32)
        s = sgemm(run, threads)
        lines.append(f"| {threads} | {kernels} | {images:.1f} | {images * gflop:.0f} | {s['square_gflops']:.0f} | "
                     f"{s['mlp_gflops']:.0f} | {images * gflop / s['square_gflops']:.0%} |")
lines += [
    "",
    f"Model load (memory-mapped f32 safetensors): {setup('auto')['load_s']:.2f} s.",
    "",
    "Accuracy on the same model: `CLIP_FULL_MODEL_DIR=.data/clip-b32 swift test --filter FullSizeTests` "
    "compares raw embeddings with `get_text_features` / `get_image_features`.",
    "",
]
with open(results_path, "w") as f:
    f.write("\n".join(lines))
print(f"wrote {results_path}")
