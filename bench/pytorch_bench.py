#!/usr/bin/python3
"""PyTorch side of `npm run bench`: the same workloads as bench/main.ts, timed on this machine.

Usage: /usr/bin/python3 bench/pytorch_bench.py step  --threads 2 --steps 8 --batch 128
       /usr/bin/python3 bench/pytorch_bench.py epoch --threads 2 --images 12406 --workers 2
Prints one JSON object. The model is the reference CIFAR ResNet-32 from fixtures/models/gen_resnet.py.
"""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'fixtures', 'models'))
from gen_resnet import resnet32  # noqa: E402


def bench_step(a):
    torch.manual_seed(0)
    model = resnet32(num_classes=10)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=2e-4)
    x = torch.randn(a.batch, 3, 32, 32)
    y = torch.randint(0, 10, (a.batch,))
    model.train()

    def step():
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(a.warmup):
        step()
    times = []
    for _ in range(a.steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    model.eval()
    with torch.no_grad():
        for _ in range(2):
            model(x)
        etimes = []
        for _ in range(a.steps):
            t0 = time.perf_counter()
            model(x)
            etimes.append(time.perf_counter() - t0)
    ms = 1000 * sorted(times)[len(times) // 2]
    ems = 1000 * sorted(etimes)[len(etimes) // 2]
    return {'trainMsPerStep': ms, 'trainImgPerSec': a.batch * 1000 / ms, 'evalMsPerBatch': ems,
            'evalImgPerSec': a.batch * 1000 / ems, 'threads': torch.get_num_threads(), 'torch': torch.__version__}


class SyntheticCifar(torch.utils.data.Dataset):
    def __init__(self, n, transform):
        g = torch.Generator().manual_seed(0)
        self.images = torch.randint(0, 256, (n, 32, 32, 3), dtype=torch.uint8, generator=g).numpy()
        self.targets = torch.randint(0, 10, (n,), generator=g).tolist()
        self.transform = transform

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, i):
        from PIL import Image
        return self.transform(Image.fromarray(self.images[i])), self.targets[i]


def bench_epoch(a):
    import torchvision.transforms as T
    torch.manual_seed(0)
    tf = T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), T.ToTensor(),
                    T.Normalize((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010))])
    ds = SyntheticCifar(a.images, tf)
    dl = torch.utils.data.DataLoader(ds, batch_size=a.batch, shuffle=True, num_workers=a.workers)
    model = resnet32(num_classes=10)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=2e-4)
    model.train()
    t0 = time.perf_counter()
    steps = 0
    for x, y in dl:
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        steps += 1
    sec = time.perf_counter() - t0
    return {'epochSeconds': sec, 'steps': steps, 'images': a.images, 'workers': a.workers,
            'threads': torch.get_num_threads()}


def main():
    p = argparse.ArgumentParser()
    p.add_argument('mode', choices=['step', 'epoch'])
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--batch', type=int, default=128)
    p.add_argument('--steps', type=int, default=8)
    p.add_argument('--warmup', type=int, default=2)
    p.add_argument('--images', type=int, default=12406)
    p.add_argument('--workers', type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    print(json.dumps(bench_step(a) if a.mode == 'step' else bench_epoch(a)))


if __name__ == '__main__':
    main()
