"""Evaluation on held-out kits: Frechet distance, classifier accuracy, diversity, copies; per class and pooled.

Reference R = real hits of the held-out kits. Beside the model (G, generated with the class and velocity of
each R item) the report puts the floor (T: real hits of the training kits, same class mix) and the ceiling
(N: decaying white-noise bursts). Features: MFCC mean/std over frames + a log-energy envelope (32 numbers).
Run: python3 -m diffusion_drums.evaluate --checkpoint checkpoints/last.pt --out ../models/drums
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
from scipy import linalg

from .params import CLASSES, NULL_CLASS_ID
from .dataset import ClipSet
from .sampling import generate, Autoguided

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SR = 44100


# --------------------------------------------------------------------------- features
def mel_filterbank(n_mels: int = 40, n_fft: int = 1024, sr: int = SR, fmin: float = 20.0, fmax: float = 20000.0):
    """Triangular mel filters (HTK mel scale) -> [n_mels, n_fft//2+1]."""
    mel = lambda f: 2595 * np.log10(1 + f / 700)
    inv = lambda m: 700 * (10 ** (m / 2595) - 1)
    pts = inv(np.linspace(mel(fmin), mel(fmax), n_mels + 2))
    freqs = np.linspace(0, sr / 2, n_fft // 2 + 1)
    fb = np.zeros((n_mels, len(freqs)))
    for i in range(n_mels):
        lo, c, hi = pts[i], pts[i + 1], pts[i + 2]
        fb[i] = np.clip(np.minimum((freqs - lo) / (c - lo), (hi - freqs) / (hi - c)), 0, None)
    return fb


_FB = mel_filterbank()


def stft_magnitude(x: np.ndarray, n_fft: int = 1024, hop: int = 256) -> np.ndarray:
    """x: [N, L] -> |STFT| [N, frames, n_fft/2+1], Hann window, frames starting at 0, hop apart (no padding)."""
    frames = 1 + (x.shape[1] - n_fft) // hop
    idx = np.arange(n_fft)[None, :] + hop * np.arange(frames)[:, None]  # [F, n_fft]
    return np.abs(np.fft.rfft(x[:, idx] * np.hanning(n_fft), axis=-1))


def log_mel(x: np.ndarray, n_fft: int = 1024, hop: int = 256):
    """x: [N, L] -> log-mel power [N, frames, 40]."""
    return np.log(stft_magnitude(x, n_fft, hop) ** 2 @ _FB.T + 1e-8)


def features(x: np.ndarray, n_mfcc: int = 13) -> np.ndarray:
    """x: [N, L] clips -> [N, 32]: MFCC mean (13), MFCC std (13), log energy at 6 log-spaced times (6)."""
    lm = log_mel(np.asarray(x, np.float64))  # [N, F, M]
    m = lm.shape[-1]
    dct = np.cos(np.pi / m * (np.arange(m) + 0.5)[None, :] * np.arange(n_mfcc)[:, None])  # [n_mfcc, M]
    mfcc = lm @ dct.T  # [N, F, n_mfcc]
    energy = np.log(np.exp(lm).sum(-1) + 1e-8)  # [N, F]
    f = lm.shape[1]
    at = np.unique(np.geomspace(1, f - 1, 6).astype(int))
    env = energy[:, at]
    env = np.pad(env, ((0, 0), (0, 6 - env.shape[1])), mode="edge")
    return np.concatenate([mfcc.mean(1), mfcc.std(1), env], axis=1)


# --------------------------------------------------------------------------- metrics
def frechet_distance(a: np.ndarray, b: np.ndarray, ridge: float = 1e-4) -> float:
    """||mu_a - mu_b||^2 + Tr(Sa + Sb - 2 (Sa Sb)^1/2) between Gaussians fitted to feature sets [N, D]."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    d = a.shape[1]
    sa = np.cov(a, rowvar=False) if len(a) > 1 else np.zeros((d, d))
    sb = np.cov(b, rowvar=False) if len(b) > 1 else np.zeros((d, d))
    sa = sa + ridge * np.eye(d)
    sb = sb + ridge * np.eye(d)
    covmean = linalg.sqrtm(sa @ sb)
    covmean = covmean.real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(sa + sb - 2 * covmean))


def frechet_mean_part(a: np.ndarray, b: np.ndarray) -> float:
    """||mu_a - mu_b||^2: the share of the Fréchet distance due to a shift of the mean (the rest is covariance)."""
    return float(((a.mean(0) - b.mean(0)) ** 2).sum())


def spread_ratio(a: np.ndarray, b: np.ndarray) -> float:
    """Mean over features of std(a) / std(b): below 1, set a varies less than b along the average feature."""
    return float(np.mean(a.std(0) / (b.std(0) + 1e-12)))


class Standardizer:
    def __init__(self, f):
        self.mu, self.sd = f.mean(0), f.std(0) + 1e-6

    def __call__(self, f):
        return (f - self.mu) / self.sd


class Classifier:
    """Multinomial logistic regression on standardised features (L-BFGS), fitted on real training hits."""

    def __init__(self, feats: np.ndarray, labels: np.ndarray, n_classes: int, l2: float = 1e-3):
        self.std = Standardizer(feats)
        x = torch.tensor(self.std(feats), dtype=torch.float64)
        y = torch.tensor(labels, dtype=torch.long)
        self.lin = torch.nn.Linear(x.shape[1], n_classes).double()
        opt = torch.optim.LBFGS(self.lin.parameters(), max_iter=300, line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(self.lin(x), y) + l2 * (self.lin.weight ** 2).sum()
            loss.backward()
            return loss

        opt.step(closure)

    def predict(self, feats):
        with torch.no_grad():
            return self.lin(torch.tensor(self.std(feats), dtype=torch.float64)).argmax(1).numpy()

    def accuracy(self, feats, labels) -> float:
        return float((self.predict(feats) == labels).mean()) if len(labels) else float("nan")


def unseen_kit_accuracy(feats: np.ndarray, labels: np.ndarray, kits, n_classes: int, classes=CLASSES) -> dict:
    """Accuracy of the classifier on real drum hits of kits it was not fitted on: each training kit left out in turn,
    the classifier refitted on the rest and scored on it. -> {"drums": accuracy, class: accuracy}.

    Why: the accuracy floor is the classifier's score on the hits it was fitted on (in-sample), which flatters it;
    this says what real drums of a new kit score, the yardstick a generated hit (also new) stands beside."""
    kits = np.asarray(kits)
    pred = np.full(len(labels), -1)
    for k in sorted(set(kits.tolist())):
        out = kits == k
        if len(set(labels[~out].tolist())) < 2:
            continue
        pred[out] = Classifier(feats[~out], labels[~out], n_classes).predict(feats[out])
    drums = (labels != classes.index("general")) & (pred >= 0) if "general" in classes else pred >= 0
    res = {"drums": float((pred[drums] == labels[drums]).mean()) if drums.any() else float("nan")}
    for c in sorted(set(labels[drums].tolist())):
        m = drums & (labels == c)
        res[classes[c]] = float((pred[m] == c).mean())
    return res


def mean_pairwise_distance(f: np.ndarray) -> float:
    if len(f) < 2:
        return float("nan")
    d = np.sqrt(((f[:, None, :] - f[None, :, :]) ** 2).sum(-1))
    return float(d[np.triu_indices(len(f), 1)].mean())


def max_xcorr(gen: np.ndarray, ref: np.ndarray, max_lag: int = 8192) -> np.ndarray:
    """For each clip of gen [N, L]: max over ref [M, L] and lags |k| <= max_lag of the normalised
    cross-correlation sum x(t) y(t+k) / (|x| |y|). 1.0 = an exact (shifted) copy; > 0.9 counts as a copy. -> [N]

    Clips start at their onset, so a copy sits near lag 0; an FFT of L + max_lag points keeps those lags exact.
    """
    if len(gen) == 0 or len(ref) == 0:
        return np.zeros(len(gen))
    nfft = 1 << (gen.shape[1] + max_lag - 1).bit_length()
    norm = lambda a: torch.tensor(a / (np.linalg.norm(a, axis=1, keepdims=True) + 1e-12), dtype=torch.float32)
    g = torch.fft.rfft(norm(gen), nfft)
    r = torch.fft.rfft(norm(ref), nfft).conj()
    lags = torch.cat([torch.arange(0, max_lag + 1), torch.arange(nfft - max_lag, nfft)])
    out = np.zeros(len(gen))
    for i in range(len(gen)):
        cc = torch.fft.irfft(g[i][None, :] * r, nfft)[:, lags]  # [M, 2*max_lag+1]
        out[i] = float(cc.abs().max())
    return out


def noise_bursts(n: int, length: int, rng: np.random.Generator) -> np.ndarray:
    """The ceiling: white noise under an exponential decay (10..300 ms), random peak 0.3..0.95. -> [n, length]"""
    t = np.arange(length) / SR
    tau = np.exp(rng.uniform(np.log(0.01), np.log(0.3), size=(n, 1)))
    x = rng.standard_normal((n, length)) * np.exp(-t[None, :] / tau)
    return (x / np.abs(x).max(1, keepdims=True) * rng.uniform(0.3, 0.95, (n, 1))).astype(np.float32)


def tail_dbfs(x: np.ndarray, tail_s: float = 0.1, floor_db: float = -120.0) -> np.ndarray:
    """RMS level of each clip's last tail_s seconds in dBFS (a full-scale sine reads -3), floored at floor_db
    (trimmed samples end in exact zeros). x: [N, L] -> [N]"""
    tail = np.asarray(x, np.float64)[:, -int(tail_s * SR):]
    return np.maximum(20 * np.log10(np.sqrt((tail ** 2).mean(1)) + 1e-30), floor_db)


# The engine's one-shot finish (engine/.../Realtime/OneShotTail.cs): Diffusion Drums and the studio's generate apply
# it to every generated hit, so "as played" rows measure what a producer hears. Constants as there (a test checks them).
FINISH_FLOOR_DB = -50.0
FINISH_FADE_S = 0.010
FINISH_WINDOW_S = 0.005
FINISH_MAX_PEAK = 0.95


def one_shot_finish(hit: np.ndarray, sample_rate_hz: float = SR, floor_db: float = FINISH_FLOOR_DB,
                    max_peak: float = FINISH_MAX_PEAK) -> np.ndarray:
    """One hit [L] -> a finished copy [L], as OneShotTail.Finish does it: scaled down to peak at max_peak when it
    peaks above it; kept bit-exact up to the end of the last 5 ms window (aligned from the start) whose RMS is above
    floor_db relative to the peak; a 10 ms raised-cosine fade after it (or over the last 10 ms when the sound lasts to
    the end); exact zeros after. A silent or non-finite hit comes back as zeros."""
    h = np.array(hit, dtype=np.float32)
    peak = float(np.abs(h).max()) if len(h) else 0.0
    if not (peak > 0.0) or not math.isfinite(peak):
        return np.zeros_like(h)
    if max_peak > 0.0 and peak > max_peak:
        h *= np.float32(max_peak / peak)
        peak = max_peak
    window = max(1, int(FINISH_WINDOW_S * sample_rate_hz))
    fade = max(1, int(FINISH_FADE_S * sample_rate_hz))
    floor_sq = (peak * 10.0 ** (min(0.0, floor_db) / 20.0)) ** 2
    n = len(h)
    padded = np.zeros(-(-n // window) * window)
    padded[:n] = h.astype(np.float64) ** 2
    counts = np.minimum(window, n - np.arange(0, n, window))
    above = np.flatnonzero(padded.reshape(-1, window).sum(1) / counts > floor_sq)
    keep = 0 if len(above) == 0 else min(n, (int(above[-1]) + 1) * window)
    start = keep if keep + fade <= n else max(0, n - fade)
    end = min(n, start + fade)
    i = np.arange(start, end)
    h[start:end] = (h[start:end] * (0.5 + 0.5 * np.cos(np.pi * (i - start + 1) / (fade + 1)))).astype(np.float32)
    h[end:] = 0.0
    return h


AS_PLAYED = ", as played (one-shot finish)"
CALIBRATED = ", as played (calibrated, one-shot finish)"


def as_played(audio: np.ndarray, cls: np.ndarray, classes=CLASSES, calibration: dict = None,
              velocity: np.ndarray = None) -> np.ndarray:
    """[N, L] generated clips -> what the plugin plays: drum hits through one_shot_finish, after the model's spectral
    calibration at each hit's velocity [N] when one is given (calibrate.apply, as the engine's
    SpectralCalibrationFilter) and then at the calibration's tail floor (calibrate.finish_floor_db); "general" clips
    (the widener's material, never finished or calibrated) unchanged."""
    gen = classes.index("general") if "general" in classes else -1
    floors = np.full(len(audio), FINISH_FLOOR_DB)
    if calibration is not None:
        from .calibrate import apply, finish_floor_db
        if velocity is None:
            raise ValueError("as_played: a calibration needs the hits' velocities")
        audio = [x if c == gen else apply(x, classes[int(c)], calibration, v) for x, c, v in zip(audio, cls, velocity)]
        floors = [finish_floor_db(calibration, classes[int(c)]) for c in cls]
    return (np.stack([x if c == gen else one_shot_finish(x, floor_db=f) for x, c, f in zip(audio, cls, floors)])
            if len(audio) else audio)


def spectral_stats(x: np.ndarray) -> dict:
    """Listen-proxy numbers: spectral centroid (Hz), time to fall 30 dB below the peak frame (ms), peak level,
    peak and tail (last 100 ms) level in dBFS."""
    lm = log_mel(np.asarray(x, np.float64))  # [N, F, M]
    p = np.exp(lm)
    centers = np.linspace(0, 1, p.shape[-1])
    mel = lambda f: 2595 * np.log10(1 + f / 700)
    hz = 700 * (10 ** (np.linspace(mel(20), mel(20000), p.shape[-1] + 2)[1:-1] / 2595) - 1)
    e = p.sum(-1)  # [N, F]
    cen = (p.sum(1) * hz).sum(-1) / (p.sum((1, 2)) + 1e-12)
    db = 10 * np.log10(e + 1e-12)
    decay = []
    for row in db:
        k = int(row.argmax())
        below = np.flatnonzero(row[k:] < row[k] - 30)
        decay.append((below[0] if len(below) else len(row) - k) * 256 / SR * 1000)
    peaks = np.abs(x).max(1)
    return {"centroidHz": float(np.median(cen)), "decay30dBms": float(np.median(decay)), "peak": float(np.median(peaks)),
            "peakDbfs": float(np.median(20 * np.log10(peaks + 1e-12))), "tailDbfs": float(np.median(tail_dbfs(x)))}


# --------------------------------------------------------------------------- the report
def evaluate_sets(real_train, real_train_cls, ref, ref_cls, candidates: dict, classes=CLASSES, max_copy_refs: int = 160,
                  check_copies=lambda name: name.startswith("model")):
    """Metrics of each candidate set {name: (audio [N,L], class [N])} against the reference (held-out) set.

    Returns {name: {"pooled": {...}, "kits": {...}, "perClass": {class: {...}}}}: "pooled" over every class,
    "kits" the same figures over the drum classes only (every class but "general": the held-out kits the bars
    speak of), absent when a set has fewer than two drum hits.
    """
    f_train = features(real_train)
    f_ref = features(ref)
    clf = Classifier(f_train, real_train_cls, len(classes))
    std = Standardizer(f_train)
    out = {}
    for name, (audio, cls) in candidates.items():
        f = features(audio)
        res = {"count": int(len(audio)), "trainAccuracy": clf.accuracy(f_train, real_train_cls)}
        pooled = {"frechet": frechet_distance(std(f), std(f_ref)), "accuracy": clf.accuracy(f, cls),
                  "frechetMean": frechet_mean_part(std(f), std(f_ref)), "spread": spread_ratio(std(f), std(f_ref))}
        per, ratios, copies = {}, [], 0
        xc_all = np.zeros(len(audio))
        for c in sorted(set(ref_cls.tolist())):
            mg, mr, mt = cls == c, ref_cls == c, real_train_cls == c
            if not mg.any():
                continue
            ref_t = real_train[mt]
            if len(ref_t) > max_copy_refs:  # only "general" (GM renders) is this large: check a fixed subset
                ref_t = ref_t[np.random.default_rng(0).choice(len(ref_t), max_copy_refs, replace=False)]
            xc = max_xcorr(audio[mg], ref_t) if check_copies(name) else np.full(int(mg.sum()), np.nan)
            xc_all[mg] = xc
            div = mean_pairwise_distance(std(f[mg])) / mean_pairwise_distance(std(f_ref[mr]))
            per[classes[c]] = {"n": int(mg.sum()), "frechet": frechet_distance(std(f[mg]), std(f_ref[mr])),
                               "accuracy": clf.accuracy(f[mg], cls[mg]), "diversity": div,
                               "copies": int((xc > 0.9).sum()), "maxXcorr": float(np.max(xc)),
                               **spectral_stats(audio[mg])}
            if np.isfinite(div):
                ratios.append((div, int(mg.sum())))
            copies += int((xc > 0.9).sum())
        pooled["diversity"] = float(sum(r * n for r, n in ratios) / max(1, sum(n for _, n in ratios)))
        pooled["copies"] = copies if check_copies(name) else None
        pooled["medianMaxXcorr"] = float(np.median(xc_all)) if len(xc_all) and check_copies(name) else None
        res["pooled"] = pooled
        kit = [classes.index(c) for c in classes if c != "general"]
        mg, mr = np.isin(cls, kit), np.isin(ref_cls, kit)
        if mg.sum() > 1 and mr.sum() > 1:  # the held-out kits alone: the drum classes, pooled the same way
            kit_div = [(per[classes[c]]["diversity"], per[classes[c]]["n"]) for c in kit
                       if classes[c] in per and np.isfinite(per[classes[c]]["diversity"])]
            res["kits"] = {"frechet": frechet_distance(std(f[mg]), std(f_ref[mr])), "accuracy": clf.accuracy(f[mg], cls[mg]),
                           "frechetMean": frechet_mean_part(std(f[mg]), std(f_ref[mr])),
                           "spread": spread_ratio(std(f[mg]), std(f_ref[mr])),
                           "diversity": float(sum(r * n for r, n in kit_div) / max(1, sum(n for _, n in kit_div))),
                           "copies": sum(per[classes[c]]["copies"] for c in kit if classes[c] in per) if check_copies(name) else None,
                           "medianMaxXcorr": float(np.median(xc_all[mg])) if check_copies(name) else None}
        res["perClass"] = per
        out[name] = res
    return out


def match_training(real_train, real_train_cls, ref_cls, rng):
    """Real training hits with the same class mix as the reference set (the floor)."""
    idx = []
    for c in ref_cls:
        pool = np.flatnonzero(real_train_cls == c)
        idx.append(pool[rng.integers(len(pool))])
    idx = np.array(idx)
    return real_train[idx], real_train_cls[idx]


def run_name(sampler, steps, guidance, sigma_min=None, eta=0.0, guidance_max_sigma=None, default_sigma_min=None,
             autoguidance=None) -> str:
    """The report's row name of one sampling setting: sigma_min only where it differs from the run's, eta for ddim,
    the guidance interval whenever one is set and guidance is on (inf: guidance at every sigma); autoguidance:
    (weight, min sigma, guide's training steps) when the row's model is autoguided (sampling.Autoguided)."""
    name = f"model {sampler} {steps} steps, guidance {guidance}"
    if autoguidance is not None:
        w, lo, guide_steps = autoguidance
        name = f"model {sampler} {steps} steps, autoguidance {w:g} above σ {lo:g} (guide: {guide_steps} steps), guidance {guidance}"
    if sigma_min != default_sigma_min:
        name += f", sigma_min {sigma_min}"
    if sampler == "ddim":
        name += f", eta {eta}"
    if guidance_max_sigma is not None and guidance != 1.0:
        name += (", guidance at every σ" if math.isinf(guidance_max_sigma)
                 else f", guidance only at σ ≤ {guidance_max_sigma:g}")
    return name


def generate_row(model, cls_t, vel_t, length: int, sampler: str, steps: int, guidance: float, sigma_min, eta: float,
                 guidance_max_sigma, autoguide, seed: int) -> np.ndarray:
    """One report row's hits [N, length] for classes cls_t and velocities vel_t [N], 32 per batch, batch b seeded
    seed + b. guidance_max_sigma None or inf: guidance at every sigma; autoguide: (guide model, weight, min sigma) or
    None."""
    limit = None if guidance_max_sigma is None or math.isinf(guidance_max_sigma) else guidance_max_sigma
    den = model if autoguide is None else Autoguided(model, autoguide[0], autoguide[1], autoguide[2])
    return np.concatenate([generate(den, cls_t[b:b + 32], vel_t[b:b + 32], length, steps, sampler, guidance,
                                    seed=seed + b, sigma_min=sigma_min, null_class_id=NULL_CLASS_ID, eta=eta,
                                    guidance_max_sigma=limit).numpy()
                           for b in range(0, len(cls_t), 32)])


def generated_items(ref_c: np.ndarray, per_item: int) -> np.ndarray:
    """Indices into the reference [N] of the hits generated for it, in generation order: per_item per drum hit, one
    per general clip (run and seed_spread use the same list, so a seed draws the same noise for an item in both)."""
    return np.repeat(np.arange(len(ref_c)), np.where(ref_c == CLASSES.index("general"), 1, per_item))


def seed_spread(model, data: ClipSet, seeds, sampler: str, steps: int, guidance: float, sigma_min, guidance_max_sigma,
                autoguide=None, per_item: int = 2, calibration: dict = None, log=print) -> dict:
    """The shipped row's held-out-kit figures with its hits regenerated at other noise seeds.
    -> {"perSeed": {seed: kits figures}, "allSeeds": kits figures of every seed's hits together, or None for one seed}.
    Why: with two hits per reference hit (136 on the drum classes) the figures move by a few hundredths from one
    noise draw to the next, as much as some margins to the bars; one draw cannot tell a pass from luck. Every seed's
    hits scored as one set (len(seeds) x per_item hits per reference hit) is the steadier estimate of the same
    figures: its accuracy is the seeds' mean, its diversity close to it, and its Frechet distance carries less of the
    small-sample bias that inflates a Frechet distance of few hits. Drum classes only (the general clips do not enter
    the bars), as played (calibrated when a calibration is given)."""
    tr_a, tr_c, _, _ = data.split(held=False)
    ref_a, ref_c, ref_v, _ = data.split(held=True)
    general = CLASSES.index("general")
    drums = ref_c != general
    # The same items in the same batches as run() (general clips included), so the report's own seed gives its row.
    idx = generated_items(ref_c, per_item)
    keep = ref_c[idx] != general
    out, every = {}, []
    for s in seeds:
        t = time.time()
        audio = generate_row(model, torch.tensor(ref_c[idx]), torch.tensor(ref_v[idx]), ref_a.shape[1], sampler, steps,
                             guidance, sigma_min, 0.0, guidance_max_sigma, autoguide, s)[keep]
        played = as_played(audio, ref_c[idx][keep], calibration=calibration, velocity=ref_v[idx][keep])
        res = evaluate_sets(tr_a, tr_c, ref_a[drums], ref_c[drums], {"model": (played, ref_c[idx][keep])})["model"]
        out[int(s)] = res["kits"]
        every.append(played)
        log(f"noise seed {s}: {res['kits']['frechet']:.2f} / {res['kits']['accuracy']:.3f} / "
            f"{res['kits']['diversity']:.2f}, {res['kits']['copies']} copies ({time.time() - t:.0f} s)")
    together = None
    if len(every) > 1:
        cls = np.tile(ref_c[idx][keep], len(every))
        together = evaluate_sets(tr_a, tr_c, ref_a[drums], ref_c[drums], {"model": (np.concatenate(every), cls)})["model"]["kits"]
        log(f"every seed together: {together['frechet']:.2f} / {together['accuracy']:.3f} / {together['diversity']:.2f}, "
            f"{together['copies']} copies")
    return {"perSeed": out, "allSeeds": together}


def run(model, data: ClipSet, steps_list, sampler, guidance, per_item: int = 2, seed: int = 0, log=print,
        extra_guidance=(), sigma_min=None, extra_sigma_min=(), extra_eta=(), guidance_max_sigma=None,
        extra_guidance_max_sigma=(), guide=None, autoguidance=(), played: bool = True, calibration: dict = None):
    """guidance_max_sigma: the guidance interval of every row (None: every sigma); extra_guidance_max_sigma: more
    intervals tried at the middle step count (inf = guidance at every sigma). guide: (model, its training steps), a
    weaker model for the autoguidance rows at the middle step count, one per (weight, min sigma, classifier-free
    guidance) in autoguidance. played: beside each model row, the same hits as the plugin plays them (as_played), and
    with a calibration (calibrate.load) also calibrated first, as the plugin plays them when the model ships one."""
    rng = np.random.default_rng(seed)
    tr_a, tr_c, _, _ = data.split(held=False)
    ref_a, ref_c, ref_v, ref_k = data.split(held=True)
    gen_idx = generated_items(ref_c, per_item)
    cls_t = torch.tensor(ref_c[gen_idx])
    vel_t = torch.tensor(ref_v[gen_idx])
    floor = match_training(tr_a, tr_c, ref_c, rng)
    noise = (noise_bursts(len(ref_a), ref_a.shape[1], rng), ref_c.copy())
    cands = {"real held-out hits (the reference itself)": (ref_a, ref_c),
             "real training hits (floor)": floor, "noise bursts (ceiling)": noise}
    timing = {}
    mid = steps_list[len(steps_list) // 2]
    gms = guidance_max_sigma
    runs = ([(sampler, s, guidance, sigma_min, 0.0, gms, None) for s in steps_list]
            + [(sampler, mid, g, sigma_min, 0.0, gms, None) for g in extra_guidance]
            + [(sampler, mid, guidance, m, 0.0, gms, None) for m in extra_sigma_min]
            + [("ddim", mid, guidance, sigma_min, e, gms, None) for e in extra_eta]
            + [(sampler, mid, guidance, sigma_min, 0.0, x, None) for x in extra_guidance_max_sigma]
            + ([(sampler, mid, cfg, sigma_min, 0.0, gms, (w, lo, guide[1])) for w, lo, cfg in autoguidance] if guide else []))
    for smp, steps, g, smin, eta, gmax, ag in runs:
        t = time.time()
        audio = generate_row(model, cls_t, vel_t, ref_a.shape[1], smp, steps, g, smin, eta, gmax,
                             None if ag is None else (guide[0], ag[0], ag[1]), seed)
        name = run_name(smp, steps, g, smin, eta, gmax, sigma_min, ag)
        timing[name] = time.time() - t
        log(f"{name}: generated {len(audio)} clips in {timing[name]:.1f} s")
        cands[name] = (audio, ref_c[gen_idx])
        if played:
            cands[name + AS_PLAYED] = (as_played(audio, ref_c[gen_idx]), ref_c[gen_idx])
            timing[name + AS_PLAYED] = timing[name]
            if calibration is not None:
                cands[name + CALIBRATED] = (as_played(audio, ref_c[gen_idx], calibration=calibration,
                                                      velocity=ref_v[gen_idx]), ref_c[gen_idx])
                timing[name + CALIBRATED] = timing[name]
    res = evaluate_sets(tr_a, tr_c, ref_a, ref_c, cands)
    return res, timing, cands


def spectrogram_dbfs(x: np.ndarray, n_fft: int = 1024, hop: int = 256) -> np.ndarray:
    """[L] -> [n_fft/2+1, frames] magnitude in dBFS (a full-scale sine reads 0 dB), Hann window, centred frames."""
    centred = np.pad(x, (n_fft // 2, n_fft // 2))[None, :]  # frame k centred on sample k * hop
    return 20 * np.log10(stft_magnitude(centred, n_fft, hop)[0].T * 2 / np.hanning(n_fft).sum() + 1e-6)


def plot_examples(audio: np.ndarray, names, title: str, path: str, sr: int = SR):
    """Waveform over spectrogram (dBFS, Hann 1024 / hop 256), one column per clip: the pictures beside the WAVs.
    audio: [N, L]; names: N labels. matplotlib is imported here so the metrics never depend on it."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    n = len(audio)
    fig, ax = plt.subplots(2, n, figsize=(2.6 * n, 4.2), squeeze=False, sharey="row")
    t = np.arange(audio.shape[1]) / sr
    for i, (x, name) in enumerate(zip(audio, names)):
        ax[0, i].plot(t, x, lw=0.5, color="#1f4e79")
        ax[0, i].set_ylim(-1, 1)
        ax[0, i].set_title(name, fontsize=9)
        im = ax[1, i].imshow(spectrogram_dbfs(x), origin="lower", aspect="auto", cmap="inferno", vmin=-90, vmax=-10,
                             extent=(0, len(x) / sr, 0, sr / 2000))
        ax[1, i].set_xlabel("s")
    ax[0, 0].set_ylabel("amplitude")
    ax[1, 0].set_ylabel("kHz")
    fig.colorbar(im, ax=ax[1, :].tolist(), label="dBFS", fraction=0.01)
    fig.suptitle(title)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_report(path, res, timing, meta, defaults_key, spread: dict = None):
    """spread: seed_spread's result for the shipped row as played ({"perSeed": ..., "allSeeds": ...}), or None."""
    L = ["# Diffusion Drums: evaluation on held-out kits", "",
         f"Held-out (never trained on): {', '.join(meta['heldOutKits'])}. Reference: their {meta['refCount']} real hits; "
         f"model hits are generated with each reference hit's class and velocity ({meta['perItem']} per drum hit, 1 per general clip).",
         "Copies: max normalised cross-correlation (lags ±8192) with every training hit of the class (general: 160 fixed random training clips).",
         f"Checkpoint: step {meta['step']}"
         + (f" of a run started from the weights of an earlier one ({meta['initSteps']} steps)" if meta.get("initSteps") else "")
         + f", {meta['trainingMinutes']} min of training in all. Generated by `{meta['command']}`."
         + (f" Karras schedule over sigma {meta['sigmaMin']} … {meta['sigmaMax']} unless a row says otherwise." if "sigmaMin" in meta else ""),
         "Features: 13 MFCC means + 13 MFCC stds + 6-point log-energy envelope, standardised on real training hits.",
         "Floor = real hits of the training kits (same class mix); ceiling = decaying white-noise bursts.",
         "Rows ending \"" + AS_PLAYED.lstrip(", ") + "\" are the row before them as Diffusion Drums and the studio's "
         "generate play them: each drum hit through the engine's one-shot finish (`OneShotTail.Finish`: scaled down to "
         f"peak at {FINISH_MAX_PEAK} if it peaks above, kept to {FINISH_FLOOR_DB:g} dB below its peak, a "
         f"{FINISH_FADE_S * 1000:g} ms fade, then exact silence); general clips unchanged."
         + (" Rows ending \"" + CALIBRATED.lstrip(", ") + "\" go through the model's spectral calibration first "
            "(`calibration.json`, `SpectralCalibrationFilter`: a per-class, per-frame EQ fitted on the model's hits for "
            "training-kit conditions against the training kits' real hits; no held-out hit is used to fit it) and are "
            f"then finished at the calibration's tail floor ({FINISH_FLOOR_DB if meta.get('tailFloorDb') is None else meta['tailFloorDb']:g} dB below the "
            "peak), as Diffusion Drums plays them when the model ships one." if meta.get("calibration") else ""), ""]

    def table(key, title, note):
        rows = [(n, r[key]) for n, r in res.items() if key in r]
        if not rows:
            return []
        out = [title, "", note, "",
               "| set | Fréchet ↓ | of which mean shift | feature spread (→1) | classifier acc ↑ | diversity ratio (→1) "
               "| copies (xcorr>0.9) | median max xcorr | generation s |",
               "|---|---|---|---|---|---|---|---|---|"]
        for name, p in rows:
            xc = "n/a" if p["medianMaxXcorr"] is None else f"{p['medianMaxXcorr']:.2f}"
            cp = "n/a" if p["copies"] is None else p["copies"]
            out.append(f"| {name} | {p['frechet']:.2f} | {p['frechetMean']:.2f} | {p['spread']:.2f} | {p['accuracy']:.3f} | "
                       f"{p['diversity']:.2f} | {cp} | {xc} | {timing.get(name, 0):.0f} |")
        return out + [""]

    L += table("kits", "## Held-out kits (drum classes; the bars)",
               "The bars speak of held-out kits: these figures leave out the general clips (the widener's material).")
    anyr = next(iter(res.values()))  # the reference itself: its per-class counts are the reference's
    n_general = anyr["perClass"].get("general", {}).get("n", 0)
    L += table("pooled", "## Pooled over every class (drums and general)",
               "Every class, general included (earlier reports' only table, and the one their bars were "
               f"checked on): general clips are {n_general} of the {meta['refCount']} reference items.")
    L += ["", "Mean shift: ||mean difference||² of the standardised features, the part of the Fréchet distance a "
          "better average sound would remove; the rest comes from the covariance. Feature spread: standard deviation "
          "of each feature over the set / over the reference, averaged over features (pooled over classes).", "", f"Classifier (logistic regression on the features) accuracy on the real training hits it was fitted on: "
          f"{anyr['trainAccuracy']:.3f}."]
    if "unseenKitAccuracy" in meta:
        u = meta["unseenKitAccuracy"]
        real = res.get("real held-out hits (the reference itself)", {}).get("kits", {})
        L += [f"For scale (not a bar): on real drum hits of kits it was not fitted on it scores {u['drums']:.3f} (each "
              f"training kit left out in turn, the classifier refitted on the others"
              + (f"; the held-out kits' own hits {real['accuracy']:.3f}" if "accuracy" in real else "") + ") — the floor "
              "below is in-sample, so real drums of a new kit fall short of it too. Per class: "
              + ", ".join(f"{c} {a:.2f}" for c, a in u.items() if c != "drums") + "."]
    L += [""]
    floor_name = "real training hits (floor)"

    def bars(name, key):
        mp, fl = res[name][key], res[floor_name][key]
        return [f"- Fréchet ≤ 1.5 × floor: {mp['frechet']:.2f} vs {1.5 * fl['frechet']:.2f} → "
                f"{'pass' if mp['frechet'] <= 1.5 * fl['frechet'] else 'FAIL'}",
                f"- classifier accuracy ≥ floor: {mp['accuracy']:.3f} vs {fl['accuracy']:.3f} → "
                f"{'pass' if mp['accuracy'] >= fl['accuracy'] else 'FAIL'}",
                f"- copies = 0: {mp['copies']} → {'pass' if mp['copies'] == 0 else 'FAIL'}",
                f"- diversity ratio ≥ 0.8: {mp['diversity']:.2f} → {'pass' if mp['diversity'] >= 0.8 else 'FAIL'}"]

    m = res.get(defaults_key)
    played_key = defaults_key + (CALIBRATED if defaults_key + CALIBRATED in res else AS_PLAYED)
    played = res.get(played_key)
    if m:
        L += ["## Bars (shipped defaults: " + defaults_key + ")", ""]
        if played and "kits" in played and "kits" in res[floor_name]:
            L += ["Held-out kits, as played" + (" (calibrated)" if played_key.endswith(CALIBRATED) else "") + ":", ""]
            L += bars(played_key, "kits") + [""]
            if spread:
                fl = res[floor_name]["kits"]
                L += [f"The same row regenerated with other noise seeds (hits of draw b seeded seed + b; the report's "
                      f"seed is {meta.get('seed', 0)}), as played" + (" (calibrated)" if played_key.endswith(CALIBRATED) else "")
                      + ", against the same floor:", "",
                      "| noise seed | Fréchet (bar ≤ " + f"{1.5 * fl['frechet']:.2f}) | accuracy (bar ≥ {fl['accuracy']:.3f}) "
                      "| copies (bar 0) | diversity (bar ≥ 0.8) | bars passed |", "|---|---|---|---|---|---|"]
                rows = [(str(sd), k) for sd, k in sorted(spread["perSeed"].items())]
                if spread.get("allSeeds"):
                    rows.append((f"all {len(spread['perSeed'])} seeds as one set ({len(spread['perSeed']) * meta.get('perItem', 2)} "
                                 "hits per reference hit)", spread["allSeeds"]))
                for label, k in rows:
                    ok = [k["frechet"] <= 1.5 * fl["frechet"], k["accuracy"] >= fl["accuracy"], k["copies"] == 0,
                          k["diversity"] >= 0.8]
                    L.append(f"| {label} | {k['frechet']:.2f} | {k['accuracy']:.3f} | {k['copies']} | {k['diversity']:.2f} "
                             f"| {sum(ok)} of 4 |")
                L += [""]
                if spread.get("allSeeds"):
                    L += ["The last row scores every seed's hits together: the steadier estimate of the same figures "
                          "(its accuracy is the seeds' mean; its Fréchet distance carries less of the small-sample bias "
                          "that inflates the Fréchet distance of a few hits).", ""]
            if played_key.endswith(CALIBRATED) and defaults_key + AS_PLAYED in res:
                L += ["Held-out kits, as played without the calibration:", ""] + bars(defaults_key + AS_PLAYED, "kits") + [""]
        if "kits" in m and "kits" in res[floor_name]:
            L += ["Held-out kits, the model's raw output:", ""] + bars(defaults_key, "kits") + [""]
        L += ["Every class pooled (general included), the model's raw output:", ""] + bars(defaults_key, "pooled") + [""]
        L += ["## Per class (" + defaults_key + " | floor | ceiling)", "",
              "| class | n | Fréchet | acc | diversity | copies | centroid Hz | decay −30 dB ms | real centroid Hz "
              "(held-out / training) | real decay ms (held-out / training) | peak dBFS (model / held-out / training) "
              "| tail dBFS (model / held-out / training) | as played" + (" (calibrated)" if played_key.endswith(CALIBRATED) else "")
              + ": Fréchet / acc / diversity |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        pl = played["perClass"] if played else {}
        fl = res["real training hits (floor)"]["perClass"]
        ce = res["noise bursts (ceiling)"]["perClass"]
        ref, trs = meta.get("refStats", {}), meta.get("trainStats", {})
        for c, v in m["perClass"].items():
            f, n = fl.get(c, {}), ce.get(c, {})
            rs, ts = ref.get(c, {}), trs.get(c, {})
            L.append(f"| {c} | {v['n']} | {v['frechet']:.1f} / {f.get('frechet', float('nan')):.1f} / {n.get('frechet', float('nan')):.1f} | "
                     f"{v['accuracy']:.2f} / {f.get('accuracy', float('nan')):.2f} / {n.get('accuracy', float('nan')):.2f} | "
                     f"{v['diversity']:.2f} / {f.get('diversity', float('nan')):.2f} | {v['copies']} | {v['centroidHz']:.0f} | "
                     f"{v['decay30dBms']:.0f} | {rs.get('centroidHz', float('nan')):.0f} / {ts.get('centroidHz', float('nan')):.0f} | "
                     f"{rs.get('decay30dBms', float('nan')):.0f} / {ts.get('decay30dBms', float('nan')):.0f} | "
                     f"{v['peakDbfs']:.1f} / {rs.get('peakDbfs', float('nan')):.1f} / {ts.get('peakDbfs', float('nan')):.1f} | "
                     f"{v['tailDbfs']:.0f} / {rs.get('tailDbfs', float('nan')):.0f} / {ts.get('tailDbfs', float('nan')):.0f} | "
                     + (f"{pl[c]['frechet']:.1f} / {pl[c]['accuracy']:.2f} / {pl[c]['diversity']:.2f} |" if c in pl else "– |"))
        L += ["", "Per-class Fréchet distances rest on a handful of hits each (n above): read them as rough. Levels are "
              "medians over the class; tail = rms of the last 100 ms, floored at −120 dBFS (trimmed samples end in "
              "exact zeros).", ""]
    with open(path, "w") as f:
        f.write("\n".join(L) + "\n")


def parse_autoguidance(spec: str):
    """"W@S" or "W@S+G" -> (weight W, min sigma S, classifier-free guidance G or 1.0)."""
    w, rest = spec.split("@")
    lo, _, cfg = rest.partition("+")
    return float(w), float(lo), float(cfg) if cfg else 1.0


def main(argv=None):
    from .train import load_model
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--checkpoint", default=os.path.join(HERE, "checkpoints", "last.pt"))
    ap.add_argument("--cache", default=os.path.join(HERE, "data", "cache.npz"))
    ap.add_argument("--out", default=os.path.join(HERE, "..", "models", "drums"))
    ap.add_argument("--steps", default="4,8,16,32", help="comma-separated step counts (quality-vs-steps table)")
    ap.add_argument("--sampler", default="dpmpp_2m")
    ap.add_argument("--guidance", type=float, default=1.0)
    ap.add_argument("--extra-guidance", default="", help="comma-separated guidance scales tried at the middle step count")
    ap.add_argument("--sigma-min", type=float, default=None,
                    help="lowest noise level of the schedule (default: the checkpoint's; export --sigma-min ships it)")
    ap.add_argument("--extra-sigma-min", default="", help="comma-separated sigma_min values tried at the middle step count")
    ap.add_argument("--extra-eta", default="", help="comma-separated DDIM eta values (stochastic sampling) tried at the middle step count")
    ap.add_argument("--guidance-max-sigma", type=float, default=None,
                    help="guidance only at sigma <= this, every row (default: every sigma; export ships it as defaults.guidanceMaxSigma)")
    ap.add_argument("--extra-guidance-max-sigma", default="",
                    help="comma-separated guidance limits tried at the middle step count (inf = guidance at every sigma)")
    ap.add_argument("--guide", default=None,
                    help="checkpoint of a weaker model (smaller, trained for less time) for the autoguidance rows")
    ap.add_argument("--autoguidance", default="",
                    help="comma-separated autoguidance settings tried at the middle step count with --guide, each "
                         "W@S (weight W above sigma S) or W@S+G (and classifier-free guidance G, else 1)")
    ap.add_argument("--default-autoguidance", default=None,
                    help="W@S or W@S+G: the shipped defaults are this autoguidance row (the bars are checked on it)")
    ap.add_argument("--default-steps", type=int, default=8)
    ap.add_argument("--per-item", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0, help="noise seed of the generated hits (and the floor's draw)")
    ap.add_argument("--spread-seeds", default="",
                    help="comma-separated noise seeds at which the shipped row (--default-steps, --default-autoguidance) "
                         "is regenerated and checked against the bars again (held-out kits, as played), e.g. 0,1000,2000")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--no-plots", action="store_true", help="skip examples/spectrograms.png and real-heldout.png")
    ap.add_argument("--calibration", default=None,
                    help="the model's calibration.json: add rows of hits calibrated, then finished, as the plugin plays them")
    ap.add_argument("--no-as-played", action="store_true",
                    help="leave out the rows of hits as the plugin plays them (through the engine's one-shot finish)")
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    model, p, ck = load_model(a.checkpoint)
    data = ClipSet(a.cache)
    steps = [int(s) for s in a.steps.split(",")]
    autoguidance = [parse_autoguidance(x) for x in a.autoguidance.split(",") if x]
    guide = None
    if a.guide:
        gm, _, gck = load_model(a.guide)
        guide = (gm, int(gck["step"]))
    calibration = None
    if a.calibration:
        from .calibrate import load as load_calibration
        calibration = load_calibration(a.calibration)
    extra = [float(g) for g in a.extra_guidance.split(",") if g]
    extra_smin = [float(m) for m in a.extra_sigma_min.split(",") if m]
    res, timing, cands = run(model, data, steps, a.sampler, a.guidance, a.per_item, seed=a.seed, extra_guidance=extra,
                             sigma_min=a.sigma_min, extra_sigma_min=extra_smin,
                             extra_eta=[float(e) for e in a.extra_eta.split(",") if e],
                             guidance_max_sigma=a.guidance_max_sigma,
                             extra_guidance_max_sigma=[float(x) for x in a.extra_guidance_max_sigma.split(",") if x],
                             guide=guide, autoguidance=autoguidance, played=not a.no_as_played,
                             calibration=calibration)
    ref_a, ref_c, _, _ = data.split(held=True)
    tr_a, tr_c, _, tr_k = data.split(held=False)
    unseen = unseen_kit_accuracy(features(tr_a), tr_c, tr_k, len(CLASSES))
    ref_stats = {CLASSES[c]: spectral_stats(ref_a[ref_c == c]) for c in sorted(set(ref_c.tolist()))}
    # training stats: what the model learnt from (a held-out kit may sit far from it)
    train_stats = {CLASSES[c]: spectral_stats(tr_a[tr_c == c]) for c in sorted(set(ref_c.tolist()))}
    meta = {"heldOutKits": data.meta["heldOutKits"], "refCount": int(len(ref_a)), "perItem": a.per_item,
            "step": ck["step"], "initSteps": int(ck.get("data", {}).get("init", {}).get("steps", 0)),
            "trainingMinutes": round(ck.get("elapsed_s", 0) / 60, 1),
            "sigmaMin": a.sigma_min if a.sigma_min is not None else p.sigma_min, "sigmaMax": p.sigma_max,
            "command": "python3 -m diffusion_drums.evaluate " + " ".join(argv if argv is not None else sys.argv[1:]),
            "refStats": ref_stats, "trainStats": train_stats, "unseenKitAccuracy": unseen,
            "calibration": calibration.get("fittedOn", True) if calibration else None,
            "tailFloorDb": float(calibration.get("tailFloorDb", FINISH_FLOOR_DB)) if calibration else None,
            "seed": a.seed}
    os.makedirs(a.out, exist_ok=True)
    # The shipped row: its guidance, and its autoguidance (weight, min sigma) when it has one.
    default_cfg, default_ag = a.guidance, None
    key = run_name(a.sampler, a.default_steps, a.guidance, a.sigma_min, 0.0, a.guidance_max_sigma, a.sigma_min)
    if a.default_autoguidance:
        w, lo, default_cfg = parse_autoguidance(a.default_autoguidance)
        default_ag = (w, lo)
        key = run_name(a.sampler, a.default_steps, default_cfg, a.sigma_min, 0.0, a.guidance_max_sigma, a.sigma_min,
                       (w, lo, guide[1] if guide else None))
    if key in cands:  # one generated hit per class to listen to (16-bit WAV, ~45 kB each)
        import soundfile as sf
        ex_dir = os.path.join(a.out, "examples")
        os.makedirs(ex_dir, exist_ok=True)
        shown_key = next((key + k for k in (CALIBRATED, AS_PLAYED) if key + k in cands), key)
        audio, cls = cands[shown_key]  # what the plugin plays
        shown = sorted(set(cls.tolist()))
        first = [int(np.flatnonzero(cls == c)[0]) for c in shown]
        for c, i in zip(shown, first):
            sf.write(os.path.join(ex_dir, f"{CLASSES[c]}.wav"), np.clip(audio[i], -1, 1), p.sample_rate_hz, subtype="PCM_16")
        if not a.no_plots:
            names = [CLASSES[c] for c in shown]
            plot_examples(audio[first], names, f"generated ({shown_key})", os.path.join(ex_dir, "spectrograms.png"))
            ref_first = [int(np.flatnonzero(ref_c == c)[0]) for c in shown]
            plot_examples(ref_a[ref_first], names, "real held-out hits (never trained on)",
                          os.path.join(ex_dir, "real-heldout.png"))
    spread = None
    if a.spread_seeds:
        ag = (guide[0], *default_ag) if default_ag and guide else None
        spread = seed_spread(model, data, [int(x) for x in a.spread_seeds.split(",") if x], a.sampler, a.default_steps,
                             default_cfg, a.sigma_min, a.guidance_max_sigma, ag, a.per_item, calibration)
    write_report(os.path.join(a.out, "EVALUATION.md"), res, timing, meta, key, spread)
    with open(os.path.join(a.out, "evaluation.json"), "w") as f:
        json.dump({"results": res, "timingSeconds": timing, "meta": meta,
                   "seedSpread": {str(k): v for k, v in spread["perSeed"].items()} if spread else None,
                   "allSeeds": spread["allSeeds"] if spread else None}, f, indent=1)
    print(open(os.path.join(a.out, "EVALUATION.md")).read())


if __name__ == "__main__":
    sys.exit(main())
