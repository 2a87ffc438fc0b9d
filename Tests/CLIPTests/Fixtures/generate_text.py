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
  tokenizer_fast_cases.json.gz {"versions", "cases": [{"text", "ids", "ids_v5"?}]}: ids from
                               the hub's configuration (truncation to 77); ids_v5 only where tokenizer.json
                               gives other ids
  tokenizer_openai_cases.json.gz {"versions", "cases": [{"text", "ids", "ftfy_heuristic"?}]}: open_clip's
                               SimpleTokenizer (ftfy + html.unescape twice + whitespace clean + lower),
                               ids without start/end tokens and without truncation; "ftfy_heuristic"
                               marks the texts where ftfy.fix_text differs from `ftfy_subset` below,
                               the part of ftfy the Swift side implements
  ../../../Sources/CLIP/HTMLEntities.swift
                               data tables: Python's html.entities.html5, the upper-case entity names
                               ftfy also decodes, and ftfy's width map (NFKC of U+FF01-FFEF)

The fast tokenizer's output is decided by the tokenizers version (its Rust Unicode tables:
Oniguruma's character classes, the NFC tables, char::to_lowercase); the choice of test
strings by Python's unicodedata; the OpenAI ids by ftfy and Python's unicodedata/str.lower.
All are recorded in the files.
"""

import importlib.util
import gzip
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
    text = json.dumps(obj, ensure_ascii=True, separators=(",", ":")) + "\n"
    if path.endswith(".gz"):
        # The large case files are stored compressed (mtime 0: the same bytes on every run).
        with gzip.GzipFile(path, "wb", mtime=0) as f:
            f.write(text.encode("utf-8"))
    else:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)


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


# ---------------------------------------------------------------- the covered part of ftfy

def fix_encoding_step(text):
    """One step of ftfy's fix_encoding for the two encodings covered (Latin-1 and
    sloppy windows-1252, with replace_lossy_sequences), without ftfy's badness
    heuristic, restore_byte_a0, decode_inconsistent_utf8 and utf-8-variants."""
    import ftfy.bad_codecs  # registers the sloppy codecs
    if all(ord(c) < 0x80 for c in text):
        return text
    possible = []
    for encoding in ("latin-1", "sloppy-windows-1252"):
        try:
            b = text.encode(encoding)
        except UnicodeEncodeError:
            continue
        possible.append(encoding)
        if encoding.startswith("sloppy"):
            b = ftfy.fixes.replace_lossy_sequences(b)
        if 0xED in b or 0xC0 in b:
            continue
        try:
            return b.decode("utf-8")
        except UnicodeDecodeError:
            pass
    if possible == ["latin-1"]:
        try:
            fixed = text.encode("latin-1").decode("windows-1252")
            if fixed != text:
                return fixed
        except UnicodeDecodeError:
            pass
    return ftfy.fixes.fix_c1_controls(text)


def ftfy_subset(text):
    """What OpenAITextCleaner implements of ftfy.fix_text: per line, HTML entities
    (unless a '<' was seen), fix_encoding as above, then ftfy's own C1, ligature,
    width, quote, line-break, terminal-escape and control-character fixes and NFC,
    repeated until nothing changes."""
    f = ftfy.fixes
    out, pos, unescape = [], 0, True
    while pos < len(text):
        end = text.find("\n", pos) + 1 or len(text)
        segment = text[pos:end]
        if "<" in segment:
            unescape = False
        while True:
            before = segment
            if unescape:
                segment = f.unescape_html(segment)
            while True:
                prev = segment
                segment = fix_encoding_step(segment)
                if segment == prev:
                    break
            for fixer in (f.fix_c1_controls, f.fix_latin_ligatures, f.fix_character_width, f.uncurl_quotes,
                          f.fix_line_breaks, f.remove_terminal_escapes, f.remove_control_chars):
                segment = fixer(segment)
            segment = unicodedata.normalize("NFC", segment)
            if segment == before:
                break
        out.append(segment)
        pos = end
    return "".join(out)


def swift_string(s):
    return "".join(c if 0x20 <= ord(c) < 0x7F and c not in '"\\' else f"\\u{{{ord(c):X}}}" for c in s)


def write_entity_tables():
    import html
    import html.entities
    upper = {}
    for name, char in html.entities.html5.items():
        if name.endswith(";") and name == name.lower():
            u = "&" + name.upper()
            if html.unescape(u) == u:
                upper[name.upper()] = char.upper()
    width = {0x3000: " "}
    width.update({i: unicodedata.normalize("NFKC", chr(i)) for i in range(0xFF01, 0xFFF0) if unicodedata.normalize("NFKC", chr(i)) != chr(i)})

    def table(pairs):
        return "\n".join(f'        "{swift_string(k)}\\t{swift_string(v)}",' for k, v in pairs)

    path = os.path.join(HERE, "..", "..", "..", "Sources", "CLIP", "HTMLEntities.swift")
    with open(path, "w", encoding="utf-8") as f:
        f.write(f"""// Generated by Tests/CLIPTests/Fixtures/generate_text.py from Python {platform.python_version()}
// (Unicode {unicodedata.unidata_version}) and ftfy {ftfy.__version__}. Do not edit.

/// Data for `OpenAITextCleaner`, as "name<TAB>value" lines (parsed once).
enum HTMLEntityData {{
    /// Python's `html.entities.html5` (the WHATWG list): names with their `;`, and
    /// the legacy names that may appear without it.
    static let html5: [String] = [
{table(sorted(html.entities.html5.items()))}
    ]
    /// Upper-cased entity names ftfy also decodes (`&EACUTE;` -> `É`), without `&`.
    static let ftfyUpperCase: [String] = [
{table(sorted(upper.items()))}
    ]
    /// ftfy's width map: halfwidth and fullwidth forms -> their NFKC form (plus U+3000 -> space).
    static let width: [String] = [
{table(sorted((chr(k), v) for k, v in width.items()))}
    ]
}}
""")


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
    write_json(os.path.join(HERE, "tokenizer_fast_cases.json.gz"), {"versions": v, "cases": cases})

    oc = open_clip_tokenizer()
    # open_clip names its special tokens <start_of_text>/<end_of_text>, OpenAI's clip
    # <|startoftext|>/<|endoftext|>; texts with either spelling are left out.
    special = ("<|startoftext|>", "<|endoftext|>", "<start_of_text>", "<end_of_text>")
    openai_cases = []
    for t in texts:
        if any(s in t.lower() for s in special):
            continue
        case = {"text": t, "ids": oc.encode(t)}
        if ftfy.fix_text(t) != ftfy_subset(t):
            case["ftfy_heuristic"] = True
        openai_cases.append(case)
    write_entity_tables()
    write_json(os.path.join(HERE, "tokenizer_openai_cases.json.gz"), {"versions": v, "cases": openai_cases})
    heuristic = sum(1 for c in openai_cases if "ftfy_heuristic" in c)
    print(f"{len(cases)} fast cases ({differ} differ between tokenizer.json and the hub configuration), "
          f"{len(openai_cases)} OpenAI cases ({heuristic} where ftfy's heuristics decide); versions {v}")


if __name__ == "__main__":
    main()
