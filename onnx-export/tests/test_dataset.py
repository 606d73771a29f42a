import os

import numpy as np
import pytest
import scipy.signal
import soundfile as sf

from diffusion_drums.params import CLASSES, Params
from diffusion_drums.dataset import (map_instrument, read_kit, to_clip, build_cache, ClipSet, BatchSampler,
                                     write_midi, build_folder, find_duplicates, tilt, descriptors, descriptor_prior)


@pytest.mark.parametrize("name,cls", [
    ("Kick", "kick"), ("BassDrum", "kick"), ("c3 - bass drum 1", "kick"), ("Pearl Kick", "kick"),
    ("Snare Rimshot", "snare"), ("Snare Jazz", "snare"), ("Stick", "rim"), ("Pearl Side Stick", "rim"),
    ("Rim Click (Pearl Free Floating Maple 14x3.5)", "rim"), ("Hand Clap", "clap"), ("Clap Hard", "clap"),
    ("Floor Tom", "tom"), ("tomhi2", "tom"), ("Closed HH", "hihat_closed"), ("Sabian Hat Choke", "hihat_closed"),
    ("Pedal HH", "hihat_closed"), ("Hi-Hat Semiopen (Paiste)", "hihat_open"), ("Hat Op Dirty", "hihat_open"),
    ("VariBreaks Hat 1 Op", "hihat_open"), ("Side OHH", "hihat_open"), ("Crash Left", "crash"),
    ("Zildjian Splash", "crash"), ("Cymbal", "crash"), ("Ride Bell", "ride"), ("Paiste Ride Flink", "ride"),
    ("Cowbell", "percussion"), ("Djembe1 Bass", "percussion"), ("Click", "percussion"), ("Zap 1", "percussion"),
])
def test_instrument_names_map_to_their_class(name, cls):
    assert map_instrument(name) == cls


@pytest.mark.parametrize("name", ["", "17", "Snare Roll", "Sample: beats_01-39.flac", "f#4 - ", "Main"])
def test_empty_slots_rolls_and_loops_are_dropped(name):
    assert map_instrument(name) is None


def _write_kit(root, name, sr=48000, licence="CC0", tone_hz=180.0, noise_seed=0):
    d = os.path.join(root, name)
    os.makedirs(d)
    t = np.arange(int(0.3 * sr)) / sr
    hit = (np.sin(2 * np.pi * tone_hz * t) * np.exp(-t / 0.05)).astype(np.float32)
    sf.write(os.path.join(d, "soft.wav"), np.concatenate([np.zeros(1000, np.float32), 0.25 * hit]), sr)
    sf.write(os.path.join(d, "hard.flac"), np.stack([hit, hit], 1), sr)
    sf.write(os.path.join(d, "hat.wav"), np.random.default_rng(noise_seed).standard_normal(4000).astype(np.float32) * 0.1, sr)
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<drumkit_info xmlns="http://www.hydrogen-music.org/drumkit"><name>{name}</name><author>me</author>
<license>{licence}</license><instrumentList>
<instrument><id>0</id><name>Kick</name><instrumentComponent><component_id>0</component_id>
<layer><filename>soft.wav</filename><min>0</min><max>0.5</max></layer>
<layer><filename>hard.flac</filename><min>0.5</min><max>1</max></layer></instrumentComponent></instrument>
<instrument><id>1</id><name>Closed HH</name><filename>hat.wav</filename></instrument>
<instrument><id>2</id><name>17</name><filename>empty.wav</filename></instrument>
</instrumentList></drumkit_info>"""
    with open(os.path.join(d, "drumkit.xml"), "w") as f:
        f.write(xml)


def test_kit_xml_gives_layers_with_velocity_ranges_and_licence(tmp_path):
    _write_kit(str(tmp_path), "KitA")
    kit, licence, author, layers, dropped = read_kit(str(tmp_path / "KitA"))
    assert (kit, licence, author) == ("KitA", "CC0", "me")
    assert [(l.cls, l.vel_min, l.vel_max) for l in layers] == [("kick", 0, 0.5), ("kick", 0.5, 1), ("hihat_closed", 0, 1)]
    assert len(dropped) == 1 and "'17'" in dropped[0]


def test_to_clip_trims_leading_silence_and_pads_to_length():
    x = np.concatenate([np.zeros(5000, np.float32), np.ones(100, np.float32)])
    c = to_clip(x, 1024, pre=16)
    assert c.shape == (1024,)
    assert c[15] == 0 and c[16] == 1 and c[116] == 0


def test_cache_resamples_normalises_per_instrument_and_holds_out_whole_kits(tmp_path):
    _write_kit(str(tmp_path / "h"), "KitA")
    _write_kit(str(tmp_path / "h"), "KitB", tone_hz=230.0, noise_seed=1)
    p = Params(clip_samples=4096)
    out = str(tmp_path / "cache.npz")
    meta = build_cache(p, out, hydrogen_dir=str(tmp_path / "h"), held_out=["KitB"], with_general=False, log=lambda s: None)
    data = ClipSet(out)
    assert data.audio.shape == (6, 4096) and meta["heldOutKits"] == ["KitB"]
    tr_a, tr_c, tr_v, tr_k = data.split(held=False)
    assert set(tr_k) == {"KitA"} and set(data.split(held=True)[3]) == {"KitB"}
    kick = tr_c == CLASSES.index("kick")
    peaks = np.abs(tr_a[kick]).max(1)
    assert np.isclose(peaks.max(), 0.95, atol=1e-3)          # loudest layer of the instrument
    assert np.isclose(peaks.min() / peaks.max(), 0.25, atol=0.02)  # softer layer keeps its level
    assert sorted(tr_v[kick].tolist()) == [0.25, 0.75]         # velocity = middle of the layer range
    # 48 kHz source, 180 Hz tone at 44.1 kHz: zero crossings every 44100/360 = 122.5 samples
    hard = tr_a[kick][np.argmax(peaks)]
    zc = np.flatnonzero(np.diff(np.signbit(hard[:2000])))
    assert abs(np.median(np.diff(zc)) - 122.5) < 2


def test_a_users_folder_maps_subfolders_to_classes_and_skips_unknown_ones(tmp_path):
    for sub in ["snare", "kazoo"]:
        os.makedirs(tmp_path / sub)
        sf.write(str(tmp_path / sub / "a.wav"), np.ones(500, np.float32) * 0.5, 44100)
    clips, cls, vel, kit, src, dropped = build_folder(Params(clip_samples=1024), str(tmp_path), log=lambda s: None)
    assert cls == [CLASSES.index("snare")] and len(clips) == 1 and "kazoo" in dropped[0]


def test_midi_writer_makes_a_format0_file_on_channel_one(tmp_path):
    path = str(tmp_path / "a.mid")
    write_midi(path, 5, [(0, 1, 60, 100), (1, 1, 64, 90)])
    b = open(path, "rb").read()
    assert b[:4] == b"MThd" and b[8:10] == b"\x00\x00" and b"\xc0\x05" in b and b"\x90\x3c\x64" in b
    assert not any(b[i] == 0x99 for i in range(len(b)))  # nothing on channel 10


def test_batches_are_class_balanced_and_softer_hits_get_lower_velocity():
    p = Params(clip_samples=512)
    n = 40
    audio = np.ones((n, 512), np.float32) * 0.5
    cls = np.array([0] * 36 + [1] * 4)
    vel = np.ones(n, np.float32)
    s = BatchSampler(audio, cls, vel, p, seed=1)
    x, c, v = s.batch(400)
    assert x.shape == (400, 512) and c.dtype == np.int64
    assert 0.35 < (c == 1).mean() < 0.65
    peak = np.abs(x[:, :100]).max(1)
    assert np.allclose(peak / 0.5, v, atol=1e-5)


def _band_energy(x, lo_hz, hi_hz, rate=44100):
    f = np.fft.rfftfreq(len(x), 1 / rate)
    return float((np.abs(np.fft.rfft(x)) ** 2)[(f >= lo_hz) & (f < hi_hz)].sum())


def test_a_tilt_brightens_or_darkens_a_hit_keeps_its_peak_and_is_the_identity_at_zero():
    rng = np.random.default_rng(3)
    x = (rng.standard_normal(4096) * np.exp(-np.arange(4096) / 800)).astype(np.float32)
    assert np.allclose(tilt(x, 0.0, 44100), x, atol=1e-6)
    bright, dark = tilt(x, np.log(2), 44100), tilt(x, -np.log(2), 44100)
    ratio = lambda y: _band_energy(y, 5000, 22050) / _band_energy(y, 0, 300)
    assert ratio(bright) > 2.5 * ratio(x) and ratio(dark) < ratio(x) / 2.5  # ~ x4 in power far above the split
    for y in (bright, dark):
        assert y.dtype == np.float32 and np.isclose(np.abs(y).max(), np.abs(x).max(), rtol=1e-5)


def test_tilt_and_decay_augmentation_are_off_by_default_and_vary_the_takes_when_on():
    rng = np.random.default_rng(4)
    k = np.exp(-2 * np.pi * 1000 / 44100)  # noise with as much energy below the tilt's split as above it
    audio = np.stack([scipy.signal.lfilter([1 - k], [1, -k], rng.standard_normal(1024)) for _ in range(8)])
    audio = (0.3 * audio / np.abs(audio).max(1, keepdims=True)).astype(np.float32)
    cls, vel = np.zeros(8, np.int64), np.ones(8, np.float32)
    plain = dict(clip_samples=1024, augment_pitch=0.0)
    x0, _, _ = BatchSampler(audio, cls, vel, Params(**plain), seed=5).batch(64)
    xz, _, _ = BatchSampler(audio, cls, vel, Params(**plain, augment_tilt=0.0, augment_decay=0.0), seed=5).batch(64)
    assert np.array_equal(x0, xz)                                       # off by default: the same batches
    xt, _, _ = BatchSampler(audio, cls, vel, Params(**plain, augment_tilt=1.0, augment_decay=40.0), seed=5).batch(64)
    hf = lambda x: np.mean(np.diff(x, axis=1) ** 2, axis=1) / np.mean(x ** 2, axis=1)  # [n]: a brightness measure
    assert np.std(np.log(hf(xt))) > 2 * np.std(np.log(hf(x0)))          # takes vary in brightness
    tail = lambda x: np.mean(x[:, 768:] ** 2, axis=1) / np.mean(x[:, :256] ** 2, axis=1)
    assert np.min(tail(xt)) < 0.5 * np.min(tail(x0))                    # some takes decay faster


def test_a_sound_another_kit_already_gave_is_kept_once_and_a_held_out_kit_keeps_its_copy():
    rng = np.random.default_rng(3)
    hit = lambda: (rng.standard_normal(2048) * np.exp(-np.arange(2048) / 300)).astype(np.float32)
    snare, kick, tom = hit(), hit(), hit()
    clips = [snare, kick, snare.copy(), 0.5 * snare, tom, tom + 1e-4 * hit(), kick.copy(), tom.copy()]
    cls = [1, 0, 1, 1, 4, 4, 4, 4]  # the kick's sound again, but filed as a tom: another class, kept
    kit = ["A", "A", "B", "B", "A", "B", "C", "Held"]
    src = [f"{k}/{i}.wav" for i, k in enumerate(kit)]
    drop, lines = find_duplicates(clips, cls, kit, src, held_out=["Held"])
    # 2: kit B's snare is kit A's; 3: the same snare 6 dB down is a velocity layer, kept;
    # 4 and 5: kit A's and kit B's tom are the held-out kit's tom (5 with a trace of noise): the training copies go
    assert drop == [2, 4, 5]
    assert lines[drop.index(2)] == "B: 2.wav repeats A/0.wav (same sound and level)"
    assert all("repeats Held/7.wav" in lines[drop.index(i)] for i in (4, 5))
    assert find_duplicates([], [], [], [], held_out=[]) == ([], [])


def test_the_cache_keeps_a_kit_that_repeats_another_kits_samples_only_for_what_it_adds(tmp_path):
    _write_kit(str(tmp_path / "h"), "KitA")
    _write_kit(str(tmp_path / "h"), "KitCopy", noise_seed=2)  # KitA's kick layers, its own hat
    meta = build_cache(Params(clip_samples=4096), str(tmp_path / "c.npz"), hydrogen_dir=str(tmp_path / "h"), held_out=[],
                       with_general=False, log=lambda s: None)
    data = ClipSet(str(tmp_path / "c.npz"))
    assert sorted(zip(data.kit.tolist(), data.class_id.tolist())) == sorted(
        [("KitA", 0), ("KitA", 0), ("KitA", 5), ("KitCopy", 5)])
    assert {k["kit"]: k["hits"] for k in meta["kits"]} == {"KitA": {"kick": 2, "hihat_closed": 1},
                                                           "KitCopy": {"hihat_closed": 1}}
    assert sum("KitCopy: " in d and "repeats KitA/" in d for d in meta["dropped"]) == 2


def _decaying(kind: str, seconds: float, rng, length: int = 22528, sr: int = 44100):
    t = np.arange(length) / sr
    src = np.sin(2 * np.pi * 200 * t) if kind == "tone" else rng.standard_normal(length)
    return (src * np.exp(-t * 6.9 / seconds)).astype(np.float32)  # -60 dB at `seconds`


def test_descriptors_tell_noise_from_a_tone_bright_from_dark_and_long_from_short_whatever_the_level():
    rng = np.random.default_rng(0)
    tone, noise = _decaying("tone", 0.2, rng), _decaying("noise", 0.2, rng)
    dark = scipy.signal.lfilter([0.05], [1, -0.95], noise).astype(np.float32)
    long_noise = _decaying("noise", 0.4, rng)
    d = descriptors(np.stack([tone, noise, dark, long_noise, -0.1 * noise]), 44100)  # [5, 3]
    brightness, noisiness, decay = d.T
    assert d.shape == (5, 3) and d.dtype == np.float32
    assert noisiness[1] > noisiness[0] + 1 and brightness[1] > brightness[2] + 1 and brightness[1] > brightness[0]
    # -30 dB of a 60-dB-per-0.2-s decay is 0.1 s, 0.2 s for the longer one: 0 and 0.5 (octaves above 0.1 s, / 2)
    assert abs(decay[1]) < 0.05 and abs(decay[3] - 0.5) < 0.05
    assert np.allclose(d[4], d[1], atol=1e-5)  # quieter and upside down: the same sound


def test_the_descriptor_prior_recovers_a_classs_line_in_velocity_and_its_spread():
    rng = np.random.default_rng(1)
    n = 4000
    vel = rng.uniform(0.1, 1.0, n).astype(np.float32)
    chol = np.array([[0.5, 0, 0], [0.2, 0.3, 0], [0, -0.1, 0.4]])
    desc = np.array([1.0, -0.5, 0.2]) + np.outer(vel, [0.8, 0.0, -0.3]) + rng.standard_normal((n, 3)) @ chol.T
    cls = np.where(np.arange(n) < n - 3, CLASSES.index("snare"), CLASSES.index("rim"))  # 3 rims: too few to fit
    prior = descriptor_prior(desc.astype(np.float32), cls, vel)
    assert set(prior) == {"snare"}
    sn = prior["snare"]
    assert np.allclose(sn["mean"], [1.0, -0.5, 0.2], atol=0.05) and np.allclose(sn["slope"], [0.8, 0.0, -0.3], atol=0.08)
    assert np.allclose(np.array(sn["chol"]) @ np.array(sn["chol"]).T, chol @ chol.T, atol=0.02)
