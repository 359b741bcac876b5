#!/usr/bin/python3
"""PyTorch side of `npm run bench`: the same workloads as bench/main.ts, timed on this machine.

Usage: /usr/bin/python3 bench/pytorch_bench.py step  --threads 2 --steps 8 --batch 128 --modes nchw-fp32,cl-fp32
       python3 bench/pytorch_bench.py step --device cuda --steps 30 --modes cl-fp32,cl-bf16,cl-fp16
       /usr/bin/python3 bench/pytorch_bench.py epoch --threads 2 --images 12406 --workers 2 --modes cl-fp32
       RANK=r WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=p \\
       /usr/bin/python3 bench/pytorch_bench.py ddp --threads 1 --steps 8 --batch 64 --modes cl-fp32
Prints one JSON object (in ddp mode, rank 0 only). The model is the reference CIFAR ResNet-32 from
fixtures/models/gen_resnet.py.

A mode is `<memory format>-<precision>`: nchw or cl (channels-last: model and input in
torch.channels_last), fp32, bf16 (forward and loss under torch.autocast(device, dtype=torch.bfloat16);
backward and the optimizer step outside it, as torch.cuda.amp's documentation prescribes) or fp16 (CUDA only:
the same under float16, with torch's GradScaler, as ltkit's trainer does).

--device cuda[:N] (step mode): the model and the batch on that GPU; every timed call is bracketed by
torch.cuda.synchronize(), and each result adds `trainMsPerStepPipelined`, the mean of a run of steps with one
synchronize at its end (the host may queue ahead, as in a training loop that does not read the loss back).
"""
import argparse
import contextlib
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'fixtures', 'models'))
from gen_resnet import resnet32  # noqa: E402


def parse_mode(mode, device='cpu'):
    """(channels_last, autocast dtype or None) of `<nchw|cl>-<fp32|bf16|fp16>`; fp16 only on CUDA."""
    fmt, prec = mode.split('-')
    if fmt not in ('nchw', 'cl') or prec not in ('fp32', 'bf16', 'fp16'):
        raise SystemExit(f"pytorch_bench.py: mode '{mode}' is not <nchw|cl>-<fp32|bf16|fp16>")
    if prec == 'fp16' and not device.startswith('cuda'):
        raise SystemExit(f"pytorch_bench.py: mode '{mode}' needs --device cuda (CPU autocast has no float16)")
    return fmt == 'cl', {'fp32': None, 'bf16': torch.bfloat16, 'fp16': torch.float16}[prec]


def median_ms(seconds):
    return 1000 * sorted(seconds)[len(seconds) // 2]


def setup(batch, channels_last, device='cpu'):
    """Weights and batch from the CPU generator, then moved: the same numbers on every device (bench/step.ts)."""
    torch.manual_seed(0)
    model = resnet32(num_classes=10)
    x = torch.randn(batch, 3, 32, 32)
    y = torch.randint(0, 10, (batch,))
    if device != 'cpu':
        model, x, y = model.to(device), x.to(device), y.to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    return model, x, y


def amp(low, device='cpu'):
    """Autocast to `low` (a dtype; None: fp32) on the device's type."""
    kind = 'cuda' if device.startswith('cuda') else 'cpu'
    return torch.autocast(kind, dtype=low) if low is not None else contextlib.nullcontext()


def grad_scaler():
    # torch >= 2.3 names it torch.amp.GradScaler('cuda'); 1.13 has torch.cuda.amp.GradScaler only.
    return torch.amp.GradScaler('cuda') if hasattr(torch.amp, 'GradScaler') else torch.cuda.amp.GradScaler()


def train_step(model, opt, x, y, low, device='cpu', scaler=None):
    with amp(low, device):
        loss = F.cross_entropy(model(x), y)
    opt.zero_grad(set_to_none=True)
    if scaler is None:
        loss.backward()
        opt.step()
    else:
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()


def bench_mode(a, mode):
    channels_last, low = parse_mode(mode, a.device)
    cuda = a.device.startswith('cuda')
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    model, x, y = setup(a.batch, channels_last, a.device)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=2e-4)
    scaler = grad_scaler() if low == torch.float16 else None
    step = lambda: train_step(model, opt, x, y, low, a.device, scaler)  # noqa: E731
    model.train()
    for _ in range(a.warmup):
        step()
    times = []
    for _ in range(a.steps):
        sync()
        t0 = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - t0)
    pipelined = None
    if cuda:
        sync()
        t0 = time.perf_counter()
        for _ in range(a.steps):
            step()
        sync()
        pipelined = 1000 * (time.perf_counter() - t0) / a.steps
    model.eval()
    with torch.no_grad(), amp(low, a.device):
        for _ in range(a.warmup):
            model(x)
        etimes = []
        for _ in range(a.steps):
            sync()
            t0 = time.perf_counter()
            model(x)
            sync()
            etimes.append(time.perf_counter() - t0)
    ms, ems = median_ms(times), median_ms(etimes)
    model.train()
    out = {'trainMsPerStep': ms, 'trainImgPerSec': a.batch * 1000 / ms, 'evalMsPerBatch': ems,
           'evalImgPerSec': a.batch * 1000 / ems, 'channelsLast': channels_last, 'bf16': low == torch.bfloat16}
    if cuda:
        # torch.profiler's CPU self times say nothing of GPU kernels: no kernel split on CUDA.
        out.update({'device': a.device, 'precision': mode.split('-')[1], 'trainMsPerStepPipelined': pipelined})
    elif a.kernel_modes is None or mode in a.kernel_modes.split(','):
        out['kernels'] = kernel_shares(step, max(2, a.steps // 2))
    return out


# Kernel families of a train step, by ATen operator name (self time: an operator's own time, without the
# operators it calls).
FAMILIES = (('convolution', ('conv',)), ('batchNorm', ('batch_norm',)),
            ('relu', ('relu', 'threshold', 'clamp_min')))


def kernel_shares(step, steps):
    """Milliseconds per step in each kernel family, from torch.profiler's self CPU times over `steps` steps.

    A family's time is what any front end calling the same kernels spends in them, so (convolutions) / (step)
    bounds the step-time ratio a front end can reach over the same kernels without computing less.
    """
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        wall = time.perf_counter() - t0
    out = {name: 0.0 for name, _ in FAMILIES}
    total = 0.0
    for e in prof.key_averages():
        if not e.key.startswith('aten::'):
            continue
        ms = e.self_cpu_time_total / 1000 / steps
        total += ms
        for name, keys in FAMILIES:
            if any(k in e.key for k in keys):
                out[name] += ms
                break
    out['atenTotal'] = total
    out['wallMs'] = wall * 1000 / steps
    out['profiledSteps'] = steps
    return out


def bench_step(a):
    modes = {m: bench_mode(a, m) for m in a.modes.split(',')}
    out = {'torch': torch.__version__, 'threads': torch.get_num_threads(), 'batch': a.batch, 'steps': a.steps,
           'warmup': a.warmup, 'modes': modes}
    if a.device.startswith('cuda'):
        out.update({'device': a.device, 'gpu': torch.cuda.get_device_name(torch.device(a.device)),
                    'cuda': torch.version.cuda, 'cudnn': torch.backends.cudnn.version(),
                    'cudnnBenchmark': torch.backends.cudnn.benchmark})
    return out


def bench_ddp(a):
    """One rank of torchrun-style data parallelism: DistributedDataParallel over Gloo, `a.batch` per rank."""
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel
    dist.init_process_group('gloo', init_method='env://')
    rank, world = dist.get_rank(), dist.get_world_size()
    channels_last, low = parse_mode(a.modes)
    model, x, y = setup(a.batch, channels_last)
    # Every rank sees its own slice of a global batch (different data, as a sharded sampler gives).
    torch.manual_seed(1 + rank)
    x = torch.randn_like(x)
    # Broadcasts rank 0's weights; 25 MB buckets (the default). broadcast_buffers=False: BatchNorm's running
    # statistics stay per process, as in ltkit's data-parallel step (DDP's default would also broadcast them
    # from rank 0 before every forward, work ltkit does not do).
    ddp = DistributedDataParallel(model, broadcast_buffers=False)
    opt = torch.optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9, weight_decay=2e-4)
    ddp.train()
    for _ in range(a.warmup):
        train_step(ddp, opt, x, y, low)
    dist.barrier()
    times = []
    for _ in range(a.steps):
        t0 = time.perf_counter()
        train_step(ddp, opt, x, y, low)
        times.append(time.perf_counter() - t0)
    # The slowest rank sets the pace: the median of each step's maximum over ranks.
    t = torch.tensor(times, dtype=torch.float64)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    dist.destroy_process_group()
    ms = median_ms(t.tolist())
    return None if rank != 0 else {
        'trainMsPerStep': ms, 'globalBatch': a.batch * world, 'trainImgPerSec': a.batch * world * 1000 / ms,
        'worldSize': world, 'backend': 'gloo', 'broadcastBuffers': False, 'threads': torch.get_num_threads(),
        'torch': torch.__version__}


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
    channels_last, low = parse_mode(a.modes)
    model = resnet32(num_classes=10)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=2e-4)
    model.train()
    t0 = time.perf_counter()
    steps = 0
    for x, y in dl:
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with amp(low):
            loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        steps += 1
    sec = time.perf_counter() - t0
    return {'epochSeconds': sec, 'steps': steps, 'images': a.images, 'workers': a.workers,
            'threads': torch.get_num_threads(), 'mode': a.modes}


def main():
    p = argparse.ArgumentParser()
    p.add_argument('mode', choices=['step', 'ddp', 'epoch'])
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--batch', type=int, default=128)
    p.add_argument('--steps', type=int, default=8)
    p.add_argument('--warmup', type=int, default=2)
    p.add_argument('--modes', default='nchw-fp32',
                   help='comma-separated <nchw|cl>-<fp32|bf16|fp16> (ddp, epoch: one; fp16 on CUDA only)')
    p.add_argument('--device', default='cpu', help='step mode: cpu (default) or cuda[:N]')
    p.add_argument('--kernel-modes', default=None,
                   help='step mode on CPU: the modes to split by kernel family (default: all of --modes)')
    p.add_argument('--images', type=int, default=12406)
    p.add_argument('--workers', type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    out = {'step': bench_step, 'ddp': bench_ddp, 'epoch': bench_epoch}[a.mode](a)
    if out is not None:
        print(json.dumps(out))


if __name__ == '__main__':
    main()
