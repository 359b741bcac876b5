"""PyTorch side of bench/decode.sh: decode + augment throughput of torchvision's ImageNet train pipeline
(RandomResizedCrop 224, flip, ColorJitter(0.4, 0.4, 0.4), ToTensor, Normalize) through
DataLoader(num_workers=2, batch 64) with PIL on the same JPEG folder; and, given ltkit's dump of the test decode
(sharp: Resize 256 + CenterCrop 224), the per-pixel difference from PIL's Resize(256) + CenterCrop(224).

usage: /usr/bin/python3 bench/decode_torch.py speed DIR
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
    {"speed": speed, "compare": compare}[sys.argv[1]](sys.argv[2])
