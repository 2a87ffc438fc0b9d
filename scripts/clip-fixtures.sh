#!/usr/bin/env bash
# Regenerates the CLIP test fixtures (Tests/CLIPTests/Fixtures) with Hugging Face
# transformers. Needs only PyPI (torch's CPU wheel comes from pip's local find-links).
#
# transformers is pinned to the last 4.x line because 5.x dropped the slow (pure
# Python) CLIPTokenizer and CLIPImageProcessor that the Swift code is checked against.
# open-clip-torch is installed without dependencies: it is only needed for the
# bpe_simple_vocab_16e6.txt.gz file it ships (its deps would pull a CUDA torch and ftfy).
#
# With --text it instead regenerates the tokenizer fixtures of the current libraries
# (tokenizer.json, tokenizer_hub_parts.json, tokenizer_fast_cases.json.gz,
# tokenizer_openai_cases.json.gz) in a second venv; generate_text.py checks the pins.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
if [ "${1:-}" = "--text" ]; then
    venv="$here/.venv-clip-text"
    if [ ! -x "$venv/bin/python" ]; then
        python3 -m venv "$venv"
        "$venv/bin/pip" install -q torch==2.13.0+cpu
        "$venv/bin/pip" install -q "transformers==5.25.0" "tokenizers==0.23.3" "ftfy==6.3.1" regex
        "$venv/bin/pip" install -q --no-deps "open-clip-torch==3.3.0"
    fi
    exec "$venv/bin/python" "$here/Tests/CLIPTests/Fixtures/generate_text.py"
fi
venv="$here/.venv-clip"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q torch==2.13.0+cpu
    "$venv/bin/pip" install -q "transformers==4.57.6" safetensors pillow numpy
    "$venv/bin/pip" install -q --no-deps open-clip-torch
fi
"$venv/bin/python" "$here/Tests/CLIPTests/Fixtures/generate.py" "$@"
