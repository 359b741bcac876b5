"""PyTorch side of bench/decode.sh: decode + augment throughput of torchvision's ImageNet train pipeline
(RandomResizedCrop 224, flip, ColorJitter(0.4, 0.4, 0.4), ToTensor, Normalize) through
DataLoader(num_workers=2, batch 64) with PIL on the same JPEG folder; and, given ltkit's dump of the test decode
(sharp: Resize 256 + CenterCrop 224), the per-pixel difference from PIL's Resize(256) + CenterCrop(224); and
where the time goes: CPU ms per image of each step of that pipeline, in one process (`profile`, beside ltkit's).

usage: /usr/bin/python3 bench/decode_torch.py speed DIR
       /usr/bin/python3 bench/decode_torch.py profile DIR
       /usr/bin/python3 bench/decode_torch.py compare DUMP
"""
import json
import sys
import time

import numpy as np
import torch
from PIL import Image
from torchvision import datasets, transforms


def speed(root):
    torch.set_num_threads(1)
    tf = transforms.Compose([
        transforms.RandomResizedCrop(224),
        transforms.RandomHorizontalFlip(),
        transforms.ColorJitter(0.4, 0.4, 0.4, 0),
        transforms.ToTensor(),
        transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
    ])
    ds = datasets.ImageFolder(root, tf)
    dl = torch.utils.data.DataLoader(ds, batch_size=64, shuffle=True, num_workers=2, persistent_workers=True)
    for _ in dl:  # warm-up epoch (workers start, file cache)
        pass
    t0 = time.perf_counter()
    n = 0
    for x, _ in dl:
        n += x.shape[0]
    s = time.perf_counter() - t0
    print(json.dumps({"side": "pytorch", "images": n, "seconds": s, "imgPerSec": n / s}))


def profile(root):
    """CPU ms per image of each step (PIL decode, RandomResizedCrop, flip, ColorJitter, ToTensor, Normalize), one
    thread, over the folder's first 256 images; the second of two passes (the first warms the file cache)."""
    torch.set_num_threads(1)
    steps = [("open", lambda p: Image.open(p).convert("RGB")), ("randomResizedCrop", transforms.RandomResizedCrop(224)),
             ("flip", transforms.RandomHorizontalFlip()), ("colorJitter", transforms.ColorJitter(0.4, 0.4, 0.4, 0)),
             ("toTensor", transforms.ToTensor()),
             ("normalize", transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]))]
    paths = [p for p, _ in datasets.ImageFolder(root).samples][:256]
    for _ in range(2):
        cpu = {k: 0.0 for k, _ in steps}
        for p in paths:
            x = p
            for k, f in steps:
                c = time.process_time()
                x = f(x)
                cpu[k] += time.process_time() - c
    out = {k: round(1000 * v / len(paths), 2) for k, v in cpu.items()}
    out["total"] = round(sum(out.values()), 2)
    print(json.dumps({"side": "pytorch", "cpuMsPerImg": out}))


def compare(dump):
    paths = json.load(open(dump + ".json"))
    ours = np.fromfile(dump, dtype=np.uint8).reshape(len(paths), 224, 224, 3).astype(np.int16)
    tf = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224)])
    diffs = []
    for k, p in enumerate(paths):
        ref = np.asarray(tf(Image.open(p).convert("RGB")), dtype=np.int16)
        diffs.append(np.abs(ref - ours[k]))
    d = np.stack(diffs)
    print(json.dumps({"images": len(paths), "meanAbsDiff": float(d.mean()), "p99AbsDiff": float(np.percentile(d, 99)),
                      "maxAbsDiff": int(d.max())}))


if __name__ == "__main__":
    {"speed": speed, "profile": profile, "compare": compare}[sys.argv[1]](sys.argv[2])
