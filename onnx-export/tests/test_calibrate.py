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


def flat(db_of_row_band, rows: int = 89, n_bands: int = 40, classes=("kick",), nodes=(0.5,), db_of_node=None) -> dict:
    """A calibration whose tables are db_of_row_band(row, band) (+ db_of_node(node) at each velocity node)."""
    edges = K.band_edges(n_bands)
    tables = [[[float(db_of_row_band(r, b)) + (db_of_node(n) if db_of_node else 0.0) for b in range(len(edges) - 1)]
               for r in range(rows)] for n in range(len(nodes))]
    return {"formatVersion": K.FORMAT_VERSION, "fftSize": K.FFT_SIZE, "hopSamples": K.HOP, "bandEdges": edges.tolist(),
            "velocityNodes": list(nodes), "gainsDb": {c: tables for c in classes}}


def noise(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(n) * np.exp(-np.arange(n) / 4000)).astype(np.float32)


def rms_db(x) -> float:
    return 10 * np.log10(np.mean(np.asarray(x, np.float64) ** 2) + 1e-30)


@pytest.mark.parametrize("length", [1, 100, 1000, 22528])
def test_a_flat_zero_db_table_gives_the_hit_back(length):
    x = noise(length)
    np.testing.assert_allclose(K.apply(x, "kick", flat(lambda r, b: 0), 0.8), x, atol=1e-6)


def test_a_flat_minus_20_db_table_scales_the_hit_by_a_tenth():
    x = noise(5000)
    np.testing.assert_allclose(K.apply(x, "kick", flat(lambda r, b: -20), 0.8), 0.1 * x, atol=1e-6)


def test_a_band_cut_takes_down_a_tone_in_it_and_leaves_one_elsewhere():
    t = np.arange(8192) / SR
    edges = K.band_edges(40)
    top = len(edges) - 2
    cal = flat(lambda r, b: -40 if b >= top - 3 else 0)
    low, high = 0.5 * np.sin(2 * np.pi * 200 * t), 0.5 * np.sin(2 * np.pi * 18000 * t)
    mid = slice(2048, 6144)
    assert abs(rms_db(K.apply(low, "kick", cal, 0.8)[mid]) - rms_db(low[mid])) < 0.5
    assert rms_db(K.apply(high, "kick", cal, 0.8)[mid]) - rms_db(high[mid]) == pytest.approx(-40, abs=1.0)


def test_later_rows_act_later_and_the_last_row_holds_past_the_table():
    t = np.arange(40 * K.HOP) / SR
    x = 0.5 * np.sin(2 * np.pi * 1000 * t)
    y = K.apply(x, "kick", flat(lambda r, b: 0 if r < 10 else -30, rows=12), 0.8)
    assert abs(rms_db(y[512:1536]) - rms_db(x[512:1536])) < 0.5
    assert rms_db(y[20 * K.HOP:]) - rms_db(x[20 * K.HOP:]) == pytest.approx(-30, abs=0.5)


def test_a_class_without_a_table_passes_unchanged():
    x = noise(3000)
    cal = flat(lambda r, b: -20)
    np.testing.assert_array_equal(K.apply(x, "snare", cal, 0.8), x)
    np.testing.assert_array_equal(K.apply(x, "kick", None, 0.8), x)


def test_fit_recovers_a_known_per_band_error_and_undoes_it():
    # "Generated" hits = real hits with their top 5 bands 12 dB too loud: fit must say -12 there and ~0 elsewhere.
    rng = np.random.default_rng(1)
    real = np.stack([noise(22528, s) for s in range(8)])
    cls = np.zeros(8, np.int64)
    edges = K.band_edges(40)
    boost = flat(lambda r, b: 12 if b >= len(edges) - 6 else 0)
    gen = np.stack([K.apply(x, "kick", boost, 0.8) for x in real[rng.permutation(8)]])
    vel = np.full(8, 0.9)
    cal = K.fit(real, cls, vel, gen, cls, vel, smooth_frames=1)
    tables = np.asarray(cal["gainsDb"]["kick"])
    assert tables.shape == (3, K.frame_count(22528), len(edges) - 1)
    assert np.array_equal(tables[0], tables[2])  # no hits in the soft bin: it takes the table over every velocity
    table = tables[2]
    assert np.abs(table[2:-2, -4:] + 12).max() < 1.0  # the 5th from the top borders an unboosted band (gains interpolate)
    assert np.abs(table[2:-2, :20]).max() < 1.0
    fixed = K.apply(gen[0], "kick", cal, 0.8)
    change = K.band_log_energy(fixed, edges) - K.band_log_energy(gen[0], edges)
    assert np.median(change[5:60, -4:]) == pytest.approx(-12, abs=1.0)
    assert np.median(np.abs(change[5:60, :20])) < 1.0


def test_fit_clips_to_the_limits_and_leaves_general_and_thin_classes_out():
    real = np.stack([noise(4096, s) for s in range(6)])
    gen = real * 1000  # +60 dB: clipped to max_cut
    cls = np.array([0, 0, 0, 0, 1, 1])  # kick 4 hits, snare 2 (< min_hits)
    vel = np.full(6, 0.5)
    cal = K.fit(real, cls, vel, gen, cls, vel, max_cut_db=50, max_boost_db=10)
    assert set(cal["gainsDb"]) == {"kick"}
    assert np.allclose(np.asarray(cal["gainsDb"]["kick"]), -50)
    cal = K.fit(gen, cls, vel, real, cls, vel, max_cut_db=50, max_boost_db=10)
    assert np.allclose(np.asarray(cal["gainsDb"]["kick"]), 10)
    general = CLASSES.index("general")
    cal = K.fit(real, np.full(6, general), vel, gen, np.full(6, general), vel)
    assert cal["gainsDb"] == {}


def test_the_shared_parity_fixture_is_what_apply_computes_today():
    path = os.path.join(ROOT, "models", "test", "calibration-parity.json")
    with open(path) as f:
        fx = json.load(f)
    got = K.apply(np.asarray(fx["hit"], np.float32), "kick", fx["calibration"], fx["velocity"])
    np.testing.assert_allclose(got, fx["calibrated"], atol=1e-7)
    assert fx == json.loads(json.dumps(K.parity_fixture()))  # regenerate it with parity_fixture() when apply changes


def test_as_played_calibrates_drum_hits_but_not_general_clips():
    x = noise(4096)
    x *= 0.5 / np.abs(x).max()  # under the finish's peak limit, so only the calibration changes the level
    general = CLASSES.index("general")
    cal = flat(lambda r, b: -20, classes=CLASSES)
    out = ev.as_played(np.stack([x, x]), np.array([0, general]), calibration=cal, velocity=np.array([0.8, 0.8]))
    np.testing.assert_array_equal(out[1], x)
    plain = ev.as_played(np.stack([x]), np.array([0]))[0]
    assert rms_db(out[0]) - rms_db(plain) == pytest.approx(-20, abs=0.1)


def test_as_played_ends_calibrated_hits_at_the_calibrations_tail_floor_and_others_at_the_default():
    n = 22528
    x = (0.5 * np.exp(-np.arange(n) / 2000.0) * np.sin(np.arange(n) * 0.3)).astype(np.float32)  # -8.7 dB per 1000
    sounding = lambda y: int(np.flatnonzero(y)[-1]) + 1
    cal = {**flat(lambda r, b: 0.0, classes=("kick",)), "tailFloorDb": -80.0}
    assert K.finish_floor_db(cal, "kick") == -80.0
    assert K.finish_floor_db(cal, "snare") == ev.FINISH_FLOOR_DB  # no table: not calibrated, the default floor
    assert K.finish_floor_db(flat(lambda r, b: 0.0), "kick") == ev.FINISH_FLOOR_DB  # a file without the field
    kick, snare = CLASSES.index("kick"), CLASSES.index("snare")
    out = ev.as_played(np.stack([x, x]), np.array([kick, snare]), calibration=cal, velocity=np.array([0.5, 0.5]))
    # a decay of 8.69 dB per 2000 samples reaches -50 dB near sample 11500 and -80 dB near 18400
    assert sounding(out[1]) == sounding(ev.one_shot_finish(x)) < 12500
    assert sounding(out[0]) == sounding(ev.one_shot_finish(K.apply(x, "kick", cal, 0.5), floor_db=-80.0)) > 18000


def test_fit_gives_each_velocity_bin_its_own_table_and_apply_interpolates_between_nodes():
    # Soft generated hits 6 dB too loud, hard ones 6 dB too quiet: the soft node cuts 6 dB, the hard one boosts 6.
    real = np.stack([noise(4096, s) * 0.1 for s in range(16)])
    cls = np.zeros(16, np.int64)
    vel = np.array([0.2] * 8 + [0.9] * 8)
    gen = real * np.where(vel < 0.5, 2.0, 0.5)[:, None]
    cal = K.fit(real, cls, vel, gen, cls, vel, smooth_frames=1)
    assert cal["velocityNodes"] == pytest.approx([0.2, 0.625, 0.9])  # the medium bin has no hits: its node is its middle ...
    t = np.asarray(cal["gainsDb"]["kick"])[:, 2:-2]
    assert np.abs(t[0] + 6.02).max() < 0.05 and np.abs(t[2] - 6.02).max() < 0.05
    every = K._class_table(*(np.stack([K.band_log_energy(x, K.band_edges(40)) for x in clips]) for clips in (real, gen)), 50, 10, 1)
    np.testing.assert_allclose(t[1], every[2:-2], atol=0.006)  # ... every velocity's table
    x = noise(4096) * 0.1
    for v, want in ((0.0, -6.02), (0.2, -6.02), (0.9, 6.02), (1.0, 6.02)):
        assert rms_db(K.apply(x, "kick", cal, v)[1024:3072]) - rms_db(x[1024:3072]) == pytest.approx(want, abs=0.3)
    between = np.asarray(K.table_at(cal, "kick", 0.4))
    both, w = np.asarray(cal["gainsDb"]["kick"]), (0.4 - 0.2) / (0.625 - 0.2)
    np.testing.assert_allclose(between, (1 - w) * both[0] + w * both[1])


def test_load_refuses_an_unknown_format(tmp_path):
    p = tmp_path / "c.json"
    p.write_text(json.dumps({"formatVersion": 99}))
    with pytest.raises(ValueError, match="formatVersion"):
        K.load(str(p))


def test_strength_scales_every_table():
    real = np.stack([noise(4096, s) for s in range(6)])
    gen = real * 2  # +6 dB
    cls, vel = np.zeros(6, np.int64), np.full(6, 0.5)
    one = np.asarray(K.fit(real, cls, vel, gen, cls, vel)["gainsDb"]["kick"])
    more = K.fit(real, cls, vel, gen, cls, vel, strength=1.5)
    assert more["strength"] == 1.5
    np.testing.assert_allclose(np.asarray(more["gainsDb"]["kick"]), 1.5 * one, atol=0.011)  # tables rounded to 0.01 dB


def levelled(levels_db, length: int = 8192, seed0: int = 0) -> np.ndarray:
    """Noise hits [N, length] at the given levels (dB): a set whose hit-to-hit spread is known."""
    return np.stack([noise(length, seed0 + i) * 10 ** (d / 20) for i, d in enumerate(levels_db)])


def test_fit_measures_how_much_less_the_model_varies_and_caps_the_factor():
    rng = np.random.default_rng(3)
    real = levelled(rng.normal(0, 6, 40))          # real hits: levels spread by 6 dB
    gen = levelled(rng.normal(0, 2, 40), seed0=100)  # the model's: by 2 dB, so every band and frame varies 3x less
    cls, vel = np.zeros(40, np.int64), np.full(40, 0.7)
    entry = K.fit(real, cls, vel, gen, cls, vel, spread_cap=10)["spread"]["classes"]["kick"]
    assert np.median(entry["shapeGain"]) == pytest.approx(2.0, abs=0.5)  # factor ~3
    assert max(entry["envelopeGain"][:20]) < 0.3  # a hit's level counts once, in its shape: the decays are alike
    capped = K.fit(real, cls, vel, gen, cls, vel, spread_cap=1.5)["spread"]
    assert max(capped["classes"]["kick"]["shapeGain"]) <= 0.5 and capped["cap"] == 1.5
    assert "spread" not in K.fit(real, cls, vel, gen, cls, vel)  # cap 1 (the default): no section
    wider = K.fit(gen, cls, vel, real, cls, vel, spread_cap=10)["spread"]["classes"]["kick"]
    assert max(wider["shapeGain"]) == 0  # a model that varies more than the real hits is never narrowed


def test_spread_widens_each_hits_deviation_from_the_models_average():
    rng = np.random.default_rng(4)
    real = levelled(rng.normal(0, 6, 40))
    gen = levelled(rng.normal(0, 2, 40), seed0=100)
    cls, vel = np.zeros(40, np.int64), np.full(40, 0.7)
    plain = K.fit(real, cls, vel, gen, cls, vel)
    cal = K.fit(real, cls, vel, gen, cls, vel, spread_cap=2)
    loud, soft = gen[0] * 10 ** (3 / 20), gen[0] * 10 ** (-3 / 20)  # 6 dB apart
    played = lambda cal, x: rms_db(K.apply(x, "kick", cal, 0.7))
    assert played(plain, loud) - played(plain, soft) == pytest.approx(6, abs=0.1)
    assert played(cal, loud) - played(cal, soft) == pytest.approx(12, abs=1.0)  # factor 2: twice as far apart
    spread_of = lambda cal: np.std([rms_db(K.apply(x, "kick", cal, 0.7)) for x in gen])
    assert spread_of(cal) == pytest.approx(2 * spread_of(plain), rel=0.2)


def test_a_spread_of_zero_gains_changes_nothing_and_the_limit_bounds_the_extra_gain():
    x = noise(5000)
    cal = flat(lambda r, b: -6)
    b = len(cal["bandEdges"]) - 1
    entry = {"shapeMeanDb": [0.0] * b, "shapeSlopeDb": [0.0] * b, "shapeGain": [0.0] * b,
             "envelopeMeanDb": [0.0], "envelopeSlopeDb": [0.0], "envelopeGain": [0.0]}
    with_spread = dict(cal, spread={"cap": 2.0, "limitDb": 3.0, "classes": {"kick": entry}})
    np.testing.assert_allclose(K.apply(x, "kick", with_spread, 0.8), K.apply(x, "kick", cal, 0.8), atol=1e-7)
    entry = dict(entry, shapeMeanDb=[-200.0] * b, shapeGain=[1.0] * b)  # a hit ~200 dB above "average": limit it
    limited = dict(cal, spread={"cap": 2.0, "limitDb": 3.0, "classes": {"kick": entry}})
    assert rms_db(K.apply(x, "kick", limited, 0.8)) - rms_db(K.apply(x, "kick", cal, 0.8)) == pytest.approx(3, abs=0.1)


def decaying(time_constants, length: int = 8192, seed0: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed0)
    return np.stack([(rng.standard_normal(length) * np.exp(-np.arange(length) / tc)).astype(np.float32) * 0.3
                     for tc in time_constants])


def test_a_model_whose_decays_vary_less_gets_its_envelope_widened_and_a_longer_hit_rings_longer():
    rng = np.random.default_rng(5)
    real = decaying(np.exp(rng.normal(np.log(1500), 0.6, 40)))        # decay times spread over a factor ~1.8 either way
    gen = decaying(np.exp(rng.normal(np.log(1500), 0.15, 40)), seed0=1)  # the model's: 4x narrower
    cls, vel = np.zeros(40, np.int64), np.full(40, 0.7)
    cal = K.fit(real, cls, vel, gen, cls, vel, spread_cap=2)
    assert np.median(cal["spread"]["classes"]["kick"]["envelopeGain"][4:12]) == pytest.approx(1.0, abs=0.05)  # capped
    plain = K.fit(real, cls, vel, gen, cls, vel)
    longer = decaying([2000], seed0=7)[0]
    late = slice(4000, 6000)
    assert rms_db(K.apply(longer, "kick", cal, 0.7)[late]) > rms_db(K.apply(longer, "kick", plain, 0.7)[late]) + 1.0


def test_strength_may_differ_per_class_and_a_class_left_out_keeps_its_table():
    real = np.stack([noise(4096, s) for s in range(8)])
    cls, vel = np.array([0, 0, 0, 0, 1, 1, 1, 1]), np.full(8, 0.5)
    one = K.fit(real, cls, vel, real * 2, cls, vel)
    per = K.fit(real, cls, vel, real * 2, cls, vel, strength={"kick": 2.0})
    np.testing.assert_allclose(np.asarray(per["gainsDb"]["kick"]), 2 * np.asarray(one["gainsDb"]["kick"]), atol=0.011)
    assert per["gainsDb"]["snare"] == one["gainsDb"]["snare"]
    again = K.with_choices(K.fit(real, cls, vel, real * 2, cls, vel, spread_cap=3), {"kick": 2.0}, 1.0)
    np.testing.assert_allclose(np.asarray(again["gainsDb"]["kick"]), np.asarray(per["gainsDb"]["kick"]), atol=0.011)
    assert "spread" not in again


def band_noise(n: int, lo_hz: float, hi_hz: float, top_db: float, seed: int, length: int = 8192) -> np.ndarray:
    """n decaying noise hits with their energy in lo_hz..hi_hz and the part above 3 kHz at top_db."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        spec = np.fft.rfft(rng.standard_normal(length) * np.exp(-np.arange(length) / 1500))
        hz = np.fft.rfftfreq(length, 1 / SR)
        spec[(hz < lo_hz) | (hz > hi_hz)] = 0
        spec[hz > 3000] *= 10 ** (top_db / 20)
        x = np.fft.irfft(spec, length)
        out.append((0.5 * x / np.abs(x).max()).astype(np.float32))
    return np.stack(out)


def test_cross_validation_strengthens_only_the_class_whose_clipped_table_leaves_it_unrecognised(monkeypatch):
    # Real kicks and snares differ above 3 kHz (-40 dB vs 0 dB). The "model's" kicks are right; its snares lack
    # 45 dB there, past the +10 dB boost limit, so at strength 1 they still sound like kicks. The listener: a hit is
    # a snare when its energy above 3 kHz is within 10 dB of its total (deterministic, unlike a fitted classifier on
    # eight hits).
    kick, snare = CLASSES.index("kick"), CLASSES.index("snare")

    def top_db(audio):
        spec = np.abs(np.fft.rfft(audio, axis=-1)) ** 2
        hz = np.fft.rfftfreq(audio.shape[-1], 1 / SR)
        return (10 * np.log10(spec[:, hz > 3000].sum(1) / spec.sum(1)))[:, None]

    class Listener:
        def __init__(self, feats, labels, n_classes):
            pass

        def predict(self, feats):
            return np.where(feats[:, 0] > -10, snare, kick)

    monkeypatch.setattr(ev, "features", top_db)
    monkeypatch.setattr(ev, "Classifier", Listener)
    real = np.concatenate([np.concatenate([band_noise(4, 40, 16000, -40, 10 * k), band_noise(4, 40, 16000, 0, 10 * k + 1)])
                           for k in range(3)])
    real_cls = np.tile(np.repeat([kick, snare], 4), 3)
    kits = np.repeat(["a", "b", "c"], 8)
    gen = np.concatenate([band_noise(12, 40, 16000, -40, 100), band_noise(12, 40, 16000, -45, 101)])
    gen_cls = np.repeat([kick, snare], 12)
    vel = np.full(24, 0.8)
    cv = K.cross_validate(real, real_cls, vel, kits, gen, gen_cls, vel, strengths=(1.0, 2.0, 3.0),
                          spread_caps=(1.0, 2.0), log=lambda s: None)
    assert cv["folds"] == 3 and cv["hits"] == 48  # two generated hits per real hit of each left-out kit
    assert cv["classAccuracy"]["snare"][1.0] == 0.0 and cv["classAccuracy"]["snare"][3.0] == 1.0
    assert cv["strength"] == {"kick": 1.0, "snare": 2.0}  # the smallest strength as good as the best
    assert set(cv["capAccuracy"]) == {1.0, 2.0}
