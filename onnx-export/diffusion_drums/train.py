"""Training: EDM denoising score matching (Karras et al. 2022, sec. 5) with class/velocity conditioning.

Resumable: <ckpt-dir>/last.pt holds model, EMA, optimiser, step, Params and the dataset description.
Run: python3 -m diffusion_drums.train --minutes 110   (see onnx-export/README.md)
"""
import argparse
import contextlib
import copy
import functools
import json
import math
import os
import sys
import time

import numpy as np
import torch

from .params import Params, NULL_CLASS_ID
from .dataset import ClipSet, BatchSampler, build_cache, HYDROGEN_DIR, descriptors, descriptor_prior, DESCRIPTOR_NAMES
from .model import EDMDenoiser, count_parameters, band_pass_bank

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


PREEMPHASIS = 0.95


def loss_weight(model: EDMDenoiser, sigma, p: Params):
    """lambda(sigma) = (1/c_out^2) * (sigma^2 + sigma_data^2) / (sigma^2 + knee^2). sigma: [B] -> [B].

    1/c_out^2 alone puts unit weight on the network's own target. With sigma_skip << sigma_data that target is the
    clean clip at every sigma, so the error left to learn at small sigma (a snare's wires, a hat's decaying tail,
    the silence after a hit: all decided where sigma is of their size, 0.003 .. 0.05) is ~sigma^2 and weighs next to
    nothing beside the large-sigma items; the previous model never learnt those details. The second factor gives
    back EDM's (Karras et al. 2022, eq. 8 / Table 1) rise of lambda ~ 1/sigma^2 down to the knee: x (sigma_data/knee)^2
    below it (56x at knee 0.02), unchanged above sigma_data. knee = sigma_data reproduces 1/c_out^2."""
    c_out = model.preconditioning(sigma)[1]
    knee2, sd2 = p.loss_sigma_knee ** 2, p.sigma_data ** 2
    return (sigma ** 2 + sd2) / (c_out ** 2 * (sigma ** 2 + knee2))


def crop_for(p: Params, trained_s: float, length: int) -> int:
    """Samples of each clip a step trains on after trained_s seconds of training: p.crop_samples during the first
    p.crop_minutes, the whole clip after. Why: the U-Net is convolutional (attention only at L/256), so what it learns
    on a clip's first half holds on the whole; a half-length step runs about 3x as fast on 2 CPU cores (6.1 against
    2.1 steps/s), and a model trained on more steps within the same budget is better (README, What still fails).
    The full-length phase after it teaches the tails' second half."""
    if p.crop_samples <= 0 or trained_s >= 60 * p.crop_minutes:
        return length
    if p.crop_samples % p.length_multiple:
        raise ValueError(f"crop_samples {p.crop_samples} is not a multiple of {p.length_multiple}")
    return min(length, p.crop_samples)


def edm_loss(model: EDMDenoiser, x0, class_id, velocity, p: Params, gen: torch.Generator, descriptor=None):
    """Weighted denoising loss (loss_weight). x0: [B,1,L]; sigma ~ logN(p_mean, p_std). descriptor: [B, D] timbre
    descriptors of x0 (dataset.descriptors) or None; dropped with the class and on descriptor_dropout of the rest."""
    b = x0.shape[0]
    # Drawn on the CPU generator whatever the device (the same stream as a CPU run), then moved beside x0.
    sigma = torch.exp(p.p_mean + p.p_std * torch.randn(b, generator=gen)).to(x0.device)  # [B]
    noise = torch.randn(x0.shape, generator=gen).to(x0.device)
    drop = (torch.rand(b, generator=gen) < p.cfg_dropout).to(x0.device)
    cls = torch.where(drop, torch.full_like(class_id, NULL_CLASS_ID), class_id)  # CFG: null class
    more = ()  # a model without descriptors takes four inputs
    if descriptor is not None:  # [B, D] -> [B, D+1]: zeros where dropped, else the values and a flag of 1
        keep = ~drop & (torch.rand(b, generator=gen) >= p.descriptor_dropout).to(x0.device)  # [B]
        more = (torch.cat([descriptor, torch.ones_like(descriptor[:, :1])], 1) * keep[:, None].to(descriptor.dtype),)
    d = model(x0 + sigma.view(-1, 1, 1) * noise, sigma, cls, velocity, *more).float()  # [B,1,L]; f32 under autocast too
    w = loss_weight(model, sigma, p)  # [B]
    err = d - x0  # [B,1,L]
    per_item = (err ** 2).mean(dim=(1, 2))  # [B]
    if p.loss_preemphasis > 0:
        # The same error through 1 - 0.95 z^-1 (about -26 dB at DC, +6 dB at Nyquist): the sample-wise error of a kick
        # is almost all its fundamental, so a hiss 40 dB under it costs nothing in plain MSE; here it does. Still a
        # quadratic form of the error, so the optimum stays the posterior mean (the denoiser D stays unbiased).
        hp = err[..., 1:] - PREEMPHASIS * err[..., :-1]  # [B,1,L-1]
        per_item = per_item + p.loss_preemphasis * (hp ** 2).mean(dim=(1, 2))
    loss = (w * per_item).mean()
    if p.loss_band_excess > 0:  # unweighted by sigma: the hinge is scale-free (see band_excess)
        bank = _excess_bank(p.band_filters or 8, p.band_kernel, p.sample_rate_hz).to(d.device)
        loss = loss + p.loss_band_excess * band_excess(d, x0, bank, p.loss_band_excess_shape).mean()
    return loss


_excess_bank = functools.lru_cache(maxsize=4)(band_pass_bank)  # the same fixed filters every step: build them once
EXCESS_FRAME = 512          # samples per frame of band_excess (11.6 ms at 44.1 kHz)
EXCESS_FLOOR = 1e-7         # band-frame energies below -70 dB of the clean clip's loudest frame count as silence


def band_excess(d, x0, bank, shape: bool = False):
    """Mean over bands and frames of max(0, ln(E_d + e) - ln(E_x0 + e)): how far the denoised clip d puts more energy
    into a band-frame than the clean clip x0 holds there. d, x0: [B,1,L]; bank: [K,1,taps] band-passes -> [B].

    Why: plain MSE weighs each band by its share of the error. A kick's bands above 1 kHz carry 40-50 dB less than its
    fundamental, so the denoiser may pass the noise there (measured on the 2026-12 model: at sigma 1 its error above
    4 kHz was 3.8 dB *above* the clean band's energy, i.e. worse than silence, yet 1 % of the loss); the sampler keeps
    what passed as a hiss under the whole hit. On average over the posterior a band-frame of the posterior mean holds
    no more energy than the clean clips it could be (Jensen), so the hinge mostly charges the leak, on a log scale
    that sees -50 dB bands. e (EXCESS_FLOOR of the clean clip's loudest frame) keeps true silence from weighing
    without end. But it is charged per clip, not on average: where the clean clip is uncertain (how long this hit
    rings) it pays to guess low, and trained so the energy form learnt hits that stop too soon and the shape form a
    louder low end (onnx-export/README.md, What still fails). Off by default (Params.loss_band_excess = 0)."""
    with torch.autocast(d.device.type, enabled=False):  # float32: bf16 would blur -70 dB against the peak
        zd = torch.nn.functional.conv1d(d.float(), bank, padding=bank.shape[-1] // 2)  # [B,K,L]
        zx = torch.nn.functional.conv1d(x0.float(), bank, padding=bank.shape[-1] // 2)  # [B,K,L]
    ed = torch.nn.functional.avg_pool1d(zd ** 2, EXCESS_FRAME)  # [B,K,F]
    ex = torch.nn.functional.avg_pool1d(zx ** 2, EXCESS_FRAME)  # [B,K,F]
    floor = EXCESS_FLOOR * ex.sum(1, keepdim=True).amax(-1, keepdim=True) + 1e-12  # [B,1,1]
    if shape:  # each band's share of its frame instead: a brighter frame is charged, a shorter or longer decay is not
        live = (ex.sum(1, keepdim=True) > 1e3 * floor).float()  # [B,1,F]: frames within 40 dB of the loudest
        sd = ed / (ed.sum(1, keepdim=True) + 1e-12)  # [B,K,F]
        sx = ex / (ex.sum(1, keepdim=True) + 1e-12)  # [B,K,F]
        hinge = torch.relu(torch.log(sd + EXCESS_FLOOR) - torch.log(sx + EXCESS_FLOOR)) * live
        return hinge.sum(dim=(1, 2)) / (live.sum(dim=(1, 2)) * ed.shape[1]).clamp(min=1)
    return torch.relu(torch.log(ed + floor) - torch.log(ex + floor)).mean(dim=(1, 2))


def learning_rate(p: Params, step: int, trained_s: float) -> float:
    """Linear warm-up, then constant or (anneal_minutes > 0) a cosine decay to lr_floor over the training time.
    Training here is budgeted in wall time, not steps, so the decay follows minutes trained (resumes included);
    anneal_steps > 0 makes it follow steps instead (replaying a step budget on faster hardware)."""
    lr = p.learning_rate * min(1.0, (step + 1) / p.warmup_steps)
    if p.anneal_steps > 0 or p.anneal_minutes > 0:
        f = min(1.0, step / p.anneal_steps if p.anneal_steps > 0 else trained_s / (60 * p.anneal_minutes))
        lr *= p.lr_floor + (1 - p.lr_floor) * 0.5 * (1 + math.cos(math.pi * f))
    return lr


def cpu_has_bf16() -> bool:
    """True when the CPU multiplies bfloat16 natively (AVX512-BF16 or AMX), where oneDNN runs bf16 convolutions
    faster than float32 ones; elsewhere bf16 autocast would be emulated and slower."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line for line in f if line.startswith("flags")), "").split()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def autocast(dev: torch.device, amp):
    """The forward pass's autocast context: bf16/fp16 autocast, or none at all for plain float32 (torch 1.13's CPU
    autocast refuses any dtype but bfloat16, even when disabled, so float32 must not go through it)."""
    return torch.autocast(dev.type, dtype=amp) if amp is not None else contextlib.nullcontext()


def autocast_dtype(precision: str, dev: torch.device):
    """--precision -> the autocast dtype (None: plain float32). "auto" takes bf16 where the hardware has it:
    on this project's 2-core Sapphire Rapids CPU a training step takes 0.63 s instead of 0.86 s (bench_torch.py
    --train). Weights, optimiser state, the loss and GroupNorm stay float32; the exported model is float32."""
    if precision == "fp32":
        return None
    if precision == "bf16":
        return torch.bfloat16
    if dev.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else None
    return torch.bfloat16 if cpu_has_bf16() else None


def save(path, model, ema, opt, step, p, data_meta, elapsed):
    tmp = path + ".tmp"
    torch.save({"model": model.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(), "step": step,
                "params": p.to_dict(), "data": data_meta, "elapsed_s": elapsed}, tmp)
    os.replace(tmp, path)  # never leave a half-written checkpoint


def load_model(path: str, use_ema: bool = True):
    """Checkpoint -> (EDMDenoiser in eval mode, Params, checkpoint dict)."""
    ck = torch.load(path, map_location="cpu")
    p = Params.from_dict(ck["params"])
    m = EDMDenoiser(p)
    m.load_state_dict(ck["ema" if use_ema else "model"])
    return m.eval(), p, ck


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cache", default=os.path.join(HERE, "data", "cache.npz"), help="dataset cache (.npz)")
    ap.add_argument("--data-dir", default=None, help="your own folder of labelled audio: <dir>/<class>/*.wav")
    ap.add_argument("--hydrogen-dir", default=HYDROGEN_DIR)
    ap.add_argument("--no-general", action="store_true", help="do not render the GM 'general' class")
    ap.add_argument("--rebuild", action="store_true", help="rebuild the dataset cache")
    ap.add_argument("--ckpt-dir", default=os.path.join(HERE, "checkpoints"))
    ap.add_argument("--minutes", type=float, default=110.0, help="wall-time budget of this run")
    ap.add_argument("--steps", type=int, default=None, help="stop at this step (default: time budget only)")
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--anneal-minutes", type=float, default=None,
                    help="decay the learning rate (cosine, to lr_floor) over this many minutes of total training time")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: all cores)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--precision", choices=["auto", "fp32", "bf16"], default="auto",
                    help="autocast dtype of the forward pass (auto: bf16 where the CPU/GPU computes it natively)")
    ap.add_argument("--fresh", action="store_true", help="ignore an existing checkpoint")
    ap.add_argument("--init", default=None, help="start a fresh run from this checkpoint's weights (same architecture)")
    ap.add_argument("--params", default=None, help='JSON overrides of Params for a fresh run, e.g. {"channels": [32, 64, 128]}')
    ap.add_argument("--log-every", type=int, default=25)
    ap.add_argument("--save-every-s", type=float, default=300)
    ap.add_argument("--snapshot-every-min", type=float, default=0,
                    help="also keep a copy of the checkpoint every this many minutes of training time, as "
                         "snapshot-<minutes>min-step<step>.pt (0 = none): evaluate them for a quality-vs-training-time curve")
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    last = os.path.join(a.ckpt_dir, "last.pt")
    resume = os.path.exists(last) and not a.fresh
    p = Params.from_dict(torch.load(last, map_location="cpu")["params"]) if resume else Params()
    if a.params and not resume:
        p = Params.from_dict({**p.to_dict(), **json.loads(a.params)})
    if p.descriptors not in (0, len(DESCRIPTOR_NAMES)):  # dataset.descriptors computes all of them, the engine takes all
        raise SystemExit(f"descriptors must be 0 (none) or {len(DESCRIPTOR_NAMES)} ({', '.join(DESCRIPTOR_NAMES)}), "
                         f"not {p.descriptors}")
    if a.batch_size:
        p.batch_size = a.batch_size
    if a.anneal_minutes is not None:
        p.anneal_minutes = a.anneal_minutes
    elif not resume and not a.init:
        p.anneal_minutes = a.minutes  # a fresh run decays its learning rate over its own budget
    if a.rebuild or not os.path.exists(a.cache):
        build_cache(p, a.cache, hydrogen_dir=a.hydrogen_dir, data_dir=a.data_dir, with_general=not a.no_general)
    data = ClipSet(a.cache)
    audio, cls, vel, _ = data.split(held=False)
    print(f"train clips {len(audio)}, held-out {int(data.is_held.sum())} ({', '.join(data.meta['heldOutKits'])})")
    if p.descriptors and not p.descriptor_prior:  # fitted once on the training clips, then kept in the checkpoint
        p.descriptor_prior = descriptor_prior(descriptors(audio, p.sample_rate_hz), cls, vel)
    sampler = BatchSampler(audio, cls, vel, p, seed=p.seed)
    torch.manual_seed(p.seed)
    model = EDMDenoiser(p).to(dev)
    ema = copy.deepcopy(model).eval()
    opt = torch.optim.AdamW(model.parameters(), lr=p.learning_rate, weight_decay=0.0)
    step, elapsed0 = 0, 0.0
    init_info = None
    if a.init and not resume:
        ick = torch.load(a.init, map_location=dev)
        model.load_state_dict(ick["model"]); ema.load_state_dict(ick["ema"])
        init_info = {"from": os.path.basename(a.init), "steps": ick["step"], "minutes": round(ick.get("elapsed_s", 0) / 60, 1)}
        elapsed0 = ick.get("elapsed_s", 0.0)  # training time so far includes the run it starts from
        print(f"initialised from {a.init} (step {ick['step']})")
    if resume:
        ck = torch.load(last, map_location=dev)
        model.load_state_dict(ck["model"]); ema.load_state_dict(ck["ema"]); opt.load_state_dict(ck["opt"])
        step, elapsed0 = ck["step"], ck.get("elapsed_s", 0.0)
        sampler.rng = np.random.default_rng(p.seed + step)
        print(f"resumed at step {step} ({elapsed0 / 60:.1f} min trained)")
    data_meta = {"cache": os.path.basename(a.cache), "heldOutKits": data.meta["heldOutKits"],
                 "kits": data.meta["kits"], "trainClips": int(len(audio)), "std": data.meta["std"]}
    if init_info or (resume and "init" in ck.get("data", {})):
        data_meta["init"] = init_info or ck["data"]["init"]
    os.makedirs(a.ckpt_dir, exist_ok=True)
    amp = autocast_dtype(a.precision, dev)
    data_meta["precision"] = "bf16" if amp is not None else "fp32"
    print(f"parameters {count_parameters(model)}, precision {data_meta['precision']}, params {json.dumps(p.to_dict())}")
    gen = torch.Generator().manual_seed(p.seed + step)
    t0 = time.time()
    t_save = t0
    snap_s = 60 * a.snapshot_every_min
    next_snap = (math.floor(elapsed0 / snap_s) + 1) * snap_s if snap_s > 0 else math.inf  # training time, earlier runs included
    budget = a.minutes * 60
    run_avg = None
    ema_params, model_params = list(ema.parameters()), list(model.parameters())  # operands of the clip and EMA, once
    while True:
        now = time.time() - t0
        if now >= budget or (a.steps is not None and step >= a.steps) or step >= p.max_steps:
            break
        x, c, v = sampler.batch(p.batch_size)  # [B,L], [B], [B]
        x = x[:, :crop_for(p, elapsed0 + now, x.shape[1])]  # [B,L'] early in training when p.crop_samples is set
        x0 = torch.from_numpy(x).unsqueeze(1).to(dev)
        desc = torch.from_numpy(descriptors(x, p.sample_rate_hz)).to(dev) if p.descriptors else None  # [B, D]
        lr = learning_rate(p, step, elapsed0 + time.time() - t0)
        for g in opt.param_groups:
            g["lr"] = lr
        with autocast(dev, amp):
            loss = edm_loss(model, x0, torch.from_numpy(c).to(dev), torch.from_numpy(v).to(dev), p, gen, desc)
        loss_value = loss.item()  # the step's one wait for the device
        if not math.isfinite(loss_value):
            save(os.path.join(a.ckpt_dir, "nan.pt"), model, ema, opt, step, p, data_meta, elapsed0 + now)
            raise FloatingPointError(f"loss is {loss_value} at step {step}: stopped (state in nan.pt)")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model_params, p.grad_clip)
        opt.step()
        decay = min(p.ema_decay, (1 + step) / (10 + step))
        with torch.no_grad():  # one fused call per op, not two per tensor: launch-bound on a GPU
            torch._foreach_mul_(ema_params, decay)
            torch._foreach_add_(ema_params, model_params, alpha=1 - decay)
        step += 1
        run_avg = loss_value if run_avg is None else 0.98 * run_avg + 0.02 * loss_value
        if step % a.log_every == 0:
            el = time.time() - t0
            rate = step_rate = (step - (ck["step"] if resume else 0)) / max(el, 1e-6)
            left = budget - el
            if a.steps is not None:
                left = min(left, (a.steps - step) / max(step_rate, 1e-9))
            print(f"step {step} loss {loss_value:.4f} avg {run_avg:.4f} lr {lr:.2e} "
                  f"{rate:.2f} steps/s elapsed {el / 60:.1f} min ETA {max(left, 0) / 60:.1f} min", flush=True)
        trained = elapsed0 + time.time() - t0
        if trained >= next_snap:
            save(os.path.join(a.ckpt_dir, f"snapshot-{trained / 60:06.1f}min-step{step:06d}.pt"), model, ema, opt, step, p, data_meta, trained)
            next_snap = (math.floor(trained / snap_s) + 1) * snap_s
        if time.time() - t_save > a.save_every_s:
            save(last, model, ema, opt, step, p, data_meta, elapsed0 + time.time() - t0)
            t_save = time.time()
    save(last, model, ema, opt, step, p, data_meta, elapsed0 + time.time() - t0)
    print(f"done: step {step}, checkpoint {last}")


if __name__ == "__main__":
    sys.exit(main())
