"""Generates the fast-tokenizer and OpenAI-cleaning fixtures for the Swift CLIP tests.

Run through `scripts/clip-fixtures.sh --text` (it makes the venv .venv-clip-text with the
pinned versions below). Needs vocab.json / merges.txt (written by generate.py) next to it.

Outputs (all in this directory):
  tokenizer.json               transformers' CLIPTokenizer (tokenizers backend) built from
                               vocab.json + merges.txt and saved with save_pretrained
  tokenizer_hub_parts.json     added_tokens, normalizer, pre_tokenizer, post_processor as the hub
                               checkpoint's tokenizer.json has them (same vocabulary and merges) (made by transformers
                               4.x's CLIPConverter: the split regex has no special-token branches and
                               the added tokens are "normalized": true)
  tokenizer_fast_cases.json    {"versions", "cases": [{"text", "ids", "ids_v5"?}]}: ids from
                               the hub's configuration (truncation to 77); ids_v5 only where tokenizer.json
                               gives other ids
  tokenizer_openai_cases.json  {"versions", "cases": [{"text", "ids"}]}: open_clip's SimpleTokenizer
                               (ftfy + html.unescape twice + whitespace clean + lower), ids without
                               start/end tokens and without truncation

The fast tokenizer's output is decided by the tokenizers version (its Rust Unicode tables:
Oniguruma's character classes, the NFC tables, char::to_lowercase); the choice of test
strings by Python's unicodedata; the OpenAI ids by ftfy and Python's unicodedata/str.lower.
All are recorded in the files.
"""

import importlib.util
import json
import os
import platform
import sys
import tempfile
import unicodedata

import ftfy
import regex
import tokenizers
import transformers
from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
from tokenizers.models import BPE
from transformers import CLIPTokenizerFast

from text_cases import tokenizer_strings, unicode_strings

HERE = os.path.dirname(os.path.abspath(__file__))
PINNED = {"python": "3.11.7", "transformers": "5.25.0", "tokenizers": "0.23.3", "ftfy": "6.3.1", "open_clip_torch": "3.3.0"}


def write_json(path, obj):
    # ASCII escapes: Foundation's JSON reader drops a U+FEFF at the start of a string.
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=True, separators=(",", ":"))
        f.write("\n")


def versions():
    from importlib.metadata import version
    found = {
        "python": platform.python_version(),
        "unicodedata": unicodedata.unidata_version,
        "transformers": transformers.__version__,
        "tokenizers": tokenizers.__version__,
        "ftfy": version("ftfy"),
        "regex": version("regex"),
        "open_clip_torch": version("open_clip_torch"),
    }
    for k, v in PINNED.items():
        assert found[k] == v, f"{k} {found[k]} is not the pinned {v}"
    return found


def load_vocab():
    vocab = json.load(open(os.path.join(HERE, "vocab.json"), encoding="utf-8"))
    lines = open(os.path.join(HERE, "merges.txt"), encoding="utf-8").read().strip().split("\n")[1:]
    return vocab, [tuple(l.split()) for l in lines[: 49152 - 256 - 2]]


def fast_tokenizer(vocab, merges):
    tok = CLIPTokenizerFast(vocab=vocab, merges=merges)
    with tempfile.TemporaryDirectory() as d:
        tok.save_pretrained(d)
        saved = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
    # Written without indentation (save_pretrained indents: 3.6 MB instead of 2.2 MB).
    saved.save(os.path.join(HERE, "tokenizer.json"), pretty=False)
    return saved


def hub_tokenizer(vocab, merges):
    """What transformers 4.x's CLIPConverter writes (the hub's tokenizer.json was made
    by it), rebuilt with the tokenizers API."""
    tok = Tokenizer(BPE(vocab=vocab, merges=merges, dropout=None, continuing_subword_prefix="",
                        end_of_word_suffix="</w>", fuse_unk=False, unk_token="<|endoftext|>"))
    tok.normalizer = normalizers.Sequence([normalizers.NFC(), normalizers.Replace(Regex(r"\s+"), " "), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(r"""'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""), behavior="removed", invert=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False),
    ])
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken("<|startoftext|>", normalized=True), AddedToken("<|endoftext|>", normalized=True)])
    tok.post_processor = processors.RobertaProcessing(("<|endoftext|>", 49407), ("<|startoftext|>", 49406), False, False)
    # Only the parts that differ from tokenizer.json are stored (the vocabulary is the same).
    parts = json.loads(tok.to_str())
    write_json(os.path.join(HERE, "tokenizer_hub_parts.json"),
               {k: parts[k] for k in ("added_tokens", "normalizer", "pre_tokenizer", "post_processor")})
    tok.enable_truncation(77)
    return tok


def open_clip_tokenizer():
    # open_clip's package __init__ needs torchvision; its tokenizer module does not.
    spec = importlib.util.find_spec("open_clip")
    path = os.path.join(spec.submodule_search_locations[0], "tokenizer.py")
    module_spec = importlib.util.spec_from_file_location("open_clip_tokenizer", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module.SimpleTokenizer()


def main():
    v = versions()
    vocab, merges = load_vocab()
    texts = tokenizer_strings() + unicode_strings()
    fast = fast_tokenizer(vocab, merges)
    fast.enable_truncation(77)
    hub = hub_tokenizer(vocab, merges)
    cases = []
    differ = 0
    for text in texts:
        ids = hub.encode(text).ids
        case = {"text": text, "ids": ids}
        ids_v5 = fast.encode(text).ids
        if ids_v5 != ids:
            case["ids_v5"] = ids_v5
            differ += 1
        cases.append(case)
    write_json(os.path.join(HERE, "tokenizer_fast_cases.json"), {"versions": v, "cases": cases})

    oc = open_clip_tokenizer()
    # open_clip names its special tokens <start_of_text>/<end_of_text>, OpenAI's clip
    # <|startoftext|>/<|endoftext|>; texts with either spelling are left out.
    special = ("<|startoftext|>", "<|endoftext|>", "<start_of_text>", "<end_of_text>")
    openai_cases = [{"text": t, "ids": oc.encode(t)} for t in texts if not any(s in t.lower() for s in special)]
    write_json(os.path.join(HERE, "tokenizer_openai_cases.json"), {"versions": v, "cases": openai_cases})
    print(f"{len(cases)} fast cases ({differ} differ between tokenizer.json and the hub configuration), "
          f"{len(openai_cases)} OpenAI cases; versions {v}")


if __name__ == "__main__":
    main()
