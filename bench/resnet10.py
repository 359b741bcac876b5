#!/usr/bin/python3
"""PyTorch side of bench/resnet10.sh: one ResNet-10 training step at 224x224, timed like bench/resnet10.ts.

usage: /usr/bin/python3 bench/resnet10.py [--batch 32] [--steps 5] [--warmup 2] [--threads 2] [--modes cl,nchw]

The network is torchvision's ResNet class with BasicBlock [1, 1, 1, 1] and 1000 classes — the ResNet-10 of the
decoupling / S1 ImageNet-LT code and of fixtures/models/gen_resnet_imagenet.py, which src/models/resnet-imagenet.ts
matches key for key. The step: train-mode forward, F.cross_entropy, zero_grad, backward, SGD (momentum 0.9,
weight decay 5e-4). Modes: `cl` = model and input in torch.channels_last (ltkit's default memory order), `nchw` =
PyTorch's default. fp32. Prints one JSON object: per mode the median step time (ms) and img/s.
"""
import argparse
import json
import time

import torch
import torch.nn.functional as F
from torchvision.models.resnet import BasicBlock, ResNet


def bench_mode(a, channels_last):
    torch.manual_seed(0)
    model = ResNet(BasicBlock, [1, 1, 1, 1], num_classes=1000)
    x = torch.randn(a.batch, 3, 224, 224)
    y = torch.randint(0, 1000, (a.batch,))
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    model.train()

    def step():
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(a.warmup):
        step()
    ms = []
    for _ in range(a.steps):
        t0 = time.perf_counter()
        step()
        ms.append(1000 * (time.perf_counter() - t0))
    med = sorted(ms)[len(ms) // 2]
    return {"trainMsPerStep": med, "trainImgPerSec": a.batch * 1000 / med, "stepsMs": [round(t, 1) for t in ms]}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--modes", default="cl,nchw")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    modes = {}
    for m in a.modes.split(","):
        if m not in ("cl", "nchw"):
            raise SystemExit(f"resnet10.py: mode '{m}' is not cl or nchw")
        modes[m] = bench_mode(a, m == "cl")
    print(json.dumps({"side": "pytorch", "torch": torch.__version__, "threads": torch.get_num_threads(),
                      "batch": a.batch, "steps": a.steps, "warmup": a.warmup, "modes": modes}))


if __name__ == "__main__":
    main()
