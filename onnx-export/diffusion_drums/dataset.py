"""Dataset: Hydrogen drum kits + rendered General MIDI material -> fixed-length clips in one .npz cache.

Each clip: float32 [clip_samples] at sample_rate_hz, onset at sample ~0, with class id, velocity (0..1),
source kit and file. Whole kits are held out for validation (never trained on).
"""
import os
import re
import glob
import json
import math
import shutil
import subprocess
import struct
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from math import gcd

import numpy as np
import soundfile as sf
from scipy.signal import lfilter, resample_poly

from .params import CLASSES, DRUM_CLASSES, Params

HYDROGEN_DIR = "/usr/share/hydrogen/data/drumkits"
SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
# One acoustic and one electronic kit with every common class; never trained on.
DEFAULT_HELD_OUT = ["Millo_MultiLayered2", "TR808EmulationKit"]
GM_PROGRAMS = range(0, 112)  # melodic programs only (112..127 are percussive/sound effects)
GM_HELD_OUT = set(range(7, 112, 8))  # every 8th program is validation material for "general"


# Kits whose drumkit.xml states no licence: the licence Debian records in /usr/share/doc/hydrogen-drumkits/copyright.
DEBIAN_LICENCES = {
    "ColomboAcousticDrumkit": "GPL-2+ (per Debian hydrogen-drumkits copyright file)",
    "Millo-Drums_v.1": "GPL-2 (per Debian hydrogen-drumkits copyright file)",
    "Millo_MultiLayered2": "GPL-2 (per Debian hydrogen-drumkits copyright file)",
    "Millo_MultiLayered3": "GPL-2 (per Debian hydrogen-drumkits copyright file)",
}


# --------------------------------------------------------------------------- instrument name -> class
def map_instrument(name: str):
    """Map a kit instrument name to a class name, or None to drop it (empty slots, loops, rolls).

    The order of the tests matters: "snare rimshot" is a snare, "rim click"/"side stick" is a rim,
    "cowbell" is percussion although it contains "bell", "ride bell" is a ride.
    """
    n = name.strip().lower()
    n = re.sub(r"^[a-g]#?\d\s*-\s*", "", n)  # "c3 - bass drum 1" -> "bass drum 1"
    if not n or re.fullmatch(r"[\d\s]*", n) or n.startswith("sample:") or n in {"main"}:
        return None
    if "roll" in n or "loop" in n or "break" == n:
        return None
    has = lambda *ws: any(w in n for w in ws)
    word = lambda *ws: any(re.search(r"\b" + w + r"\b", n) for w in ws)
    if has("cowbell", "conga", "bongo", "djembe", "cajon", "shaker", "maraca", "tambourine", "clave",
           "woodblock", "whistle", "sangban", "dununba", "kenkeni", "waterglass", "agogo", "timbale"):
        return "percussion"
    if has("clap"):
        return "clap"
    if has("rimshot"):
        return "snare"
    if has("rim", "stick") or word("click"):
        return "rim" if not word("click") or has("rim") else "percussion"
    if has("snare"):
        return "snare"
    if has("kick", "bass drum", "bassdrum") or word("bd"):
        return "kick"
    if has("tom"):
        return "tom"
    if has("hat", "hh", "hi-hat", "hihat"):
        if has("open", "semi", "swish", "free", "ohh") or word("op"):
            return "hihat_open"
        return "hihat_closed"
    if has("crash", "splash", "china", "cymbal"):
        return "crash"
    if has("ride", "bell"):
        return "ride"
    return "percussion"


@dataclass
class Layer:
    kit: str
    instrument: str
    cls: str
    path: str
    vel_min: float
    vel_max: float


def _strip_ns(root):
    for el in root.iter():
        if "}" in el.tag:
            el.tag = el.tag.split("}", 1)[1]
    return root


def read_kit(kit_dir: str):
    """Parse drumkit.xml -> (kit name, licence, author, [Layer], [dropped instrument names])."""
    root = _strip_ns(ET.parse(os.path.join(kit_dir, "drumkit.xml")).getroot())
    kit = os.path.basename(kit_dir.rstrip("/"))
    licence = (root.findtext("license") or "").strip() or DEBIAN_LICENCES.get(kit, "not stated in drumkit.xml")
    author = (root.findtext("author") or "").strip()
    layers, dropped = [], []
    inst_list = root.find("instrumentList")
    for inst in (inst_list if inst_list is not None else []):
        name = inst.findtext("name") or ""
        cls = map_instrument(name)
        files = []
        for lay in inst.iter("layer"):
            fn = lay.findtext("filename")
            if fn:
                files.append((fn, float(lay.findtext("min") or 0), float(lay.findtext("max") or 1)))
        if not files and inst.findtext("filename"):
            files.append((inst.findtext("filename"), 0.0, 1.0))
        if cls is None or not files:
            if files or name.strip():
                dropped.append(f"{kit}: '{name}' ({len(files)} files)")
            continue
        for fn, lo, hi in files:
            path = os.path.join(kit_dir, fn)
            if os.path.exists(path):
                layers.append(Layer(kit, name, cls, path, lo, hi))
            else:
                dropped.append(f"{kit}: '{name}' missing file {fn}")
    return kit, licence, author, layers, dropped


# --------------------------------------------------------------------------- audio helpers
def load_mono(path: str, rate: int) -> np.ndarray:
    x, sr = sf.read(path, dtype="float32", always_2d=True)
    x = x.mean(axis=1)
    if sr != rate:
        g = gcd(sr, rate)
        x = resample_poly(x, rate // g, sr // g).astype(np.float32)
    return x


def to_clip(x: np.ndarray, clip: int, onset_rel: float = 0.02, pre: int = 16, fade: int = 2048) -> np.ndarray:
    """Trim leading silence (keep `pre` samples before the onset), cut/pad to `clip`, fade the cut tail."""
    peak = float(np.max(np.abs(x))) if len(x) else 0.0
    if peak <= 1e-6:
        return np.zeros(clip, np.float32)
    on = int(np.argmax(np.abs(x) > onset_rel * peak))
    x = x[max(0, on - pre):]
    out = np.zeros(clip, np.float32)
    n = min(clip, len(x))
    out[:n] = x[:n]
    if len(x) > clip:
        out[-fade:] *= np.linspace(1, 0, fade, dtype=np.float32) ** 2
    return out


# --------------------------------------------------------------------------- General MIDI rendering
def _vlq(n: int) -> bytes:
    b = [n & 0x7F]
    n >>= 7
    while n:
        b.append((n & 0x7F) | 0x80)
        n >>= 7
    return bytes(reversed(b))


def write_midi(path: str, program: int, notes, tpq: int = 480, tempo_us: int = 500000):
    """Minimal format-0 MIDI file: channel 0 (never channel 10), one program, notes=(start_beats, dur_beats, pitch, vel)."""
    ev = []
    for st, du, pitch, vel in notes:
        ev.append((int(st * tpq), 1, pitch, vel))
        ev.append((int((st + du) * tpq), 0, pitch, 0))
    ev.sort(key=lambda e: (e[0], e[1]))
    trk = b"\x00\xff\x51\x03" + tempo_us.to_bytes(3, "big") + b"\x00" + bytes([0xC0, program])
    t = 0
    for tick, on, pitch, vel in ev:
        trk += _vlq(tick - t) + bytes([0x90 if on else 0x80, pitch, vel])
        t = tick
    trk += _vlq(tpq) + b"\xff\x2f\x00"
    with open(path, "wb") as f:
        f.write(b"MThd" + struct.pack(">IHHH", 6, 0, 1, tpq) + b"MTrk" + struct.pack(">I", len(trk)) + trk)


def render_general(work_dir: str, rate: int, rng: np.random.Generator):
    """Render each GM program 0..111 (a short phrase: single notes, a chord, a held note) with fluidsynth.

    Returns [(program, audio)]; needs the `fluidsynth` binary and FluidR3_GM.sf2 (Debian fluid-soundfont-gm).
    """
    if shutil.which("fluidsynth") is None or not os.path.exists(SOUNDFONT):
        print("warning: fluidsynth or FluidR3_GM.sf2 missing: no 'general' class")
        return []
    out = []
    for prog in GM_PROGRAMS:
        base = int(rng.integers(48, 66))
        notes = [(0, 0.8, base, 100), (1, 0.8, base + 7, 80), (2, 0.8, base + 12, 110),
                 (3, 1.5, base, 90), (3, 1.5, base + 4, 90), (3, 1.5, base + 7, 90), (5, 0.4, base + 2, 70),
                 (5.5, 0.4, base + 5, 100), (6, 1.8, base - 5, 100)]
        mid = os.path.join(work_dir, f"p{prog}.mid")
        wav = os.path.join(work_dir, f"p{prog}.wav")
        write_midi(mid, prog, notes)
        subprocess.run(["fluidsynth", "-ni", "-q", "-g", "0.8", "-F", wav, "-r", str(rate), SOUNDFONT, mid],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        out.append((prog, load_mono(wav, rate)))
    return out


def chop_general(x: np.ndarray, clip: int, n: int, rng: np.random.Generator):
    """Random `clip`-long windows with some signal, peak-normalised to a random level in [0.3, 0.95]."""
    clips = []
    for _ in range(n * 4):
        if len(clips) >= n or len(x) <= clip:
            break
        s = int(rng.integers(0, len(x) - clip))
        c = x[s:s + clip].copy()
        pk = np.max(np.abs(c))
        if pk < 1e-3:
            continue
        clips.append(c / pk * rng.uniform(0.3, 0.95))
    return clips


# --------------------------------------------------------------------------- building the cache
def build_hydrogen(p: Params, hydrogen_dir: str, held_out, log=print):
    clips, cls, vel, kit, src, prov, dropped = [], [], [], [], [], [], []
    for kd in sorted(glob.glob(os.path.join(hydrogen_dir, "*", "drumkit.xml"))):
        name, licence, author, layers, drop = read_kit(os.path.dirname(kd))
        dropped += drop
        counts = {}
        # Per instrument: normalise so the loudest layer peaks at 0.95; softer layers keep their relative level.
        by_inst = {}
        for lay in layers:
            by_inst.setdefault(lay.instrument, []).append(lay)
        for inst, lays in by_inst.items():
            audio = []
            for lay in lays:
                try:
                    audio.append(to_clip(load_mono(lay.path, p.sample_rate_hz), p.clip_samples))
                except Exception as e:  # unreadable file: log and go on
                    dropped.append(f"{name}: '{inst}' unreadable {os.path.basename(lay.path)}: {e}")
                    audio.append(None)
            peak = max([np.max(np.abs(a)) for a in audio if a is not None] + [0.0])
            if peak <= 1e-6:
                dropped.append(f"{name}: '{inst}' silent")
                continue
            for lay, a in zip(lays, audio):
                if a is None or np.max(np.abs(a)) <= 1e-4 * peak:
                    continue
                clips.append(a / peak * 0.95)
                cls.append(CLASSES.index(lay.cls))
                vel.append(np.clip((lay.vel_min + lay.vel_max) / 2 if len(lays) > 1 else 1.0, 0, 1))
                kit.append(name)
                src.append(os.path.relpath(lay.path, hydrogen_dir))
                counts[lay.cls] = counts.get(lay.cls, 0) + 1
        prov.append({"kit": name, "author": author, "licence": licence, "package": "hydrogen-drumkits/hydrogen-data",
                     "heldOut": name in held_out, "hits": counts})
        log(f"kit {name}: {sum(counts.values())} hits {counts}")
    return clips, cls, vel, kit, src, prov, dropped


def build_folder(p: Params, data_dir: str, log=print):
    """A user's own folder: <data_dir>/<class>/*.wav; class = subfolder name (must be one of CLASSES)."""
    clips, cls, vel, kit, src, dropped = [], [], [], [], [], []
    for sub in sorted(os.listdir(data_dir)):
        d = os.path.join(data_dir, sub)
        if not os.path.isdir(d):
            continue
        if sub not in CLASSES:
            dropped.append(f"folder '{sub}' is not a class name ({', '.join(CLASSES)})")
            continue
        for f in sorted(glob.glob(os.path.join(d, "**", "*.*"), recursive=True)):
            if not f.lower().endswith((".wav", ".flac", ".aif", ".aiff", ".ogg")):
                continue
            a = to_clip(load_mono(f, p.sample_rate_hz), p.clip_samples)
            pk = np.max(np.abs(a))
            if pk <= 1e-6:
                dropped.append(f"{f}: silent")
                continue
            clips.append(a / pk * 0.95)
            cls.append(CLASSES.index(sub))
            vel.append(1.0)
            # a file's parent folder below the class folder acts as its "kit" for held-out splits
            rel = os.path.relpath(f, d)
            kit.append(rel.split(os.sep)[0] if os.sep in rel else "user")
            src.append(os.path.relpath(f, data_dir))
    log(f"user folder {data_dir}: {len(clips)} clips")
    return clips, cls, vel, kit, src, dropped


def find_duplicates(clips, cls, kit, src, held_out, min_corr: float = 0.999, max_level_db: float = 0.5):
    """Clips that repeat another clip of the same class: the same waveform (normalised correlation at lag 0 over the
    whole clip > min_corr) at the same level (within max_level_db). Returns (indices to drop, one log line each).

    Why: Debian's kits share samples. "The Black Pearl 1.0" repeats GMRockKit's (same author) for 81 of its hits, and
    some kits use one file for two instruments; such a repeat weighs one kit's sound twice and, between a training and
    a held-out kit, would make a "held-out" hit one the model trained on. The first clip in build order is kept, except
    that a held-out clip always beats a training one (the training copy goes). The same sound at another level is kept:
    that is a velocity layer, which the velocity conditioning learns from."""
    if not clips:
        return [], []
    cls, held = np.asarray(cls), np.array([k in held_out for k in kit])
    drop, lines = [], []
    for c in np.unique(cls):  # one class at a time: memory and work grow with the largest class, not the whole set
        members = sorted(np.flatnonzero(cls == c), key=lambda i: (not held[i], i))  # held-out clips claim their sound first
        x = np.stack([clips[i] for i in members]).astype(np.float64)  # [n, L]
        norm = np.maximum(np.linalg.norm(x, axis=1), 1e-12)
        corr = (x / norm[:, None]) @ (x / norm[:, None]).T  # [n, n] normalised correlation at lag 0
        same_level = np.abs(20 * np.log10(norm[:, None] / norm[None, :])) < max_level_db
        repeats = (corr > min_corr) & same_level
        kept = []
        for a, i in enumerate(members):
            j = next((b for b in kept if repeats[a, b]), None)
            if j is None:
                kept.append(a)
            else:
                drop.append(i)
                lines.append(f"{kit[i]}: {os.path.basename(src[i])} repeats {src[members[j]]} (same sound and level)")
    pairs = sorted(zip(drop, lines))
    return [i for i, _ in pairs], [line for _, line in pairs]


def build_cache(p: Params, out_path: str, hydrogen_dir: str = HYDROGEN_DIR, data_dir: str = None,
                held_out=None, with_general: bool = True, general_per_program: int = 6, log=print):
    """Build the dataset cache (.npz + .json provenance beside it). Returns the provenance dict."""
    rng = np.random.default_rng(p.seed)
    held_out = list(DEFAULT_HELD_OUT if held_out is None else held_out)
    prov = []
    if data_dir:
        clips, cls, vel, kit, src, dropped = build_folder(p, data_dir, log)
        kits = sorted(set(kit))
        if held_out == DEFAULT_HELD_OUT:
            held_out = [k for k in kits[len(kits) - max(1, len(kits) // 8):]] if len(kits) > 1 else []
    else:
        clips, cls, vel, kit, src, prov, dropped = build_hydrogen(p, hydrogen_dir, held_out, log)
    repeats, lines = find_duplicates(clips, cls, kit, src, held_out)
    for i in repeats:
        for k in prov:
            if k["kit"] == kit[i]:
                name = CLASSES[cls[i]]
                k["hits"][name] -= 1
                if k["hits"][name] == 0:
                    del k["hits"][name]
    dropped += lines
    keep = sorted(set(range(len(clips))) - set(repeats))
    clips, cls, vel, kit, src = ([seq[i] for i in keep] for seq in (clips, cls, vel, kit, src))
    if with_general:
        with tempfile.TemporaryDirectory() as td:
            for prog, audio in render_general(td, p.sample_rate_hz, rng):
                for c in chop_general(audio, p.clip_samples, general_per_program, rng):
                    clips.append(c.astype(np.float32))
                    cls.append(CLASSES.index("general"))
                    vel.append(float(np.max(np.abs(c))))
                    kit.append("GM-heldout" if prog in GM_HELD_OUT else "GM")
                    src.append(f"FluidR3_GM program {prog}")
        prov.append({"kit": "FluidR3_GM (rendered GM programs 0-111)", "author": "Frank Wen",
                     "licence": "MIT (fluid-soundfont-gm)", "package": "fluid-soundfont-gm",
                     "heldOut": False, "hits": {"general": int(sum(1 for c in cls if c == CLASSES.index("general")))}})
        held_out = held_out + ["GM-heldout"]
    for d in dropped:
        log("dropped: " + d)
    x = np.stack(clips).astype(np.float32) if clips else np.zeros((0, p.clip_samples), np.float32)
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    np.savez(out_path, audio=x, class_id=np.array(cls, np.int64), velocity=np.array(vel, np.float32),
             kit=np.array(kit), source=np.array(src))
    meta = {"heldOutKits": held_out, "kits": prov, "dropped": dropped, "clipSamples": p.clip_samples,
            "sampleRateHz": p.sample_rate_hz, "count": int(len(x)),
            "std": float(x.std()) if len(x) else 0.0}
    with open(os.path.splitext(out_path)[0] + ".json", "w") as f:
        json.dump(meta, f, indent=1)
    log(f"cache {out_path}: {len(x)} clips, std {meta['std']:.4f}")
    return meta


def write_data_md(meta: dict, path: str):
    """Provenance and licence table (onnx-export/DATA.md) from the cache's .json description."""
    L = ["# Training data: provenance and licences", "",
         "Generated by `python3 -m diffusion_drums.dataset --data-md DATA.md` from the dataset cache. Only Debian packages",
         "feed the model: `hydrogen-drumkits` and `hydrogen-data` (drum kits, /usr/share/hydrogen/data/drumkits) and",
         "`fluid-soundfont-gm` (FluidR3_GM.sf2, rendered with `fluidsynth` for the `general` class). Nothing is downloaded.",
         "", f"Clips: {meta['count']} of {meta['clipSamples']} samples at {meta['sampleRateHz']} Hz; held out (never trained on): "
         f"{', '.join(meta['heldOutKits'])}.", "",
         "| kit | author | licence (drumkit.xml, else Debian copyright) | held out | hits per class |", "|---|---|---|---|---|"]
    for k in meta["kits"]:
        lic = k["licence"]
        if lic.startswith("not stated"):
            lic = DEBIAN_LICENCES.get(k["kit"], lic)
        hits = ", ".join(f"{c} {n}" for c, n in sorted(k["hits"].items()))
        L.append(f"| {k['kit']} | {k['author']} | {lic} | {'yes' if k['heldOut'] else 'no'} | {hits} |")
    repeats = sum(" repeats " in d for d in meta["dropped"])
    L += ["", "Kits share samples (The Black Pearl 1.0 repeats most of GMRockKit's) and some use one file for two",
          f"instruments: the cache keeps each sound once per class and level ({repeats} repeats dropped, listed below;",
          "`dataset.find_duplicates`). The held-out kits share no sample with any training kit (max normalised",
          "correlation < 0.9).",
          "", "The model weights are derived from GPL-2/GPL-2+, CC-BY 3.0, CC-BY-SA 3.0 and CC0 recordings; ship the",
          "licence table with them.", "", f"## Dropped instruments and repeated samples ({len(meta['dropped'])})", "",
          "Empty slots, numbered placeholders pointing at emptySample.flac, snare rolls, loop slices (`Sample: beats_*`),",
          "missing files; then samples that repeat another clip of the same class at the same level:", ""]
    L += [f"- {d}" for d in meta["dropped"]]
    with open(path, "w") as f:
        f.write("\n".join(L) + "\n")


def main(argv=None):
    import argparse
    ap = argparse.ArgumentParser(description="Build the dataset cache and/or write the provenance table.")
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--cache", default=os.path.join(here, "data", "cache.npz"))
    ap.add_argument("--data-dir", default=None, help="your own folder: <dir>/<class>/*.wav")
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--data-md", default=None, help="write the provenance/licence table here")
    a = ap.parse_args(argv)
    if a.rebuild or not os.path.exists(a.cache):
        build_cache(Params(), a.cache, data_dir=a.data_dir)
    if a.data_md:
        with open(os.path.splitext(a.cache)[0] + ".json") as f:
            write_data_md(json.load(f), a.data_md)


class ClipSet:
    """The cache in memory, split by kit into train / held-out."""

    def __init__(self, path: str):
        z = np.load(path)
        with open(os.path.splitext(path)[0] + ".json") as f:
            self.meta = json.load(f)
        held = set(self.meta["heldOutKits"])
        self.audio = z["audio"]          # [N, clip] float32
        self.class_id = z["class_id"]    # [N] int64
        self.velocity = z["velocity"]    # [N] float32
        self.kit = z["kit"]              # [N] str
        self.source = z["source"]
        self.is_held = np.array([k in held for k in self.kit])

    def split(self, held: bool):
        m = self.is_held if held else ~self.is_held
        return self.audio[m], self.class_id[m], self.velocity[m], self.kit[m]


TILT_SPLIT_HZ = 1000.0


def tilt(a: np.ndarray, log_gain: float, sample_rate_hz: int) -> np.ndarray:
    """A clip [L] with its part above ~TILT_SPLIT_HZ scaled by exp(log_gain): a brighter or darker take of the same
    drum (another head, mic or room), peak level unchanged so that velocity still says how loud it is. The split is
    a one-pole low-pass, so the two parts add back to the clip exactly at log_gain 0."""
    k = math.exp(-2 * math.pi * TILT_SPLIT_HZ / sample_rate_hz)
    low = lfilter([1 - k], [1, -k], a).astype(np.float32)
    out = low + math.exp(log_gain) * (a - low)
    peak_in, peak_out = float(np.max(np.abs(a))), float(np.max(np.abs(out)))
    return (out * (peak_in / peak_out) if peak_out > 0 else out).astype(np.float32)


DESCRIPTOR_NAMES = ("brightness", "noisiness", "decay")
DESCRIPTOR_HOP = 256  # samples per envelope frame of the decay descriptor (5.8 ms at 44.1 kHz)


def descriptors(x: np.ndarray, sample_rate_hz: int) -> np.ndarray:
    """Timbre descriptors of hits x [N, L] -> [N, 3] float32, each independent of level and polarity, scaled to
    roughly unit spread over the training kits:
    brightness: octaves of the power spectrum's centroid above 1 kHz, / 2;
    noisiness: natural log of the spectral flatness (geometric over arithmetic mean of the power, 40 Hz-16 kHz), / 4,
    + 1 (a pure tone is far below 0, white noise at 1);
    decay: octaves of the time the hit stays within 30 dB of its loudest 256-sample frame, above 0.1 s, / 2.

    Why these three: the model's hits vary least in their average spectral shape (MFCC means 1-12 at 0.25-0.63 of
    the training hits' spread within a class) and in how they die away; one class label covers cowbells and shakers,
    dry and ringing toms. Given as inputs, those choices are made before the denoiser starts rather than averaged
    away by it."""
    x = np.asarray(x, np.float64)
    n, length = x.shape
    power = np.abs(np.fft.rfft(x, axis=1)) ** 2 + 1e-20  # [N, L/2+1]
    hz = np.fft.rfftfreq(length, 1.0 / sample_rate_hz)
    centroid = (power * hz).sum(1) / power.sum(1)
    band = (hz >= 40) & (hz <= 16000)
    flatness = np.log(power[:, band]).mean(1) - np.log(power[:, band].mean(1))
    frames = length // DESCRIPTOR_HOP
    energy = (x[:, :frames * DESCRIPTOR_HOP] ** 2).reshape(n, frames, DESCRIPTOR_HOP).sum(-1) + 1e-20  # [N, frames]
    above = energy >= energy.max(1, keepdims=True) * 1e-3
    last = frames - 1 - np.argmax(above[:, ::-1], axis=1)  # last frame within 30 dB of the peak frame
    seconds = (last + 1) * DESCRIPTOR_HOP / sample_rate_hz
    out = np.stack([np.log2(np.maximum(centroid, 1.0) / 1000.0) / 2, flatness / 4 + 1, np.log2(seconds / 0.1) / 2], 1)
    return out.astype(np.float32)


def velocity_line(y: np.ndarray, v: np.ndarray):
    """Least-squares line in velocity of y [N, D] at velocities v [N] -> (coef [2, D]: intercept and slope, residuals
    [N, D]); a set played at one velocity (spread under 0.05) gets its mean and no slope."""
    a = np.stack([np.ones_like(v), v], 1).astype(np.float64)  # [N, 2]
    if np.ptp(v) < 0.05:
        coef = np.stack([y.mean(0), np.zeros(y.shape[1])])
    else:
        coef = np.linalg.lstsq(a, y, rcond=None)[0]
    return coef, y - a @ coef


def descriptor_prior(desc: np.ndarray, class_id: np.ndarray, velocity: np.ndarray, classes=CLASSES) -> dict:
    """Per class, the descriptors [N, D] of its hits as a Gaussian around a line in velocity: mean + slope * v, with
    the residuals' covariance as its Cholesky factor (harder hits are brighter; a random velocity must not undo it).
    -> {class name: {"mean": [D], "slope": [D], "chol": [D][D]}} for every class with at least 4 hits."""
    out = {}
    d = desc.shape[1]
    for c, name in enumerate(classes):
        m = class_id == c
        if m.sum() < 4:
            continue
        coef, resid = velocity_line(desc[m].astype(np.float64), velocity[m].astype(np.float64))  # [2, D], [n, D]
        cov = np.cov(resid.T) + 1e-4 * np.eye(d)
        out[name] = {"mean": [round(float(t), 6) for t in coef[0]], "slope": [round(float(t), 6) for t in coef[1]],
                     "chol": [[round(float(t), 6) for t in row] for row in np.linalg.cholesky(cov)]}
    return out


class BatchSampler:
    """Class-balanced random batches with augmentation (gain<->velocity, pitch by resampling, polarity; optional
    spectral tilt and shortened decays, Params.augment_tilt / augment_decay)."""

    def __init__(self, audio, class_id, velocity, p: Params, seed: int = 0):
        self.audio, self.class_id, self.velocity, self.p = audio, class_id, velocity, p
        self.rng = np.random.default_rng(seed)
        gen = CLASSES.index("general")
        self.by_class = {c: np.flatnonzero(class_id == c) for c in range(len(CLASSES)) if np.any(class_id == c)}
        self.drum_classes = [c for c in self.by_class if c != gen]
        self.has_general = gen in self.by_class

    def indices(self, n: int):
        gen = CLASSES.index("general")
        out = []
        for _ in range(n):
            if self.has_general and (not self.drum_classes or self.rng.random() < self.p.general_share):
                c = gen
            else:
                c = self.drum_classes[self.rng.integers(len(self.drum_classes))]
            out.append(self.by_class[c][self.rng.integers(len(self.by_class[c]))])
        return np.array(out)

    def batch(self, n: int):
        """-> audio [n, clip] float32, class_id [n] int64, velocity [n] float32."""
        idx = self.indices(n)
        L = self.p.clip_samples
        x = np.zeros((n, L), np.float32)
        vel = self.velocity[idx].copy()
        seconds = np.arange(L, dtype=np.float32) / self.p.sample_rate_hz if self.p.augment_decay > 0 else None  # [L]
        for i, j in enumerate(idx):
            a = self.audio[j]
            f = 1 + self.rng.uniform(-self.p.augment_pitch, self.p.augment_pitch)
            if abs(f - 1) > 1e-3:  # resample by linear interpolation: pitch/length change of one drum
                t = np.arange(L) * f
                a = np.interp(t, np.arange(L), a, right=0.0).astype(np.float32)
            drum = self.class_id[j] != CLASSES.index("general")
            if self.p.augment_tilt > 0:
                a = tilt(a, self.rng.uniform(-1, 1) * math.log1p(self.p.augment_tilt), self.p.sample_rate_hz)
            if self.p.augment_decay > 0 and drum and self.rng.random() < 0.5:
                r = self.rng.uniform(0, self.p.augment_decay)  # nepers per second
                a = a * np.exp(-r * seconds)
            if drum and self.rng.random() < 0.5:
                g = self.rng.uniform(0.35, 1.0)  # softer hit: quieter and lower velocity
                a = a * g
                vel[i] = vel[i] * g
            if self.rng.random() < 0.5:
                a = -a
            x[i] = a
        return x, self.class_id[idx].copy(), vel.astype(np.float32)


if __name__ == "__main__":
    main()
