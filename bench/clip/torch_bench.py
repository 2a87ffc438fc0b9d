"""The same measurement as clip-bench with transformers + PyTorch (CPU, f32), for a
side-by-side ratio. Usage: .venv-clip/bin/python bench/clip/torch_bench.py MODEL_DIR [threads...]"""
import json
import sys
import time

import numpy as np
import torch
from PIL import Image
from transformers import CLIPImageProcessor, CLIPModel, CLIPTokenizer

sys.modules["ftfy"] = None
d = sys.argv[1]
threads = [int(t) for t in sys.argv[2:]] or [1, 2]
model = CLIPModel.from_pretrained(d).eval()
tok = CLIPTokenizer.from_pretrained(d)
proc = CLIPImageProcessor.from_pretrained(d)
captions = [f"a photo of a {['red', 'small', 'happy', 'old'][i % 4]} {['cat', 'mushroom', 'car', 'house'][i // 4 % 4]} on a sunny day number {i}" for i in range(64)]
rng = np.random.default_rng(0)
images = [Image.fromarray(rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)) for _ in range(32)]
print("torch", torch.__version__, "threads", threads, "cpu capability", torch.backends.cpu.get_cpu_capability())
print("json " + json.dumps({"kind": "setup", "torch": torch.__version__, "capability": torch.backends.cpu.get_cpu_capability(),
                            "mkl": torch.backends.mkl.is_available()}))
print("threads | input | batch | items/s")
with torch.no_grad():
    for t in threads:
        torch.set_num_threads(t)
        for batch in (1, 16, 64):
            run = lambda: model.get_text_features(**tok(captions[:batch], padding=True, return_tensors="pt"))
            run()
            done, start = 0, time.perf_counter()
            while done < 64:
                run()
                done += batch
            rate = done / (time.perf_counter() - start)
            print(f"{t:7d} | text  | {batch:5d} | {rate:8.1f}")
            print("json " + json.dumps({"kind": "text", "threads": t, "batch": batch, "per_s": rate}))
        for batch in (1, 8, 32):
            run = lambda: model.get_image_features(**proc(images=images[:batch], return_tensors="pt"))
            run()
            done, start = 0, time.perf_counter()
            while done < 32:
                run()
                done += batch
            rate = done / (time.perf_counter() - start)
            print(f"{t:7d} | image | {batch:5d} | {rate:8.1f}")
            print("json " + json.dumps({"kind": "image", "threads": t, "batch": batch, "per_s": rate}))
