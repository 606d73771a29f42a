"""Spectral calibration (diffusion_drums.calibrate): what it does to a hit, what fit recovers, the shared fixture."""
import json
import os

import numpy as np
import pytest

from diffusion_drums import calibrate as K
from diffusion_drums import evaluate as ev
from diffusion_drums.params import CLASSES

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SR = 44100


def flat(db_of_row_band, rows: int = 89, n_bands: int = 40, classes=("kick",)) -> dict:
    edges = K.band_edges(n_bands)
    table = [[float(db_of_row_band(r, b)) for b in range(len(edges) - 1)] for r in range(rows)]
    return {"formatVersion": K.FORMAT_VERSION, "fftSize": K.FFT_SIZE, "hopSamples": K.HOP, "bandEdges": edges.tolist(),
            "gainsDb": {c: table for c in classes}}


def noise(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(n) * np.exp(-np.arange(n) / 4000)).astype(np.float32)


def rms_db(x) -> float:
    return 10 * np.log10(np.mean(np.asarray(x, np.float64) ** 2) + 1e-30)


@pytest.mark.parametrize("length", [1, 100, 1000, 22528])
def test_a_flat_zero_db_table_gives_the_hit_back(length):
    x = noise(length)
    np.testing.assert_allclose(K.apply(x, "kick", flat(lambda r, b: 0)), x, atol=1e-6)


def test_a_flat_minus_20_db_table_scales_the_hit_by_a_tenth():
    x = noise(5000)
    np.testing.assert_allclose(K.apply(x, "kick", flat(lambda r, b: -20)), 0.1 * x, atol=1e-6)


def test_a_band_cut_takes_down_a_tone_in_it_and_leaves_one_elsewhere():
    t = np.arange(8192) / SR
    edges = K.band_edges(40)
    top = len(edges) - 2
    cal = flat(lambda r, b: -40 if b >= top - 3 else 0)
    low, high = 0.5 * np.sin(2 * np.pi * 200 * t), 0.5 * np.sin(2 * np.pi * 18000 * t)
    mid = slice(2048, 6144)
    assert abs(rms_db(K.apply(low, "kick", cal)[mid]) - rms_db(low[mid])) < 0.5
    assert rms_db(K.apply(high, "kick", cal)[mid]) - rms_db(high[mid]) == pytest.approx(-40, abs=1.0)


def test_later_rows_act_later_and_the_last_row_holds_past_the_table():
    t = np.arange(40 * K.HOP) / SR
    x = 0.5 * np.sin(2 * np.pi * 1000 * t)
    y = K.apply(x, "kick", flat(lambda r, b: 0 if r < 10 else -30, rows=12))
    assert abs(rms_db(y[512:1536]) - rms_db(x[512:1536])) < 0.5
    assert rms_db(y[20 * K.HOP:]) - rms_db(x[20 * K.HOP:]) == pytest.approx(-30, abs=0.5)


def test_a_class_without_a_table_passes_unchanged():
    x = noise(3000)
    cal = flat(lambda r, b: -20)
    np.testing.assert_array_equal(K.apply(x, "snare", cal), x)
    np.testing.assert_array_equal(K.apply(x, "kick", None), x)


def test_fit_recovers_a_known_per_band_error_and_undoes_it():
    # "Generated" hits = real hits with their top 5 bands 12 dB too loud: fit must say -12 there and ~0 elsewhere.
    rng = np.random.default_rng(1)
    real = np.stack([noise(22528, s) for s in range(8)])
    cls = np.zeros(8, np.int64)
    edges = K.band_edges(40)
    boost = flat(lambda r, b: 12 if b >= len(edges) - 6 else 0)
    gen = np.stack([K.apply(x, "kick", boost) for x in real[rng.permutation(8)]])
    cal = K.fit(real, cls, gen, cls, smooth_frames=1)
    table = np.asarray(cal["gainsDb"]["kick"])
    assert table.shape == (K.frame_count(22528), len(edges) - 1)
    assert np.abs(table[2:-2, -4:] + 12).max() < 1.0  # the 5th from the top borders an unboosted band (gains interpolate)
    assert np.abs(table[2:-2, :20]).max() < 1.0
    fixed = K.apply(gen[0], "kick", cal)
    change = K.band_log_energy(fixed, edges) - K.band_log_energy(gen[0], edges)
    assert np.median(change[5:60, -4:]) == pytest.approx(-12, abs=1.0)
    assert np.median(np.abs(change[5:60, :20])) < 1.0


def test_fit_clips_to_the_limits_and_leaves_general_and_thin_classes_out():
    real = np.stack([noise(4096, s) for s in range(6)])
    gen = real * 1000  # +60 dB: clipped to max_cut
    cls = np.array([0, 0, 0, 0, 1, 1])  # kick 4 hits, snare 2 (< min_hits)
    cal = K.fit(real, cls, gen, cls, max_cut_db=50, max_boost_db=10)
    assert set(cal["gainsDb"]) == {"kick"}
    assert np.allclose(np.asarray(cal["gainsDb"]["kick"]), -50)
    cal = K.fit(gen, cls, real, cls, max_cut_db=50, max_boost_db=10)
    assert np.allclose(np.asarray(cal["gainsDb"]["kick"]), 10)
    general = CLASSES.index("general")
    cal = K.fit(real, np.full(6, general), gen, np.full(6, general))
    assert cal["gainsDb"] == {}


def test_the_shared_parity_fixture_is_what_apply_computes_today():
    path = os.path.join(ROOT, "models", "test", "calibration-parity.json")
    with open(path) as f:
        fx = json.load(f)
    got = K.apply(np.asarray(fx["hit"], np.float32), "kick", fx["calibration"])
    np.testing.assert_allclose(got, fx["calibrated"], atol=1e-7)
    assert fx == json.loads(json.dumps(K.parity_fixture()))  # regenerate it with parity_fixture() when apply changes


def test_as_played_calibrates_drum_hits_but_not_general_clips():
    x = noise(4096)
    x *= 0.5 / np.abs(x).max()  # under the finish's peak limit, so only the calibration changes the level
    general = CLASSES.index("general")
    cal = flat(lambda r, b: -20, classes=CLASSES)
    out = ev.as_played(np.stack([x, x]), np.array([0, general]), calibration=cal)
    np.testing.assert_array_equal(out[1], x)
    plain = ev.as_played(np.stack([x]), np.array([0]))[0]
    assert rms_db(out[0]) - rms_db(plain) == pytest.approx(-20, abs=0.1)


def test_load_refuses_an_unknown_format(tmp_path):
    p = tmp_path / "c.json"
    p.write_text(json.dumps({"formatVersion": 99}))
    with pytest.raises(ValueError, match="formatVersion"):
        K.load(str(p))
