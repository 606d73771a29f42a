"""PyTorch CPU timings, run from onnx-export/:
  /usr/bin/python3 bench_torch.py [checkpoint]   one denoiser call (batch 8 and 16 x 22528 samples, 1 and 2 threads):
                                                 a proxy for ORT
  /usr/bin/python3 bench_torch.py --train        one training step (batch 24, 2 threads) of fresh default models:
                                                 transposed vs sub-pixel resampling, float32 vs bf16 autocast
Figures are medians; run on an otherwise idle machine (training in the background halves them)."""
import argparse
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from diffusion_drums.params import Params  # noqa: E402
from diffusion_drums.model import EDMDenoiser  # noqa: E402
from diffusion_drums import train  # noqa: E402


def median_s(f, warmup: int = 2, runs: int = 7) -> float:
    for _ in range(warmup):
        f()
    ts = []
    for _ in range(runs):
        t = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t)
    return sorted(ts)[runs // 2]


def bench_inference(path: str):
    m, p, ck = train.load_model(path)
    for th in [1, 2]:
        torch.set_num_threads(th)
        for b in [8, 16]:
            x = torch.randn(b, 1, p.clip_samples)
            s, c, v = torch.full((b,), 1.0), torch.zeros(b, dtype=torch.long), torch.full((b,), .8)
            with torch.no_grad():
                t = median_s(lambda: m(x, s, c, v))
            print(f"threads {th} batch {b}: median {t * 1000:.0f} ms")


def bench_training(batch: int = 24):
    torch.set_num_threads(2)
    x0 = torch.randn(batch, 1, Params().clip_samples) * 0.15
    c, v = torch.randint(0, 11, (batch,)), torch.rand(batch)
    print(f"training step, batch {batch}, 2 threads (cpu has native bf16: {train.cpu_has_bf16()})")
    for resampling, precision in [("transpose", "fp32"), ("subpixel", "fp32"), ("subpixel", "bf16")]:
        p = Params(resampling=resampling, batch_size=batch)
        torch.manual_seed(0)
        m = EDMDenoiser(p)
        opt = torch.optim.AdamW(m.parameters(), lr=1e-4)
        gen = torch.Generator().manual_seed(0)
        amp = train.autocast_dtype(precision, torch.device("cpu"))

        def step():
            with train.autocast(torch.device("cpu"), amp):
                loss = train.edm_loss(m, x0, c, v, p, gen)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        t = median_s(step, warmup=2, runs=5)
        print(f"{resampling:9s} {precision}: {t:.3f} s/step ({1 / t:.2f} steps/s)")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", nargs="?", default="checkpoints/last.pt")
    ap.add_argument("--train", action="store_true", help="time training steps instead of inference calls")
    a = ap.parse_args()
    bench_training() if a.train else bench_inference(a.checkpoint)
