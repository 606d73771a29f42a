import numpy as np
import torch
import pytest

from diffusion_drums import evaluate as ev
from diffusion_drums.evaluate import (frechet_distance, frechet_mean_part, spread_ratio, max_xcorr,
                                      mean_pairwise_distance, Classifier, features, noise_bursts, evaluate_sets)
from diffusion_drums.sampling import karras_sigmas, SAMPLERS

SR = 44100


def test_frechet_distance_of_known_gaussians():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((20000, 3))
    assert frechet_distance(a, a) < 1e-6
    shifted = a + np.array([1.0, 2.0, 0.0])
    assert abs(frechet_distance(a, shifted) - 5.0) < 1e-3   # |mu difference|^2, same covariance
    wider = rng.standard_normal((20000, 3)) * 2.0
    assert abs(frechet_distance(a, wider) - 3.0) < 0.1      # per dimension (1 - 2)^2


def test_a_shifted_copy_correlates_fully_and_fresh_noise_does_not():
    rng = np.random.default_rng(1)
    ref = rng.standard_normal((3, 4096)).astype(np.float32)
    copy = np.roll(ref[1], 300)[None, :] * 0.3
    copy[:, :300] = 0
    fresh = rng.standard_normal((1, 4096)).astype(np.float32)
    xc = max_xcorr(np.concatenate([copy, fresh]), ref)
    assert xc[0] > 0.95 and xc[1] < 0.1


def test_mean_pairwise_distance_of_known_points():
    assert mean_pairwise_distance(np.array([[0.0], [3.0]])) == 3.0
    assert abs(mean_pairwise_distance(np.array([[0.0, 0.0], [3.0, 4.0], [0.0, 0.0]])) - 10 / 3) < 1e-12


def _tones(freq, n, rng, length=8192):
    t = np.arange(length) / SR
    f = freq * rng.uniform(0.9, 1.1, (n, 1))
    tone = np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi, (n, 1)))
    noise = 0.7 * rng.standard_normal((n, length))  # every hit has its own noise: no two are alike
    return ((tone + noise) * np.exp(-t / rng.uniform(0.02, 0.1, (n, 1)))).astype(np.float32)


def test_classifier_separates_low_thumps_from_high_pings():
    rng = np.random.default_rng(2)
    x = np.concatenate([_tones(80, 30, rng), _tones(5000, 30, rng)])
    y = np.array([0] * 30 + [1] * 30)
    clf = Classifier(features(x), y, 2)
    xt = np.concatenate([_tones(80, 10, rng), _tones(5000, 10, rng)])
    assert clf.accuracy(features(xt), np.array([0] * 10 + [1] * 10)) == 1.0


def test_noise_bursts_decay():
    b = noise_bursts(4, 22528, np.random.default_rng(3))
    assert b.shape == (4, 22528)
    assert (np.abs(b[:, :2000]).mean(1) > 5 * np.abs(b[:, -2000:]).mean(1)).all()


def test_report_scores_real_hits_better_than_noise_and_finds_copies():
    rng = np.random.default_rng(4)
    train = np.concatenate([_tones(80, 20, rng), _tones(3000, 20, rng)])
    train_c = np.array([0] * 20 + [1] * 20)
    ref = np.concatenate([_tones(80, 10, rng), _tones(3000, 10, rng)])
    ref_c = np.array([0] * 10 + [1] * 10)
    sets = {"model copies": (train[[0, 1, 20, 21]], np.array([0, 0, 1, 1])),
            "model fresh": (np.concatenate([_tones(80, 10, rng), _tones(3000, 10, rng)]), ref_c),
            "noise": (noise_bursts(20, 8192, rng), ref_c)}
    r = evaluate_sets(train, train_c, ref, ref_c, sets, classes=["low", "high"])
    assert r["model copies"]["pooled"]["copies"] == 4
    assert r["model fresh"]["pooled"]["copies"] == 0 and r["noise"]["pooled"]["copies"] is None
    assert r["model fresh"]["pooled"]["frechet"] < r["noise"]["pooled"]["frechet"]
    assert r["model fresh"]["pooled"]["accuracy"] == 1.0


def test_karras_schedule_runs_from_sigma_max_to_sigma_min_then_zero():
    s = karras_sigmas(8, 0.002, 10.0)
    assert len(s) == 9 and abs(s[0] - 10) < 1e-5 and abs(s[7] - 0.002) < 1e-7 and s[8] == 0
    assert (s[:-1] > s[1:]).all()


def test_samplers_draw_from_a_gaussian_with_an_exact_denoiser():
    mu, sd = 0.3, 0.5  # data ~ N(mu, sd^2): D(x, sigma) = (sd^2 x + sigma^2 mu) / (sd^2 + sigma^2)
    den = lambda x, s: (sd ** 2 * x + s ** 2 * mu) / (sd ** 2 + s ** 2)
    g = torch.Generator().manual_seed(0)
    tolerance = {"euler": 0.06, "heun": 0.01, "dpmpp_2m": 0.01, "ddim": 0.06}  # first- vs second-order error at 32 steps
    for name, sampler in SAMPLERS.items():
        x = torch.randn(20000, generator=g) * 80.0
        out = sampler(den, x, karras_sigmas(32, 0.002, 80.0))
        assert abs(out.mean() - mu) < 0.02 and abs(out.std() - sd) < tolerance[name], name


def test_ancestral_ddim_at_many_steps_draws_the_gaussian_too_and_its_noise_follows_the_seed():
    mu, sd = 0.3, 0.5
    den = lambda x, s: (sd ** 2 * x + s ** 2 * mu) / (sd ** 2 + s ** 2)
    x = torch.randn(20000, generator=torch.Generator().manual_seed(1)) * 80.0
    run = lambda seed: SAMPLERS["ddim"](den, x.clone(), karras_sigmas(256, 0.002, 80.0), 1.0, torch.Generator().manual_seed(seed))
    out = run(0)
    assert abs(out.mean() - mu) < 0.02 and abs(out.std() - sd) < 0.02
    assert torch.equal(out, run(0)) and not torch.equal(out, run(2))
    deterministic = SAMPLERS["ddim"](den, x.clone(), karras_sigmas(256, 0.002, 80.0))
    assert torch.corrcoef(torch.stack([out, deterministic]))[0, 1] < 0.9  # eta 1 forgets most of the start noise


def test_a_full_scale_5_khz_sine_reads_0_dbfs_at_5_khz_and_its_plot_is_a_png(tmp_path):
    x = np.sin(2 * np.pi * 5000 * np.arange(8192) / ev.SR)
    spec = ev.spectrogram_dbfs(x)  # [513, frames]
    mid = spec[:, spec.shape[1] // 2]
    assert abs(np.argmax(mid) * ev.SR / 1024 - 5000) < ev.SR / 1024
    assert abs(mid.max()) < 1.0  # dBFS
    assert mid[: int(2000 * 1024 / ev.SR)].max() < -60  # nothing far below it
    path = tmp_path / "s.png"
    ev.plot_examples(np.stack([x, -x]), ["a", "b"], "t", str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_tail_level_reads_a_sine_at_minus_3_dbfs_and_trimmed_silence_at_the_floor():
    sr = ev.SR
    x = np.zeros((2, sr // 2))
    x[0] = np.sin(2 * np.pi * 1000 * np.arange(sr // 2) / sr) * 10 ** (-20 / 20)  # a -20 dBFS-peak sine
    x[1, :1000] = 0.9  # a hit trimmed to exact zeros
    db = ev.tail_dbfs(x)
    assert abs(db[0] - (-23.0)) < 0.1 and db[1] == -120.0


def test_the_frechet_distance_splits_into_a_mean_shift_and_a_spread_part():
    rng = np.random.default_rng(3)
    a = rng.normal(size=(4000, 3))
    shifted = a + np.array([2.0, 1.0, 0.0])
    narrow = a * 0.5
    assert abs(frechet_mean_part(shifted, a) - 5.0) < 1e-9     # a pure shift is all mean part
    assert abs(spread_ratio(shifted, a) - 1.0) < 1e-9
    assert frechet_mean_part(narrow, a) < 0.01                 # a narrower set keeps the mean ...
    assert abs(spread_ratio(narrow, a) - 0.5) < 1e-9           # ... and varies half as much
    assert frechet_distance(narrow, a) > 0.5                    # which the distance still counts


class _ClassMeanModel:
    """The exact denoiser of x0 ~ N(mean_c, 1e-6): class 0 -> +1, the null class -> 0. Records each call's batch."""
    def __init__(self):
        self.calls = []

    def __call__(self, x, sigma, class_id, velocity):
        self.calls.append((x.shape[0], float(sigma[0])))
        return torch.where(class_id.view(-1, 1, 1) == 0, 1.0, 0.0).expand_as(x).clone()


def test_guidance_limited_to_low_noise_runs_high_noise_steps_conditional_only_and_guides_below():
    from diffusion_drums.sampling import make_denoiser
    model = _ClassMeanModel()
    den = make_denoiser(model, torch.tensor([0, 0]), torch.ones(2), guidance=2.0, null_class_id=11, guidance_max_sigma=1.0)
    x = torch.zeros(2, 1, 8)
    high, low = den(x, torch.tensor(5.0)), den(x, torch.tensor(0.5))
    assert [c[0] for c in model.calls] == [2, 4]             # conditional alone above the limit, both halves below
    assert torch.allclose(high, torch.ones_like(high))      # the conditional estimate itself
    assert torch.allclose(low, torch.full_like(low, 2.0))   # 0 + 2 * (1 - 0)
    every = make_denoiser(model, torch.tensor([0, 0]), torch.ones(2), guidance=2.0, null_class_id=11)
    assert torch.allclose(every(x, torch.tensor(5.0)), torch.full_like(x, 2.0))


class _ConstantModel(torch.nn.Module):
    def __init__(self, value):
        super().__init__()
        self.value, self.calls, self.p = value, [], None

    def forward(self, x, sigma, class_id, velocity):
        self.calls.append((x.shape[0], sigma.tolist(), class_id.tolist()))
        return torch.full_like(x, self.value)


def test_autoguidance_extrapolates_from_the_guide_to_the_model_above_its_sigma_and_is_the_model_alone_below():
    from diffusion_drums.sampling import Autoguided
    main, guide = _ConstantModel(1.0), _ConstantModel(0.25)
    d = Autoguided(main, guide, weight=2.0, min_sigma=0.3)
    x = torch.zeros(3, 1, 8)
    out = d(x, torch.tensor([5.0, 0.3, 0.1]), torch.tensor([3, 5, 11]), torch.ones(3))
    assert torch.allclose(out[0], torch.full_like(out[0], 1.75))  # 0.25 + 2 * (1 - 0.25)
    assert torch.allclose(out[1:], torch.ones_like(out[1:]))      # at and below min_sigma: the model alone
    assert guide.calls[0][2] == [3, 5, 11]                        # the guide is told the same classes (null included)
    d(x, torch.full((3,), 0.2), torch.tensor([0, 0, 0]), torch.ones(3))
    assert len(guide.calls) == 1                                  # no item above min_sigma: the guide is not run


def test_classifier_free_guidance_acts_on_the_autoguided_model():
    from diffusion_drums.sampling import Autoguided, make_denoiser
    main, guide = _ClassMeanModel(), _ConstantModel(0.5)
    den = make_denoiser(Autoguided(main, guide, weight=3.0, min_sigma=0.3), torch.tensor([0, 0]), torch.ones(2),
                        guidance=2.0, null_class_id=11)
    out = den(torch.zeros(2, 1, 8), torch.tensor(1.0))
    # conditional: 0.5 + 3 (1 - 0.5) = 2; unconditional: 0.5 + 3 (0 - 0.5) = -1; guided: -1 + 2 (2 - -1) = 5
    assert torch.allclose(out, torch.full_like(out, 5.0))


def test_an_autoguidance_row_names_its_weight_interval_guide_and_guidance():
    assert (ev.run_name("dpmpp_2m", 6, 1.0, autoguidance=(2.0, 0.3, 2500)) ==
            "model dpmpp_2m 6 steps, autoguidance 2 above σ 0.3 (guide: 2500 steps), guidance 1.0")
    assert ev.parse_autoguidance("2@0.3") == (2.0, 0.3, 1.0)
    assert ev.parse_autoguidance("1.5@1+2") == (1.5, 1.0, 2.0)


def test_a_report_row_names_its_guidance_interval_only_when_one_is_set():
    assert ev.run_name("dpmpp_2m", 6, 2.0) == "model dpmpp_2m 6 steps, guidance 2.0"
    assert ev.run_name("dpmpp_2m", 6, 2.0, guidance_max_sigma=1.0) == "model dpmpp_2m 6 steps, guidance 2.0, guidance only at σ ≤ 1"
    assert ev.run_name("dpmpp_2m", 6, 2.0, guidance_max_sigma=float("inf")).endswith("guidance at every σ")
    assert ev.run_name("dpmpp_2m", 6, 1.0, guidance_max_sigma=1.0) == "model dpmpp_2m 6 steps, guidance 1.0"


def _decaying_tone_over_a_floor(length=22050, floor=1e-4, seed=0):
    """A 200 Hz tone falling 60 dB per 0.1 s from peak 0.5, over white noise at `floor` rms (a model's tail)."""
    t = np.arange(length) / SR
    rng = np.random.default_rng(seed)
    return (0.5 * np.sin(2 * np.pi * 200 * t) * 10 ** (-3 * t / 0.1) + floor * rng.standard_normal(length)).astype(np.float32)


def test_the_one_shot_finish_keeps_the_hit_bit_exact_then_fades_into_exact_silence():
    hit = _decaying_tone_over_a_floor()
    out = ev.one_shot_finish(hit)
    end = int(np.flatnonzero(out)[-1]) + 1
    # the tone falls 50 dB below its peak near 0.083 s; the noise floor (-74 dB under the peak) is cut
    assert 0.075 * SR < end < 0.11 * SR
    fade = int(ev.FINISH_FADE_S * SR)
    np.testing.assert_array_equal(out[:end - fade], hit[:end - fade])
    assert np.all(np.abs(out[end - fade:end]) <= np.abs(hit[end - fade:end]))
    assert not out[end:].any()


def test_the_one_shot_finish_scales_an_overshooting_hit_as_a_whole_and_leaves_a_quieter_one_alone():
    loud = 3.0 * _decaying_tone_over_a_floor(floor=0.0)  # peaks near 1.38
    out = ev.one_shot_finish(loud)
    assert abs(np.abs(out).max() - ev.FINISH_MAX_PEAK) < 1e-6
    early = slice(0, 2000)
    np.testing.assert_allclose(out[early], loud[early] * ev.FINISH_MAX_PEAK / np.abs(loud).max(), rtol=1e-6)
    quiet = _decaying_tone_over_a_floor(floor=0.0)
    np.testing.assert_array_equal(ev.one_shot_finish(quiet)[early], quiet[early])


def test_the_one_shot_finish_fades_a_sound_cut_short_over_its_last_10_ms_and_silences_silence_and_nan():
    t = np.arange(8192) / SR
    held = (0.5 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
    out = ev.one_shot_finish(held)
    fade = int(ev.FINISH_FADE_S * SR)
    np.testing.assert_array_equal(out[:-fade], held[:-fade])
    i = np.arange(1, fade + 1)  # the raised cosine from 1 toward 0 over the last 10 ms
    np.testing.assert_allclose(out[-fade:], held[-fade:] * (0.5 + 0.5 * np.cos(np.pi * i / (fade + 1))), atol=1e-7)
    assert not ev.one_shot_finish(np.zeros(1000, np.float32)).any()
    assert not ev.one_shot_finish(np.full(1000, np.nan, np.float32)).any()


def test_the_one_shot_finish_uses_the_engines_constants():
    import os, re
    src = open(os.path.join(os.path.dirname(__file__), "..", "..", "engine", "DiffusionPlugin.Engine", "Realtime",
                            "OneShotTail.cs")).read()
    value = lambda name: float(re.search(rf"const\s+\w+\s+{name}\s*=\s*(-?[0-9.]+)", src).group(1))
    assert value("DefaultFloorDb") == ev.FINISH_FLOOR_DB
    assert value("FadeSeconds") == ev.FINISH_FADE_S
    assert value("WindowSeconds") == ev.FINISH_WINDOW_S
    assert value("MaxPeak") == ev.FINISH_MAX_PEAK


def test_as_played_finishes_drum_hits_and_leaves_general_clips_as_generated():
    hits = np.stack([_decaying_tone_over_a_floor(seed=1), _decaying_tone_over_a_floor(seed=2)])
    cls = np.array([ev.CLASSES.index("snare"), ev.CLASSES.index("general")])
    out = ev.as_played(hits, cls)
    assert not out[0, -1000:].any()
    np.testing.assert_array_equal(out[1], hits[1])


def test_the_held_out_kit_figures_leave_the_general_clips_out():
    rng = np.random.default_rng(5)
    classes = ["kick", "snare", "general"]
    train = np.concatenate([_tones(80, 20, rng), _tones(3000, 20, rng), _tones(600, 20, rng)])
    train_c = np.repeat([0, 1, 2], 20)
    ref = np.concatenate([_tones(80, 10, rng), _tones(3000, 10, rng), _tones(600, 10, rng)])
    ref_c = np.repeat([0, 1, 2], 10)
    good_drums_bad_general = (np.concatenate([_tones(80, 10, rng), _tones(3000, 10, rng), noise_bursts(10, 8192, rng)]), ref_c)
    r = evaluate_sets(train, train_c, ref, ref_c, {"model": good_drums_bad_general}, classes=classes)["model"]
    assert r["kits"]["accuracy"] == 1.0 and r["pooled"]["accuracy"] < 0.9
    assert r["kits"]["frechet"] < r["pooled"]["frechet"] / 2
    assert r["kits"]["copies"] == 0
    only_general = evaluate_sets(train, train_c, ref, ref_c, {"g": (ref[ref_c == 2], ref_c[ref_c == 2])}, classes=classes)["g"]
    assert "kits" not in only_general


def test_the_report_checks_the_bars_on_the_held_out_kits_as_played_raw_and_on_every_class(tmp_path):
    rng = np.random.default_rng(6)
    classes = ["kick", "snare", "general"]
    mk = lambda: np.concatenate([_tones(80, 10, rng), _tones(3000, 10, rng), _tones(600, 6, rng)])
    train, ref, gen = mk(), mk(), mk()
    cls = np.repeat([0, 1, 2], [10, 10, 6])
    key = "model test"
    sets = {"real held-out hits (the reference itself)": (ref, cls), "real training hits (floor)": (train, cls),
            "noise bursts (ceiling)": (noise_bursts(len(ref), 8192, rng), cls),
            key: (gen, cls), key + ev.AS_PLAYED: (ev.as_played(gen, cls, classes), cls)}
    res = evaluate_sets(train, cls, ref, cls, sets, classes=classes)
    meta = {"heldOutKits": ["A"], "refCount": len(ref), "perItem": 1, "step": 1, "trainingMinutes": 0.0, "command": "x",
            "unseenKitAccuracy": {"drums": 0.5, "kick": 0.25, "snare": 0.75}}
    ev.write_report(tmp_path / "EVALUATION.md", res, {}, meta, key)
    text = (tmp_path / "EVALUATION.md").read_text()
    assert "general clips are 6 of the 26 reference items" in text
    assert "kits it was not fitted on it scores 0.500" in text and "kick 0.25, snare 0.75." in text
    bars = text.split("## Bars")[1]
    played, raw, pooled = (bars.index(h) for h in ("Held-out kits, as played:", "Held-out kits, the model's raw output:",
                                                    "Every class pooled"))
    assert played < raw < pooled
    kits_floor = res["real training hits (floor)"]["kits"]["frechet"]
    assert f"{res[key + ev.AS_PLAYED]['kits']['frechet']:.2f} vs {1.5 * kits_floor:.2f}" in bars[played:raw]


def test_unseen_kit_accuracy_is_perfect_when_every_kit_tells_classes_apart_the_same_way_and_low_when_each_kit_differs():
    rng = np.random.default_rng(7)
    classes = ["kick", "snare", "general"]
    kits = np.repeat(["a", "b", "c"], 8)
    same = np.concatenate([np.concatenate([_tones(80, 4, rng), _tones(5000, 4, rng)]) for _ in range(3)])
    labels = np.tile(np.repeat([0, 1], 4), 3)
    f = features(same)
    u = ev.unseen_kit_accuracy(f, labels, kits, len(classes), classes)
    assert u["drums"] == 1.0 and u["kick"] == 1.0 and u["snare"] == 1.0
    # every kit calls its own two sounds by the other kit's names: fitted on two kits, a third is a coin toss at best
    swapped = np.concatenate([np.concatenate([_tones(80 if k != "b" else 5000, 4, rng), _tones(5000 if k != "b" else 80, 4, rng)])
                              for k in ("a", "b", "c")])
    u = ev.unseen_kit_accuracy(features(swapped), labels, kits, len(classes), classes)
    assert u["drums"] < 0.7


class _ToneDenoiser(torch.nn.Module):
    """D(x, sigma, class, velocity): a decaying tone per class (kick 80 Hz, snare 3 kHz, else 600 Hz) at the velocity,
    plus 0.3 of the noisy input, so the last step keeps some of each seed's noise."""

    def __init__(self, length):
        super().__init__()
        from diffusion_drums.params import Params
        self.p = Params(clip_samples=length)

    def forward(self, x, sigma, class_id, velocity):  # x: [B,1,L] -> [B,1,L]
        t = torch.arange(x.shape[-1]) / SR
        hz = torch.tensor([80.0, 3000.0, 600.0])[class_id.clamp(max=2)].view(-1, 1, 1)
        tone = torch.sin(2 * np.pi * hz * t) * torch.exp(-t / 0.05) * velocity.view(-1, 1, 1)
        return tone + 0.3 * x / (1 + sigma.view(-1, 1, 1))


def _clip_set(tmp_path, length=4096):
    """A cache of two kits (A trained on, B held out) with kicks, snares and general clips, as dataset.ClipSet reads."""
    import json
    from diffusion_drums.dataset import ClipSet
    rng = np.random.default_rng(9)
    audio, cls, kit = [], [], []
    for k in ("A", "B"):
        for c, hz, n in ((0, 80, 8), (1, 3000, 8), (ev.CLASSES.index("general"), 600, 3)):
            audio.append(_tones(hz, n, rng, length)); cls += [c] * n; kit += [k] * n
    audio = np.concatenate(audio)
    np.savez(tmp_path / "cache.npz", audio=audio, class_id=np.array(cls, np.int64),
             velocity=rng.uniform(0.3, 1.0, len(cls)).astype(np.float32), kit=np.array(kit), source=np.array(kit))
    (tmp_path / "cache.json").write_text(json.dumps({"heldOutKits": ["B"]}))
    return ClipSet(str(tmp_path / "cache.npz"))


def test_the_seed_spread_regenerates_the_shipped_row_per_noise_seed_and_the_report_tables_it(tmp_path):
    data = _clip_set(tmp_path)
    model = _ToneDenoiser(4096)
    both = ev.seed_spread(model, data, [0, 7], "dpmpp_2m", 4, 1.0, 0.01, None, log=lambda s: None)
    spread = both["perSeed"]
    assert sorted(spread) == [0, 7]
    again = ev.seed_spread(model, data, [7], "dpmpp_2m", 4, 1.0, 0.01, None, log=lambda s: None)
    assert again["perSeed"][7] == spread[7]                        # a seed is a fixed draw
    assert again["allSeeds"] is None                               # one seed has nothing to pool
    # every seed's hits as one set: accuracy is the seeds' mean (equal counts), the other figures of their own
    together = both["allSeeds"]
    assert together["accuracy"] == pytest.approx((spread[0]["accuracy"] + spread[7]["accuracy"]) / 2)
    assert together["frechet"] not in (spread[0]["frechet"], spread[7]["frechet"])
    assert together["copies"] == spread[0]["copies"] + spread[7]["copies"]
    assert spread[0]["frechet"] != spread[7]["frechet"]            # another seed is another draw
    assert all(k["copies"] == 0 for k in spread.values())          # clean tones plus noise copy no training hit
    assert all(0 < k["diversity"] for k in spread.values())
    # the report's own seed reproduces the report's row (same items, same batches as run)
    ref_a, ref_c, ref_v, _ = data.split(held=True)
    tr_a, tr_c, _, _ = data.split(held=False)
    idx = ev.generated_items(ref_c, 2)
    assert len(idx) == 2 * int((ref_c != ev.CLASSES.index("general")).sum()) + int((ref_c == ev.CLASSES.index("general")).sum())
    audio = ev.generate_row(model, torch.tensor(ref_c[idx]), torch.tensor(ref_v[idx]), 4096, "dpmpp_2m", 4, 1.0, 0.01,
                            0.0, None, None, 0)
    row = evaluate_sets(tr_a, tr_c, ref_a, ref_c, {"model x": (ev.as_played(audio, ref_c[idx]), ref_c[idx])})["model x"]
    assert row["kits"]["frechet"] == spread[0]["frechet"] and row["kits"]["accuracy"] == spread[0]["accuracy"]
    # the report prints one line per seed under the bars, against the same floor
    key = "model x"
    sets = {"real held-out hits (the reference itself)": (ref_a, ref_c), "real training hits (floor)": (tr_a, tr_c),
            "noise bursts (ceiling)": (noise_bursts(len(ref_a), 4096, np.random.default_rng(1)), ref_c),
            key: (audio, ref_c[idx]), key + ev.AS_PLAYED: (ev.as_played(audio, ref_c[idx]), ref_c[idx])}
    res = evaluate_sets(tr_a, tr_c, ref_a, ref_c, sets)
    meta = {"heldOutKits": ["B"], "refCount": len(ref_a), "perItem": 2, "step": 1, "trainingMinutes": 0.0, "command": "x",
            "unseenKitAccuracy": {"drums": 0.5}, "seed": 0}
    ev.write_report(tmp_path / "EVALUATION.md", res, {}, meta, key, both)
    text = (tmp_path / "EVALUATION.md").read_text()
    lines = [l for l in text.splitlines() if l.startswith("| 0 |") or l.startswith("| 7 |") or l.startswith("| all 2 seeds")]
    assert len(lines) == 3 and all(l.endswith("of 4 |") for l in lines)
    assert f"| 7 | {spread[7]['frechet']:.2f} | {spread[7]['accuracy']:.3f} |" in text
    assert f"| all 2 seeds as one set (4 hits per reference hit) | {together['frechet']:.2f} | {together['accuracy']:.3f} |" in text


def test_descriptors_are_drawn_from_each_classs_prior_at_its_velocity_and_a_class_without_one_gets_none():
    from diffusion_drums.sampling import draw_descriptors
    chol = [[0.5, 0.0], [0.3, 0.2]]
    prior = {"snare": {"mean": [1.0, -1.0], "slope": [2.0, 0.0], "chol": chol}}
    n = 20000
    cls = torch.tensor([1] * n + [0])  # snares, then one kick (no prior)
    vel = torch.cat([torch.full((n,), 0.5), torch.ones(1)])
    d = draw_descriptors(prior, cls, vel, torch.Generator().manual_seed(0)).double()  # [n+1, 3]
    assert d.shape == (n + 1, 3)
    assert torch.allclose(d[:n, :2].mean(0), torch.tensor([2.0, -1.0], dtype=torch.float64), atol=0.02)  # 1 + 2 * 0.5
    c = torch.tensor(chol, dtype=torch.float64)
    assert torch.allclose(torch.cov(d[:n, :2].T), c @ c.T, atol=0.01)
    assert torch.equal(d[:n, 2], torch.ones(n, dtype=torch.float64)) and torch.equal(d[n], torch.zeros(3, dtype=torch.float64))
    again = draw_descriptors(prior, cls, vel, torch.Generator().manual_seed(0))
    assert torch.equal(again.double(), d)  # the seed decides them, as it decides the noise


class _DescriptorEcho(torch.nn.Module):
    """Returns each item's first descriptor (0 without one) everywhere; records what it was given."""

    def __init__(self, prior):
        super().__init__()
        from diffusion_drums.params import Params
        self.p, self.seen = Params(clip_samples=256, descriptors=2, descriptor_prior=prior), []

    def forward(self, x, sigma, class_id, velocity, descriptor=None):
        self.seen.append(None if descriptor is None else descriptor.clone())
        first = torch.zeros(x.shape[0]) if descriptor is None else descriptor[:, 0]
        return first.view(-1, 1, 1).expand_as(x).clone()


def test_generation_gives_a_descriptor_model_its_drawn_descriptors_and_the_unconditional_half_none():
    from diffusion_drums.sampling import generate
    prior = {"kick": {"mean": [3.0, 0.0], "slope": [0.0, 0.0], "chol": [[1e-3, 0.0], [0.0, 1e-3]]}}
    model = _DescriptorEcho(prior)
    out = generate(model, torch.tensor([0, 0]), torch.ones(2), 256, steps=3, guidance=2.0, guidance_max_sigma=1.0)
    assert all(s is not None for s in model.seen)
    high, low = model.seen[0], model.seen[-1]  # sigma 10: conditional alone; sigma_min: both halves
    assert high.shape == (2, 3) and torch.allclose(high[:, 0], torch.full((2,), 3.0), atol=0.01)
    assert low.shape == (4, 3) and torch.equal(low[2:], torch.zeros(2, 3)) and torch.equal(low[:2], high)
    assert torch.allclose(out, torch.full_like(out, 6.0), atol=0.03)  # 0 + 2 * (3 - 0) at the last step
