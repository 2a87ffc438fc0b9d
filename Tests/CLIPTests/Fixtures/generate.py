"""Generates the reference fixtures for the Swift CLIP tests.

Run through scripts/clip-fixtures.sh (it makes the venv). With `--full-size DIR` it
instead writes a random-weight model of the real ViT-B/32 shape to DIR (not committed;
used by the optional full-size test and bench/clip). Everything is seeded,
so a rerun with the same package versions gives the same files.

Outputs (all in this directory):
  vocab.json, merges.txt          HF tokenizer files (written by the slow CLIPTokenizer,
                                  which is built from open-clip's bpe_simple_vocab_16e6.txt.gz)
  bpe_simple_vocab_16e6.txt.gz    OpenAI's vocabulary file, copied from open-clip-torch
  tokenizer_cases.json            [{"text", "ids"}] from the slow CLIPTokenizer, truncation=True, max_length=77
  model_a/, model_b/              random-weight CLIPModels, HF layout (config.json, model.safetensors,
                                  preprocessor_config.json); model_a in f32, model_b in f16
  <model>/reference.json          raw get_text_features / get_image_features outputs and the
                                  preprocessing reference (pixel tensors in <model>/pixels_<n>.f32)
  images/<name>.rgb               test images as raw RGB8 (sizes in images/images.json); they are drawn
                                  here with PIL (gradients, shapes, noise) because no small photo ships
                                  in a Debian package this machine kind has installed
  dtypes.safetensors              one small tensor stored as F32, F16 and BF16 (dtype decoding test)
"""

import gzip
import json
import os
import random
import shutil
import struct
import sys

# The slow CLIPTokenizer switches to ftfy when it can import it. The Swift tokenizer
# implements the ftfy-less path (transformers' BasicTokenizer), so make sure that is
# what the reference uses even if ftfy happens to be installed.
sys.modules["ftfy"] = None

import numpy as np
import torch
from PIL import Image, ImageDraw
from safetensors.torch import save_file
from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPTokenizer

from text_cases import tokenizer_strings

HERE = os.path.dirname(os.path.abspath(__file__))
OPENAI_MEAN = [0.48145466, 0.4578275, 0.40821073]
OPENAI_STD = [0.26862954, 0.26130258, 0.27577711]


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")


# ---------------------------------------------------------------- tokenizer files

def make_tokenizer():
    import importlib.util

    # Find the file without importing open_clip (installed without its dependencies).
    spec = importlib.util.find_spec("open_clip")
    gz = os.path.join(os.path.dirname(spec.origin), "bpe_simple_vocab_16e6.txt.gz")
    shutil.copyfile(gz, os.path.join(HERE, "bpe_simple_vocab_16e6.txt.gz"))
    merges = gzip.open(gz).read().decode("utf-8").split("\n")
    merges = merges[1 : 49152 - 256 - 2 + 1]
    merges = [tuple(m.split()) for m in merges]
    # The vocabulary, in OpenAI's order (SimpleTokenizer): byte stand-ins, the same
    # with </w>, one entry per merge, then the two special tokens.
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    units = [chr(c) for c in cs]
    vocab = units + [u + "</w>" for u in units] + ["".join(m) for m in merges] + ["<|startoftext|>", "<|endoftext|>"]
    write_json(os.path.join(HERE, "vocab.json"), {t: i for i, t in enumerate(vocab)})
    with open(os.path.join(HERE, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        for a, b in merges:
            f.write(f"{a} {b}\n")
    tok = CLIPTokenizer(os.path.join(HERE, "vocab.json"), os.path.join(HERE, "merges.txt"))
    assert tok.fix_text is None, "reference must use the ftfy-less path"
    return tok


def make_tokenizer_cases(tok):
    cases = []
    for text in tokenizer_strings():
        ids = tok(text, truncation=True, max_length=77)["input_ids"]
        cases.append({"text": text, "ids": ids})
    write_json(os.path.join(HERE, "tokenizer_cases.json"), cases)
    padded = tok(["a photo of a cat", ""], padding="max_length", max_length=77)["input_ids"]
    return cases, padded


# ---------------------------------------------------------------- images

def make_images():
    """Small deterministic RGB test images of several aspect ratios (portrait, landscape,
    smaller and larger than the models' input sizes)."""
    rng = np.random.default_rng(7)
    sizes = {"landscape": (97, 61), "portrait": (40, 71), "tiny": (13, 9), "square": (64, 64), "wide": (150, 30)}
    images = {}
    for name, (w, h) in sizes.items():
        y, x = np.mgrid[0:h, 0:w]
        base = np.stack([255 * x / max(w - 1, 1), 255 * y / max(h - 1, 1), 128 + 100 * np.sin(x / 5.0 + y / 7.0)], -1)
        img = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), "RGB")
        d = ImageDraw.Draw(img)
        for _ in range(6):
            x0, y0 = int(rng.integers(0, w)), int(rng.integers(0, h))
            x1, y1 = x0 + int(rng.integers(1, w)), y0 + int(rng.integers(1, h))
            color = tuple(int(c) for c in rng.integers(0, 256, 3))
            (d.ellipse if rng.random() < 0.5 else d.rectangle)([x0, y0, x1, y1], fill=color)
        arr = np.asarray(img).astype(np.int16) + rng.integers(-20, 21, (h, w, 3))
        img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")
        images[name] = img
    os.makedirs(os.path.join(HERE, "images"), exist_ok=True)
    meta = {}
    for name, img in images.items():
        with open(os.path.join(HERE, "images", name + ".rgb"), "wb") as f:
            f.write(img.tobytes())
        meta[name] = {"width": img.width, "height": img.height}
    write_json(os.path.join(HERE, "images", "images.json"), meta)
    return images


# ---------------------------------------------------------------- models

def randomize(model, seed):
    """transformers' init gives near-constant outputs; scale weights so every
    parameter matters and activations stay O(1)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name == "logit_scale":
                continue
            if p.ndim >= 2 and "embedding" not in name:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=g) / fan_in ** 0.5)
            elif "layer_norm" in name or "layrnorm" in name or "layernorm" in name:
                if name.endswith("weight"):
                    p.copy_(1 + 0.2 * torch.randn(p.shape, generator=g))
                else:
                    p.copy_(0.2 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            else:  # embeddings, class embedding
                p.copy_(0.5 * torch.randn(p.shape, generator=g))


MODELS = {
    "model_a": dict(
        dtype=torch.float32,
        seed=1,
        text=dict(hidden_size=8, intermediate_size=40, num_attention_heads=2, num_hidden_layers=3,
                  max_position_embeddings=77, hidden_act="quick_gelu", eos_token_id=49407),
        vision=dict(hidden_size=32, intermediate_size=64, num_attention_heads=4, num_hidden_layers=2,
                    image_size=32, patch_size=8, hidden_act="quick_gelu"),
        projection_dim=24,
    ),
    "model_b": dict(
        dtype=torch.float16,
        seed=2,
        text=dict(hidden_size=16, intermediate_size=24, num_attention_heads=4, num_hidden_layers=2,
                  max_position_embeddings=77, hidden_act="gelu", eos_token_id=2, layer_norm_eps=1e-6),
        vision=dict(hidden_size=48, intermediate_size=80, num_attention_heads=3, num_hidden_layers=3,
                    image_size=64, patch_size=16, hidden_act="gelu", layer_norm_eps=1e-6),
        projection_dim=12,
    ),
}

TEXTS = ["a photo of a cat", "", "A RED mushroom!!", "Zürich 東京 😀 don't", "word " * 90, "<|endoftext|> inside"]


def make_model(name, spec, tok, images):
    out = os.path.join(HERE, name)
    os.makedirs(out, exist_ok=True)
    config = CLIPConfig(text_config=dict(vocab_size=49408, **spec["text"]), vision_config=spec["vision"],
                        projection_dim=spec["projection_dim"])
    torch.manual_seed(spec["seed"])
    model = CLIPModel(config).eval()
    randomize(model, spec["seed"])
    # Round the weights through the stored dtype, then compute in f32: that is what
    # the Swift side does (it widens f16/bf16 to f32 on load).
    state = {k: v.detach().to(spec["dtype"]).contiguous() for k, v in model.state_dict().items()
             if not k.endswith("position_ids")}
    save_file(state, os.path.join(out, "model.safetensors"), metadata={"format": "pt"})
    model.load_state_dict({k: v.float() for k, v in state.items()}, strict=False)
    config.save_pretrained(out)

    size = spec["vision"]["image_size"]
    processor = CLIPImageProcessor(size={"shortest_edge": size}, crop_size={"height": size, "width": size},
                                   image_mean=OPENAI_MEAN, image_std=OPENAI_STD)
    processor.save_pretrained(out)

    ref = {"texts": [], "images": []}
    with torch.no_grad():
        ids = tok(TEXTS, padding="max_length", max_length=77, truncation=True, return_tensors="pt")["input_ids"]
        feats = model.get_text_features(input_ids=ids)
        for text, row, f in zip(TEXTS, ids.tolist(), feats):
            ref["texts"].append({"text": text, "ids": row, "embedding": f.tolist()})
        for i, (img_name, img) in enumerate(images.items()):
            pixels = processor(images=img, return_tensors="pt")["pixel_values"]
            pixels.numpy().astype("<f4").tofile(os.path.join(out, f"pixels_{img_name}.f32"))
            f = model.get_image_features(pixel_values=pixels)[0]
            ref["images"].append({"image": img_name, "pixels": f"pixels_{img_name}.f32", "embedding": f.tolist()})
    write_json(os.path.join(out, "reference.json"), ref)


def png_chunk(kind, payload):
    import zlib
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)


def write_png16_rgb(path, arr16):
    """16-bit RGB PNG, written by hand because Pillow cannot save that mode."""
    import zlib
    h, w, _ = arr16.shape
    raw = b"".join(b"\x00" + arr16[y].astype(">u2").tobytes() for y in range(h))
    data = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
    data += png_chunk(b"IDAT", zlib.compress(raw)) + png_chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(data)


def make_decode_fixtures(images):
    """Encoded files of every supported kind, each with Pillow's
    Image.open(f).convert("RGB") pixels (what transformers feeds its processor)."""
    from PIL import ImageOps

    out = os.path.join(HERE, "decode")
    os.makedirs(out, exist_ok=True)
    base = images["landscape"].resize((48, 32), Image.BICUBIC)
    arr = np.asarray(base)
    rng = np.random.default_rng(11)
    alpha = Image.fromarray(rng.integers(0, 256, (32, 48), dtype=np.uint8), "L")
    rgba = base.copy()
    rgba.putalpha(alpha)
    files = {}

    def save(name, img, **kw):
        img.save(os.path.join(out, name), **kw)

    save("baseline.jpg", base, quality=90)
    save("progressive.jpg", base, quality=85, progressive=True)
    save("gray.jpg", base.convert("L"), quality=90)
    save("cmyk.jpg", base.convert("CMYK"), quality=90)
    for orientation in range(2, 9):
        exif = Image.Exif()
        exif[0x0112] = orientation
        save(f"exif{orientation}.jpg", base, quality=90, exif=exif.tobytes())
    save("rgb.png", base)
    save("rgba.png", rgba)
    save("palette.png", base.convert("P", palette=Image.ADAPTIVE, colors=37))
    save("palette_trns.png", base.convert("P", palette=Image.ADAPTIVE, colors=16), transparency=3)
    save("gray.png", base.convert("L"))
    save("gray_alpha.png", Image.merge("LA", (base.convert("L"), alpha)))
    save("bilevel.png", base.convert("1"))
    write_png16_rgb(os.path.join(out, "rgb16.png"), arr.astype(np.uint16) * 257 + rng.integers(0, 200, arr.shape).astype(np.uint16))
    save("lossy.webp", base, quality=80)
    save("lossless_alpha.webp", rgba, lossless=True)
    for name in sorted(os.listdir(out)):
        if name.endswith((".rgb", ".json")) or name.startswith("bad_"):
            continue
        with Image.open(os.path.join(out, name)) as im:
            rgb = im.convert("RGB")
            files[name] = {"width": rgb.width, "height": rgb.height, "mode": im.mode}
            open(os.path.join(out, name + ".rgb"), "wb").write(rgb.tobytes())
            if name.startswith("exif"):
                t = ImageOps.exif_transpose(im).convert("RGB")
                open(os.path.join(out, name + ".transposed.rgb"), "wb").write(t.tobytes())
                files[name]["transposed"] = {"width": t.width, "height": t.height}
    # Inputs that must fail with a clear error.
    baseline = open(os.path.join(out, "baseline.jpg"), "rb").read()
    png = open(os.path.join(out, "rgb.png"), "rb").read()
    bad = {
        "bad_truncated.jpg": baseline[: len(baseline) - 200],  # cut inside the scan data
        "bad_truncated.png": png[: len(png) // 2],
        "bad_empty.png": b"",
        "bad_text.jpg": b"this is not an image\n",
        "bad_huge.png": b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", 200000, 200000, 8, 2, 0, 0, 0)),
        "bad_corrupt.webp": b"RIFF" + struct.pack("<I", 30) + b"WEBPVP8 " + b"\x00" * 22,
    }
    for name, data in bad.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    write_json(os.path.join(out, "decode.json"), files)


def make_dtype_file():
    values = torch.tensor([[0.0, 1.0, -2.5, 0.333251953125], [65504.0, -0.0001, 3.140625, 1e-3]])
    save_file({"as_f32": values.float(), "as_f16": values.half(), "as_bf16": values.bfloat16()},
              os.path.join(HERE, "dtypes.safetensors"))
    write_json(os.path.join(HERE, "dtypes.json"), {
        "as_f32": values.float().flatten().tolist(),
        "as_f16": values.half().float().flatten().tolist(),
        "as_bf16": values.bfloat16().float().flatten().tolist(),
    })


def make_full_size(out):
    """A random-weight model with transformers' default CLIPConfig (the ViT-B/32
    architecture of openai/clip-vit-base-patch32) and its reference outputs, for the
    optional full-size test and the benchmark. About 600 MB: never committed."""
    os.makedirs(out, exist_ok=True)
    tok = CLIPTokenizer(os.path.join(HERE, "vocab.json"), os.path.join(HERE, "merges.txt"))
    tok.save_pretrained(out)
    for f in ("vocab.json", "merges.txt"):
        shutil.copyfile(os.path.join(HERE, f), os.path.join(out, f))
    config = CLIPConfig()
    torch.manual_seed(3)
    model = CLIPModel(config).eval()
    randomize(model, 3)
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items() if not k.endswith("position_ids")}
    save_file(state, os.path.join(out, "model.safetensors"), metadata={"format": "pt"})
    config.save_pretrained(out)
    processor = CLIPImageProcessor(image_mean=OPENAI_MEAN, image_std=OPENAI_STD)
    processor.save_pretrained(out)
    images = make_images()
    # A photo-sized image too (strong antialiased downscale); kept out of the committed set.
    rng = np.random.default_rng(9)
    big = images["landscape"].resize((1021, 683), Image.BICUBIC)
    noisy = np.clip(np.asarray(big).astype(np.int16) + rng.integers(-30, 31, (683, 1021, 3)), 0, 255).astype(np.uint8)
    images["large"] = Image.fromarray(noisy, "RGB")
    images["large"].save(os.path.join(out, "large.png"))
    ref = {"texts": [], "images": []}
    with torch.no_grad():
        ids = tok(TEXTS, padding="max_length", max_length=77, truncation=True, return_tensors="pt")["input_ids"]
        for text, row, f in zip(TEXTS, ids.tolist(), model.get_text_features(input_ids=ids)):
            ref["texts"].append({"text": text, "ids": row, "embedding": f.tolist()})
        for img_name, img in images.items():
            pixels = processor(images=img, return_tensors="pt")["pixel_values"]
            pixels.numpy().astype("<f4").tofile(os.path.join(out, f"pixels_{img_name}.f32"))
            f = model.get_image_features(pixel_values=pixels)[0]
            ref["images"].append({"image": img_name, "pixels": f"pixels_{img_name}.f32", "embedding": f.tolist()})
    write_json(os.path.join(out, "reference.json"), ref)
    print(f"full-size ViT-B/32-shaped random model written to {out}")


def main():
    torch.set_num_threads(1)
    if len(sys.argv) == 3 and sys.argv[1] == "--full-size":
        make_full_size(sys.argv[2])
        return
    tok = make_tokenizer()
    cases, padded = make_tokenizer_cases(tok)
    assert all(len(p) == 77 and p[-1] == tok.pad_token_id for p in padded)
    images = make_images()
    for name, spec in MODELS.items():
        make_model(name, spec, tok, images)
    make_dtype_file()
    make_decode_fixtures(images)
    print(f"{len(cases)} tokenizer cases, {len(images)} images, {len(MODELS)} models written to {HERE}")


if __name__ == "__main__":
    main()
