"""Spectral calibration: a per-class, time-varying EQ that moves the model's average hit onto the training kits'.

Why: the denoiser's errors are systematic per class (kicks keep a hiss 7-27 dB above real kicks from 0.4 to 17 kHz
for their whole body, where real kicks fall silent; see the README, What still fails). A classifier fitted on real
hits takes such kicks for percussion. Every fix in the model itself tried so far cost more elsewhere. The bias is
the same from hit to hit, so it can be measured once and taken out: generate hits with the training kits' classes
and velocities, compare their mean log-energy per (frame, band) with the real training hits', and store the
difference, clipped to [-max_cut_db, +max_boost_db] and smoothed over 3 frames, as a gain table per class and
velocity node (soft, medium, hard; interpolated in between). This is
bias correction of a generator against its own training data (no held-out hit is looked at), the way a mastering
engineer's matching EQ works, but in time as well as frequency: a kick's top is allowed through at its attack and
cut where real kicks have decayed.

Applied to a hit [L] at the model rate (engine: SpectralCalibration.cs, same definition; a shared fixture checks
both): the class's table at the hit's velocity (dB interpolated linearly between the two nearest velocity nodes,
the outer node's beyond them), STFT (periodic Hann, fft_size 1024, hop 256, frame i centred on sample i*hop, zero
outside the clip), every bin of frame i scaled by 10^(g/20) with g the table's row min(i, rows-1) interpolated
linearly in dB between band centres (flat beyond the outermost), then overlap-add with the same window divided by the summed squared window.
A 0 dB table gives the input back (to float rounding). Classes without a table (general: the widener's material)
pass unchanged.

Strength (fit's strength, STRENGTH): each class's stored table is the measured difference times its strength (1-2
for the shipped model), which moves a hit past the real average, away from the model's own bias; chosen per class by
leave-one-kit-out cross-validation over the training kits (cross_validate, `--cross-validate`; README).
Spread (fit's spread_cap, off by default): an optional per-class section that also widens each hit's deviation from
the model's average (its band energies over the whole hit and its envelope), computed from the hit itself
(spread_gain_db); the engine implements it too. Measured, not shipped (README).

Run: python3 -m diffusion_drums.calibrate --checkpoint checkpoints/sub/last.pt --guide checkpoints/guide/last.pt
     --out ../models/drums/calibration.json (sampling as the manifest's defaults; see main()).
"""
import argparse
import json
import os
import time

import numpy as np
import torch

from .dataset import velocity_line
from .params import CLASSES, DRUM_CLASSES, NULL_CLASS_ID

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FFT_SIZE = 1024
HOP = 256
FORMAT_VERSION = 1


def band_edges(n_bands: int, fft_size: int = FFT_SIZE) -> np.ndarray:
    """Bin edges of n_bands log-spaced bands over 0 .. fft_size/2 (first band from bin 0): [B+1] ints, strictly rising."""
    half = fft_size // 2 + 1
    e = np.unique(np.round(np.geomspace(2, half, n_bands + 1)).astype(int))
    e[0] = 0
    return e


def band_centres(edges: np.ndarray) -> np.ndarray:
    """Centre bin of each band (float): [B]."""
    return (edges[:-1] + edges[1:] - 1) / 2.0


def frame_count(length: int, hop: int = HOP) -> int:
    """Frames whose centres i*hop cover 0 .. length (the last centre at or past the clip's end)."""
    return (length + hop - 1) // hop + 1


def _window(fft_size: int) -> np.ndarray:
    n = np.arange(fft_size)
    return 0.5 - 0.5 * np.cos(2 * np.pi * n / fft_size)  # periodic Hann


def stft(x: np.ndarray, fft_size: int = FFT_SIZE, hop: int = HOP) -> np.ndarray:
    """x: [L] -> [T, fft_size/2+1] complex; frame i covers samples i*hop - fft_size/2 .. + fft_size (zeros outside)."""
    x = np.asarray(x, np.float64)
    t = frame_count(len(x), hop)
    xp = np.concatenate([np.zeros(fft_size // 2), x, np.zeros(t * hop + fft_size)])
    idx = np.arange(fft_size)[None, :] + hop * np.arange(t)[:, None]  # [T, N]
    return np.fft.rfft(xp[idx] * _window(fft_size), axis=-1)


def istft(spec: np.ndarray, length: int, fft_size: int = FFT_SIZE, hop: int = HOP) -> np.ndarray:
    """Inverse of stft: windowed overlap-add divided by the summed squared window. -> [length] float64"""
    w = _window(fft_size)
    frames = np.fft.irfft(spec, n=fft_size, axis=-1) * w  # [T, N]
    total = len(frames) * hop + fft_size
    y, norm = np.zeros(total), np.zeros(total)
    for i, f in enumerate(frames):
        y[i * hop: i * hop + fft_size] += f
        norm[i * hop: i * hop + fft_size] += w * w
    lo = fft_size // 2
    return y[lo: lo + length] / np.maximum(norm[lo: lo + length], 1e-12)


def band_power(spec: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """STFT [T, bins] -> power per (frame, band) [T, B]: the sum of |X|^2 over the band's bins."""
    p = np.abs(spec) ** 2
    return np.stack([p[:, a:b].sum(1) for a, b in zip(edges[:-1], edges[1:])], axis=1)


def band_log_energy(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """One clip [L] -> energy per (frame, band) in dB: [T, B]. The -100 dB floor is below any audible band."""
    return 10 * np.log10(band_power(stft(x), edges) + 1e-10)


def shape_and_envelope(power: np.ndarray):
    """Band power [..., T, B] -> (shape [..., B]: each band's energy over the whole hit in dB; envelope [..., T]: each
    frame's energy over every band in dB relative to the whole hit's), the two summaries whose spread the calibration
    widens (see fit). The envelope is relative so that a hit's level counts once, in its shape."""
    total = 10 * np.log10(power.sum((-2, -1)) + 1e-10)[..., None]
    return 10 * np.log10(power.sum(-2) + 1e-10), 10 * np.log10(power.sum(-1) + 1e-10) - total


# The one-shot finish floor for calibrated hits (dB under the peak; file field tailFloorDb). The default finish floor,
# -50 dB (evaluate.FINISH_FLOOR_DB, the engine's OneShotTail.DefaultFloorDb), sits above the uncalibrated model's
# noise floor, but it is not transparent on real drums: finishing the training kits' own hits at -50 dB moves their
# features by a Frechet distance of 1.00 and their classifier accuracy from 0.836 to 0.796; at -60 dB by 0.18 and not
# at all (0.842), at -70 dB by 0.03. The calibration takes the model's floor down (calibrated tails lie at or below
# real ones from 0.25 s on, the 689 Hz patch tone within 3 dB of its neighbours), so calibrated hits are finished at
# -60 dB, the conventional end of a decay (RT60), the highest floor that leaves real hits as they are (README).
TAIL_FLOOR_DB = -60.0
# Table strength per class and spread cap (fit's strength, spread_cap), as cross_validate chose them for the shipped
# model (calibrate --cross-validate; README, "Calibration strength and spread"). STRENGTH > 1 moves a hit past the
# real average, away from the model's own bias, the way guidance moves past the conditional prediction: kicks,
# claps and percussion are recognised far more often on kits the tables never saw, snares and toms are not, so each
# class has its own. SPREAD_CAP > 1 widens each hit's own deviation from the model's average towards the real hits'
# spread (the model's hits of a class vary less than real ones), as far as it costs no recognition; for the shipped
# model the smallest cap tried, 1.1, cost 0.011 of cross-validated accuracy, past the tolerance, so it has none.
STRENGTH = {"kick": 1.75, "snare": 1.0, "rim": 1.25, "clap": 2.0, "tom": 1.0, "hihat_closed": 1.75,
            "hihat_open": 1.25, "crash": 1.25, "ride": 1.5, "percussion": 2.0}
SPREAD_CAP = 1.0
CV_STRENGTHS = (1.0, 1.25, 1.5, 1.75, 2.0)  # the grids cross_validate chooses from
CV_SPREAD_CAPS = (1.0, 1.1, 1.2, 1.3)
CV_TOLERANCE = 0.01  # accuracy within this of the best counts as as good (the smaller strength, the larger cap wins)
SPREAD_LIMIT_DB = 12.0  # the most a hit's own extra gain may add or take away in one (frame, band)
VELOCITY_EDGES = (0.45, 0.8)  # velocity bins [0, 0.45), [0.45, 0.8), [0.8, 1]: soft, medium and hard layers


def _class_table(real_db: np.ndarray, gen_db: np.ndarray, max_cut_db: float, max_boost_db: float,
                 smooth_frames: int) -> np.ndarray:
    """band_log_energy of real clips [N, T, B] and of generated ones [M, T, B] of one class -> dB per (frame, band)
    [T, B]: mean real minus mean generated, clipped, then a moving average over smooth_frames frames (edges held)."""
    diff = np.clip(real_db.mean(0) - gen_db.mean(0), -max_cut_db, max_boost_db)
    if smooth_frames > 1:
        pad = smooth_frames // 2
        padded = np.concatenate([diff[:1].repeat(pad, 0), diff, diff[-1:].repeat(pad, 0)])
        diff = np.stack([padded[i: i + len(diff)] for i in range(smooth_frames)]).mean(0)
    return diff


def fit(real: np.ndarray, real_cls: np.ndarray, real_vel: np.ndarray, gen: np.ndarray, gen_cls: np.ndarray,
        gen_vel: np.ndarray, classes=CLASSES, calibrated=DRUM_CLASSES, n_bands: int = 40,
        velocity_edges=VELOCITY_EDGES, max_cut_db: float = 50.0, max_boost_db: float = 10.0, smooth_frames: int = 3,
        min_hits: int = 4, tail_floor_db: float = None, strength=1.0, spread_cap: float = 1.0,
        spread_limit_db: float = SPREAD_LIMIT_DB) -> dict:
    """Gain tables from real clips [N, L] and generated clips [M, L] made for the same classes and velocities (0..1).

    Per class and velocity bin (velocity_edges split 0..1), the mean dB per (frame, band) of the real hits minus that
    of the generated ones, clipped and smoothed over time; a bin with fewer than min_hits on either side takes the
    class's table over every velocity. Why per velocity: a harder hit is louder and brighter, and the model's error
    changes with it; one table for every velocity pulled soft and hard hits toward one tone (diversity 0.78-0.81 over
    three noise seeds against 0.82-0.86 with three velocity nodes, held-out kits; README). Each bin's node is the
    median velocity of its real hits; apply interpolates between nodes. A class with fewer than min_hits on either
    side gets no table (it passes unchanged). tail_floor_db: the finish floor that goes with the tables (TAIL_FLOOR_DB
    when None; see there).

    strength: every table scaled by it after clipping and smoothing (1 = the mean real hit exactly), one number or
    {class: number} (a class left out: 1); STRENGTH says why more.
    spread_cap > 1 adds a "spread" section: per class, how far each hit's shape and envelope (shape_and_envelope) lie
    from the line the model's hits follow in velocity is multiplied by min(spread_cap, real spread / generated spread)
    (spread = standard deviation of the residuals from each set's own velocity line, per band and per frame), as an
    extra gain of (factor - 1) x that deviation, clipped to +-spread_limit_db. Why: the model's hits of a class vary
    less than real ones (SPREAD_CAP). -> the calibration dict (JSON-ready)."""
    edges = band_edges(n_bands)
    bounds = [-np.inf] + list(velocity_edges) + [np.inf]
    drums = np.isin(real_cls, [classes.index(c) for c in calibrated])
    nodes = []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        v = real_vel[drums & (real_vel >= lo) & (real_vel < hi)]
        nodes.append(round(float(np.median(v)), 4) if len(v) else float(np.clip((max(lo, 0) + min(hi, 1)) / 2, 0, 1)))
    tables, spread = {}, {}
    for c in calibrated:
        k = classes.index(c)
        rc, gc = real_cls == k, gen_cls == k
        if rc.sum() < min_hits or gc.sum() < min_hits:
            continue
        # Each hit's energies once; the bins below take subsets of them.
        real_p = np.stack([band_power(stft(x), edges) for x in real[rc]])  # [N, T, B]
        gen_p = np.stack([band_power(stft(x), edges) for x in gen[gc]])  # [M, T, B]
        real_db, gen_db = 10 * np.log10(real_p + 1e-10), 10 * np.log10(gen_p + 1e-10)
        rv, gv = real_vel[rc].astype(np.float64), gen_vel[gc].astype(np.float64)
        if spread_cap > 1.0:
            spread[c] = _spread_entry(real_p, rv, gen_p, gv, spread_cap)
        every = _class_table(real_db, gen_db, max_cut_db, max_boost_db, smooth_frames)
        per_node = []
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            rb, gb = (rv >= lo) & (rv < hi), (gv >= lo) & (gv < hi)
            enough = rb.sum() >= min_hits and gb.sum() >= min_hits
            per_node.append(_class_table(real_db[rb], gen_db[gb], max_cut_db, max_boost_db, smooth_frames)
                            if enough else every)
        tables[c] = np.round(strength_of(strength, c) * np.stack(per_node), 2).tolist()  # [nodes, T, B]
    out = {"formatVersion": FORMAT_VERSION, "fftSize": FFT_SIZE, "hopSamples": HOP, "bandEdges": edges.tolist(),
           "velocityNodes": nodes, "maxCutDb": max_cut_db, "maxBoostDb": max_boost_db,
           "tailFloorDb": TAIL_FLOOR_DB if tail_floor_db is None else float(tail_floor_db), "strength": strength,
           "gainsDb": tables}
    if spread:
        out["spread"] = {"cap": float(spread_cap), "limitDb": float(spread_limit_db), "classes": spread}
    return out


def strength_of(strength, class_name: str) -> float:
    """A class's table strength from fit's strength argument (one number, or {class: number} with 1 for the rest)."""
    return float(strength.get(class_name, 1.0)) if isinstance(strength, dict) else float(strength)


def _spread_entry(real_p: np.ndarray, real_v: np.ndarray, gen_p: np.ndarray, gen_v: np.ndarray, cap: float) -> dict:
    """One class's spread section from band powers [N, T, B] / [M, T, B] and velocities: the generated hits' velocity
    lines of shape [B] and envelope [T] (what a hit's deviation is measured from) and the gains (factor - 1)."""
    r_shape, r_env = shape_and_envelope(real_p)
    g_shape, g_env = shape_and_envelope(gen_p)
    entry = {}
    for name, r, g in (("shape", r_shape, g_shape), ("envelope", r_env, g_env)):
        _, r_res = velocity_line(r, real_v)
        coef, g_res = velocity_line(g, gen_v)
        factor = np.clip(r_res.std(0) / np.maximum(g_res.std(0), 1e-6), 1.0, cap)
        entry[name + "MeanDb"] = np.round(coef[0], 3).tolist()
        entry[name + "SlopeDb"] = np.round(coef[1], 3).tolist()
        entry[name + "Gain"] = np.round(factor - 1.0, 4).tolist()
    return entry


def table_at(cal: dict, class_name: str, velocity: float):
    """The class's [T, B] dB table at this velocity: linear between the two nearest velocity nodes, the outer node's
    table beyond them. None when the class has none."""
    tables = cal.get("gainsDb", {}).get(class_name)
    if tables is None:
        return None
    tables, nodes = np.asarray(tables, np.float64), cal["velocityNodes"]
    v = float(velocity)
    if v <= nodes[0] or len(nodes) == 1:
        return tables[0]
    if v >= nodes[-1]:
        return tables[-1]
    j = int(np.searchsorted(nodes, v)) - 1
    t = (v - nodes[j]) / (nodes[j + 1] - nodes[j])
    return (1 - t) * tables[j] + t * tables[j + 1]


def bin_gains(cal: dict, table: np.ndarray) -> np.ndarray:
    """[T, B] dB per band -> [T, fft_size/2+1] linear amplitude gains, dB interpolated between band centres."""
    centres = band_centres(np.asarray(cal["bandEdges"]))
    bins = np.arange(cal["fftSize"] // 2 + 1)
    db = np.stack([np.interp(bins, centres, row) for row in np.asarray(table, np.float64)])
    return 10 ** (db / 20)


def apply(x: np.ndarray, class_name: str, cal: dict, velocity: float) -> np.ndarray:
    """One hit [L] of class_name played at velocity (0..1) -> calibrated copy [L] float32 (unchanged when the class
    has no table)."""
    table = table_at(cal, class_name, velocity) if cal else None
    if table is None or len(x) == 0:
        return np.asarray(x, np.float32).copy()
    spec = stft(x, cal["fftSize"], cal["hopSamples"])
    rows = np.minimum(np.arange(len(spec)), len(table) - 1)
    table = table[rows]  # [frames, B]: each frame's row
    entry = cal.get("spread", {}).get("classes", {}).get(class_name)
    if entry is not None:
        table = table + spread_gain_db(entry, band_power(spec, np.asarray(cal["bandEdges"])), velocity,
                                       float(cal["spread"]["limitDb"]))
    return istft(spec * bin_gains(cal, table), len(x), cal["fftSize"], cal["hopSamples"]).astype(np.float32)


def spread_gain_db(entry: dict, power: np.ndarray, velocity: float, limit_db: float) -> np.ndarray:
    """A hit's extra gain [T, B] in dB from its band power [T, B]: its shape's and envelope's deviations from the
    model's velocity lines (rows past the entry's last envelope row take the last), times the gains, clipped."""
    v = float(np.clip(velocity, 0.0, 1.0)) if np.isfinite(velocity) else 1.0
    shape, env = shape_and_envelope(power)
    rows = np.minimum(np.arange(len(env)), len(entry["envelopeGain"]) - 1)
    d_shape = shape - (np.asarray(entry["shapeMeanDb"]) + v * np.asarray(entry["shapeSlopeDb"]))  # [B]
    d_env = env - (np.asarray(entry["envelopeMeanDb"])[rows] + v * np.asarray(entry["envelopeSlopeDb"])[rows])  # [T]
    extra = np.asarray(entry["shapeGain"])[None, :] * d_shape[None, :] + (np.asarray(entry["envelopeGain"])[rows] * d_env)[:, None]
    return np.clip(extra, -limit_db, limit_db)


def with_choices(cal: dict, strength, spread_cap: float) -> dict:
    """A copy of a calibration fitted at strength 1 with every spread factor (spread_cap >= any later cap) with its
    tables scaled by strength (one number or per class) and its spread gains capped at spread_cap - 1 (none at 1):
    what fit would give with those arguments, without fitting again."""
    out = dict(cal, strength=strength,
               gainsDb={c: (strength_of(strength, c) * np.asarray(t)).tolist() for c, t in cal["gainsDb"].items()})
    out.pop("spread", None)
    if spread_cap > 1.0 and "spread" in cal:
        out["spread"] = dict(cal["spread"], cap=float(spread_cap), classes={
            c: dict(e, shapeGain=np.minimum(e["shapeGain"], spread_cap - 1.0).tolist(),
                    envelopeGain=np.minimum(e["envelopeGain"], spread_cap - 1.0).tolist())
            for c, e in cal["spread"]["classes"].items()})
    return out


def cross_validate(real, real_cls, real_vel, real_kit, gen, gen_cls, gen_vel, strengths=CV_STRENGTHS,
                   spread_caps=CV_SPREAD_CAPS, tolerance: float = CV_TOLERANCE, per_real: int = 2, log=print) -> dict:
    """Leave-one-kit-out cross-validation of the table strength (per class) and the spread cap, on the training kits
    alone: for each drum kit in turn, a calibration is fitted on the other kits' real hits, the generated hits
    (gen [M, L], made for training-kit classes and velocities) nearest in velocity to that kit's hits (per_real per
    real hit, each used once) go through it and the one-shot finish, and a classifier fitted on the other kits' real
    hits (evaluate.Classifier, as the evaluation's) says whether each is heard as its class.

    Rules: each class gets the smallest strength whose accuracy over every fold is within tolerance of its best
    (strength 1 for a class no kit was left out with); then, at those strengths, the largest spread cap whose pooled
    accuracy is within tolerance of no spread. Why these rules: a stronger table or a wider spread is a further change
    to the model's hits, so it has to earn its place on kits the tables never saw, beyond noise; and the spread is
    for variety, paid for with no recognition. -> {"strength": {class: s}, "spreadCap": k, "classAccuracy":
    {class: {strength: acc}}, "capAccuracy": {cap: acc}, "folds": n, "hits": n, "tolerance": tolerance}"""
    import torch
    from .evaluate import Classifier, as_played, features
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the classifier's L-BFGS fit repeats exactly on one thread
    try:
        feats = features(real)

        def heard(cal, pick, clf):  # is each picked hit, calibrated by cal and finished, heard as its class?
            played = as_played(gen[pick], gen_cls[pick], calibration=cal, velocity=gen_vel[pick])
            return clf.predict(features(played)) == gen_cls[pick]

        drum_ids = [CLASSES.index(c) for c in DRUM_CLASSES]
        kits = sorted({str(k) for k, c in zip(real_kit, real_cls) if c in drum_ids})
        count, folds = {}, []  # count: (strength, class) -> [correct, total]; folds: (calibration, picked hits, classifier)
        for i, kit in enumerate(kits):
            out = np.asarray([str(k) == kit for k in real_kit])
            clf = Classifier(feats[~out], real_cls[~out], len(CLASSES))
            base = fit(real[~out], real_cls[~out], real_vel[~out], gen, gen_cls, gen_vel, spread_cap=max(spread_caps))
            pick = []
            for c in sorted(set(real_cls[out].tolist()) & set(drum_ids)):
                free = list(np.flatnonzero(gen_cls == c))
                for v in np.repeat(real_vel[out & (real_cls == c)], per_real):
                    if not free:
                        break
                    j = min(free, key=lambda j: abs(float(gen_vel[j]) - float(v)))
                    free.remove(j)
                    pick.append(j)
            pick = np.asarray(pick, np.int64)
            if len(pick) == 0:
                continue

            folds.append((base, pick, clf))
            for s in strengths:
                ok = heard(with_choices(base, float(s), 1.0), pick, clf)
                for c in set(gen_cls[pick].tolist()):
                    e = count.setdefault((float(s), CLASSES[c]), [0, 0])
                    e[0] += int(ok[gen_cls[pick] == c].sum())
                    e[1] += int((gen_cls[pick] == c).sum())
            log(f"cross-validate: kit {i + 1}/{len(kits)} ({kit}, {len(pick)} hits)")
        class_acc = {}
        for (s, c), (k, n) in count.items():
            class_acc.setdefault(c, {})[s] = k / n
        chosen = {}
        for c in DRUM_CLASSES:
            acc = class_acc.get(c)
            if not acc:
                continue
            best = max(acc.values())
            chosen[c] = min(s for s, a in acc.items() if a >= best - tolerance)
        cap_acc, total = {}, 0
        for cap in spread_caps:
            k = n = 0
            for base, pick, clf in folds:
                ok = heard(with_choices(base, chosen, float(cap)), pick, clf)
                k, n = k + int(ok.sum()), n + len(ok)
            cap_acc[float(cap)] = k / n
            total = n
        cap = max(c for c, a in cap_acc.items() if a >= cap_acc[min(cap_acc)] - tolerance)
        return {"strength": chosen, "spreadCap": cap, "classAccuracy": class_acc, "capAccuracy": cap_acc,
                "folds": len(folds), "hits": total, "tolerance": tolerance}
    finally:
        torch.set_num_threads(threads)


def parity_fixture(seed: int = 0) -> dict:
    """A small calibration, a hit and its calibrated copy, for the engine's parity test (models/test/calibration-parity.json):
    fft_size 64, hop 16, 5 bands, two velocity nodes of 6-row tables for "kick" only, a 300-sample hit (not a multiple
    of the hop, so the clip's ends and the clamped last row are exercised) at a velocity between the nodes; a spread
    section for "kick" with 4 envelope rows (fewer than the table's and the hit's frames) and a 6 dB limit."""
    rng = np.random.default_rng(seed)
    n = 64
    edges = [0, 2, 5, 10, 20, n // 2 + 1]
    cal = {"formatVersion": FORMAT_VERSION, "fftSize": n, "hopSamples": 16, "bandEdges": edges,
           "velocityNodes": [0.3, 0.9],
           "gainsDb": {"kick": np.round(rng.uniform(-30, 10, (2, 6, len(edges) - 1)), 2).tolist()}}
    hit = (rng.standard_normal(300) * np.exp(-np.arange(300) / 80.0) * 0.5).astype(np.float32)
    b = len(edges) - 1
    cal["spread"] = {"cap": 2.0, "limitDb": 6.0, "classes": {"kick": {
        "shapeMeanDb": np.round(rng.uniform(10, 30, b), 3).tolist(), "shapeSlopeDb": np.round(rng.uniform(-5, 5, b), 3).tolist(),
        "shapeGain": np.round(rng.uniform(0, 1, b), 4).tolist(), "envelopeMeanDb": np.round(rng.uniform(0, 30, 4), 3).tolist(),
        "envelopeSlopeDb": np.round(rng.uniform(-5, 5, 4), 3).tolist(), "envelopeGain": np.round(rng.uniform(0, 1, 4), 4).tolist()}}}
    velocity = 0.7
    return {"comment": "calibrate.apply on 'hit' as class kick at 'velocity'; the engine must agree within 'tolerance' (abs)",
            "calibration": cal, "hit": [float(v) for v in hit], "velocity": velocity,
            "calibrated": [round(float(v), 8) for v in apply(hit, "kick", cal, velocity)], "tolerance": 1e-5}


def finish_floor_db(cal: dict, class_name: str) -> float:
    """The one-shot finish floor (dB under the peak, evaluate.one_shot_finish) for a hit of class_name after apply:
    the calibration's tailFloorDb for a class it has a table for, the default finish floor otherwise (as the engine's
    SpectralCalibrationFilter.FinishFloorDb)."""
    from .evaluate import FINISH_FLOOR_DB
    return float(cal.get("tailFloorDb", FINISH_FLOOR_DB)) if class_name in cal.get("gainsDb", {}) else FINISH_FLOOR_DB


def load(path: str) -> dict:
    with open(path) as f:
        cal = json.load(f)
    if cal.get("formatVersion") != FORMAT_VERSION:
        raise ValueError(f"{path}: unknown calibration formatVersion {cal.get('formatVersion')}")
    return cal


@torch.no_grad()
def generate_for_training(model, data, per_class: int, steps: int, guidance: float, guidance_max_sigma, sigma_min,
                          seed: int = 10000, log=print):
    """Hits generated with the classes and velocities of per_class random real training hits of each drum class.
    -> (real [N, L], real_cls [N], real_vel [N], gen [M, L], gen_cls [M], gen_vel [M])"""
    from .sampling import generate
    tr_a, tr_c, tr_v, _ = data.split(held=False)
    rng = np.random.default_rng(seed)
    sel = np.concatenate([rng.permutation(np.flatnonzero(tr_c == CLASSES.index(c)))[:per_class] for c in DRUM_CLASSES])
    c, v = tr_c[sel], tr_v[sel]
    out, t0 = [], time.time()
    for b in range(0, len(sel), 32):
        out.append(generate(model, torch.tensor(c[b:b + 32]), torch.tensor(v[b:b + 32]).float(), tr_a.shape[1], steps,
                            "dpmpp_2m", guidance, seed=seed + b, sigma_min=sigma_min, null_class_id=NULL_CLASS_ID,
                            guidance_max_sigma=guidance_max_sigma).numpy())
        log(f"calibrate: generated {min(b + 32, len(sel))}/{len(sel)} hits ({time.time() - t0:.0f} s)")
    return tr_a, tr_c, tr_v, np.concatenate(out), c, v


def main(argv=None):
    from .dataset import ClipSet
    from .sampling import Autoguided
    from .train import load_model
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", default=os.path.join(HERE, "checkpoints", "last.pt"))
    ap.add_argument("--guide", default=None, help="guide checkpoint for autoguidance (as the manifest's guide)")
    ap.add_argument("--guide-weight", type=float, default=2.0)
    ap.add_argument("--guide-min-sigma", type=float, default=0.3)
    ap.add_argument("--cache", default=os.path.join(HERE, "data", "cache.npz"))
    ap.add_argument("--out", default=os.path.join(HERE, "..", "models", "drums", "calibration.json"))
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--guidance", type=float, default=2.0)
    ap.add_argument("--guidance-max-sigma", type=float, default=0.3)
    ap.add_argument("--sigma-min", type=float, default=0.01)
    ap.add_argument("--tail-floor-db", type=float, default=TAIL_FLOOR_DB,
                    help="finish floor of calibrated hits, dB under the peak (default %(default)s; see TAIL_FLOOR_DB)")
    ap.add_argument("--strength", type=json.loads, default=STRENGTH,
                    help="table strength: a number or a JSON object {class: number} (default: STRENGTH, per class)")
    ap.add_argument("--spread-cap", type=float, default=SPREAD_CAP,
                    help="largest spread factor, 1 = no spread section (default %(default)s; see SPREAD_CAP)")
    ap.add_argument("--cross-validate", action="store_true",
                    help="choose the strength per class and the spread cap by leave-one-kit-out cross-validation on "
                         "the training kits (cross_validate; a few minutes more) instead of --strength/--spread-cap")
    ap.add_argument("--per-class", type=int, default=128,
                    help="generated hits per drum class (128: a table noticeably less noisy than with 64, README)")
    ap.add_argument("--threads", type=int, default=None)
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    model, p, ck = load_model(a.checkpoint)
    if a.guide:
        model = Autoguided(model, load_model(a.guide)[0], a.guide_weight, a.guide_min_sigma)
    data = ClipSet(a.cache)
    real, real_cls, real_vel, gen, gen_cls, gen_vel = generate_for_training(
        model, data, a.per_class, a.steps, a.guidance, a.guidance_max_sigma, a.sigma_min)
    strength, spread_cap, cv = a.strength, a.spread_cap, None
    if a.cross_validate:
        kit = data.split(held=False)[3]
        cv = cross_validate(real, real_cls, real_vel, kit, gen, gen_cls, gen_vel)
        strength, spread_cap = cv["strength"], cv["spreadCap"]
        print("cross-validation (accuracy of generated hits on left-out training kits, per class and strength):")
        for c, acc in cv["classAccuracy"].items():
            print(f"  {c:13s} " + "  ".join(f"{s:g}: {v:.2f}" for s, v in sorted(acc.items())) + f"  -> {strength[c]:g}")
        print("  spread cap at those strengths (pooled): "
              + "  ".join(f"{k:g}: {v:.3f}" for k, v in cv["capAccuracy"].items()) + f"  -> {spread_cap:g}")
    cal = fit(real, real_cls, real_vel, gen, gen_cls, gen_vel, tail_floor_db=a.tail_floor_db, strength=strength,
              spread_cap=spread_cap)
    cal["fittedOn"] = {"checkpointStep": int(ck.get("step", 0)), "guide": bool(a.guide), "guideWeight": a.guide_weight,
                       "guideMinSigma": a.guide_min_sigma, "steps": a.steps, "guidance": a.guidance,
                       "guidanceMaxSigma": a.guidance_max_sigma, "sigmaMin": a.sigma_min,
                       "generatedPerClass": a.per_class, "real": "every training-kit hit of the class"}
    if cv is not None:
        cal["crossValidation"] = {k: cv[k] for k in ("folds", "hits", "tolerance", "capAccuracy")} | {
            "classAccuracy": {c: {f"{s:g}": round(v, 4) for s, v in acc.items()} for c, acc in cv["classAccuracy"].items()}}
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(cal, f, separators=(",", ":"))
    print(f"calibration: {len(cal['gainsDb'])} classes -> {a.out}")


if __name__ == "__main__":
    main()
