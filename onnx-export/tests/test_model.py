import json
import os

import numpy as np
import pytest
import torch

from diffusion_drums.params import Params, NULL_CLASS_ID
from diffusion_drums.model import EDMDenoiser, band_pass_bank
from diffusion_drums import train

TINY = dict(channels=(16, 32, 32), blocks=(1, 1, 1), emb_dim=32, clip_samples=1024)


def tiny():
    torch.manual_seed(0)
    return EDMDenoiser(Params(**TINY)).eval()


@pytest.mark.parametrize("batch,length", [(1, 256), (3, 1024), (2, 4096)])
def test_denoiser_keeps_batch_and_length(batch, length):
    m = tiny()
    x = torch.randn(batch, 1, length)
    y = m(x, torch.rand(batch) + 0.1, torch.randint(0, NULL_CLASS_ID + 1, (batch,)), torch.rand(batch))
    assert y.shape == (batch, 1, length) and y.dtype == torch.float32


def test_length_multiple_is_patch_times_downsampling():
    assert Params().length_multiple == 256 and Params(patch=128).length_multiple == 512
    assert Params().clip_samples % Params().length_multiple == 0


def test_at_tiny_noise_the_denoiser_returns_its_input():
    m = tiny()
    x = torch.randn(2, 1, 512) * 0.1
    y = m(x, torch.full((2,), 1e-4), torch.zeros(2, dtype=torch.long), torch.ones(2))
    assert torch.allclose(y, x, atol=1e-3)


def test_class_and_velocity_change_the_output():
    m = tiny()
    with torch.no_grad():
        for p in m.parameters():  # the zero-initialised output convs would hide the conditioning
            p.add_(0.05 * torch.randn_like(p))
    x = torch.randn(1, 1, 512)
    s = torch.ones(1)
    a = m(x, s, torch.tensor([0]), torch.tensor([1.0]))
    b = m(x, s, torch.tensor([5]), torch.tensor([1.0]))
    c = m(x, s, torch.tensor([0]), torch.tensor([0.2]))
    assert (a - b).abs().max() > 1e-4 and (a - c).abs().max() > 1e-4


def test_dropout_varies_the_output_while_training_and_is_gone_at_inference():
    torch.manual_seed(0)
    m = EDMDenoiser(Params(**TINY, dropout=0.5))
    with torch.no_grad():  # a fresh block's second convolution is zero, which would hide what dropout does to its input
        for name, w in m.named_parameters():
            if "conv2" in name:
                w.normal_(0, 0.1)
    plain = EDMDenoiser(Params(**TINY))
    plain.load_state_dict(m.state_dict())  # dropout holds no weights: the same checkpoint builds either model
    x, sigma = torch.randn(2, 1, 1024), torch.full((2,), 0.5)
    c, v = torch.tensor([1, 4]), torch.tensor([0.5, 0.9])
    with torch.no_grad():
        m.train()
        assert not torch.allclose(m(x, sigma, c, v), m(x, sigma, c, v))
        m.eval()
        assert torch.equal(m(x, sigma, c, v), m(x, sigma, c, v))
        assert torch.allclose(m(x, sigma, c, v), plain.eval()(x, sigma, c, v), atol=1e-6)


def test_a_descriptor_model_starts_as_the_plain_one_and_once_trained_its_descriptors_change_the_hit():
    torch.manual_seed(0)
    m = EDMDenoiser(Params(**TINY, descriptors=3)).eval()
    with torch.no_grad():  # the zero-initialised output convs would hide the conditioning
        for name, w in m.named_parameters():
            if "desc_proj" not in name:
                w.add_(0.05 * torch.randn_like(w))
    plain = EDMDenoiser(Params(**TINY)).eval()
    plain.load_state_dict({k: v for k, v in m.state_dict().items() if "desc_proj" not in k})
    x, sigma = torch.randn(2, 1, 512), torch.ones(2)
    c, v = torch.tensor([1, 4]), torch.tensor([0.5, 0.9])
    given = torch.tensor([[1.0, -0.5, 0.3, 1.0], [-1.0, 0.2, 0.0, 1.0]])
    with torch.no_grad():
        assert torch.equal(m(x, sigma, c, v, given), plain(x, sigma, c, v))  # fresh: descriptors do nothing yet
        m.net.desc_proj.weight.normal_(0, 0.5)
        m.net.desc_proj.bias.normal_(0, 0.5)
        assert (m(x, sigma, c, v, given) - m(x, sigma, c, v, given.flip(0))).abs().max() > 1e-4
        # None means "no descriptors": the same as an all-zero row, the null input training drops to
        assert torch.allclose(m(x, sigma, c, v), m(x, sigma, c, v, torch.zeros(2, 4)), atol=1e-6)
        assert torch.equal(plain(x, sigma, c, v, given), plain(x, sigma, c, v))  # a plain model ignores them


def test_training_with_descriptors_fits_their_prior_once_and_keeps_it_in_the_checkpoint(tmp_path):
    cache = str(tmp_path / "c.npz")
    _tiny_cache(cache)
    args = ["--cache", cache, "--ckpt-dir", str(tmp_path / "ck"), "--steps", "2", "--batch-size", "4",
            "--params", json.dumps({**TINY, "channels": list(TINY["channels"]), "blocks": list(TINY["blocks"]),
                                    "descriptors": 3}), "--device", "cpu", "--precision", "fp32"]
    train.main(args)
    prior = torch.load(tmp_path / "ck" / "last.pt")["params"]["descriptor_prior"]
    assert set(prior) == {"kick"}  # the only class with the four training clips a prior needs (snare, rim: 3)
    assert len(prior["kick"]["mean"]) == 3 and len(prior["kick"]["chol"]) == 3
    ck = torch.load(tmp_path / "ck" / "last.pt")
    assert any("desc_proj" in k for k in ck["model"]) and ck["step"] == 2


def test_training_refuses_a_descriptor_count_other_than_none_or_all_three(tmp_path):
    cache = str(tmp_path / "c.npz")
    _tiny_cache(cache)
    with pytest.raises(SystemExit, match="descriptors must be 0 \\(none\\) or 3 \\(brightness, noisiness, decay\\), not 2"):
        train.main(["--cache", cache, "--ckpt-dir", str(tmp_path / "ck"), "--steps", "1", "--device", "cpu",
                    "--params", json.dumps({**TINY, "channels": list(TINY["channels"]), "blocks": list(TINY["blocks"]),
                                            "descriptors": 2})])
    assert not (tmp_path / "ck").exists()


def test_training_drops_the_descriptors_with_the_class_and_on_their_own_share_of_the_rest():
    class Recording(EDMDenoiser):
        def forward(self, x, sigma, class_id, velocity, descriptor=None):
            self.seen = (class_id.clone(), descriptor.clone())
            return x * 0

    p = Params(**TINY, descriptors=3, cfg_dropout=0.3, descriptor_dropout=0.5)
    m = Recording(p)
    n = 4000
    given = torch.full((n, 3), 0.7)
    train.edm_loss(m, torch.zeros(n, 1, 256), torch.zeros(n, dtype=torch.long), torch.ones(n), p,
                   torch.Generator().manual_seed(0), given)
    cls, desc = m.seen
    null = cls == NULL_CLASS_ID
    assert not desc[null].any()  # the unconditional branch never sees descriptors
    kept = desc[:, 3] == 1
    assert torch.equal(desc[kept, :3], given[kept]) and not desc[~kept].any()
    assert abs(null.float().mean() - 0.3) < 0.03 and abs(kept[~null].float().mean() - 0.5) < 0.03


def test_params_round_trip_through_a_dict():
    p = Params(**TINY)
    assert Params.from_dict(json.loads(json.dumps(p.to_dict()))) == p


def _tiny_cache(path, nan=False):
    rng = np.random.default_rng(0)
    audio = rng.standard_normal((12, 1024)).astype(np.float32) * 0.1
    if nan:
        audio[:] = np.nan
    np.savez(path, audio=audio, class_id=np.arange(12) % 3, velocity=np.ones(12, np.float32),
             kit=np.array(["a"] * 10 + ["b"] * 2), source=np.array(["x"] * 12))
    with open(os.path.splitext(path)[0] + ".json", "w") as f:
        json.dump({"heldOutKits": ["b"], "kits": [], "std": 0.1}, f)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])  # fp32 is what CPUs without native bf16 get from auto
def test_training_saves_a_resumable_checkpoint_with_its_hyperparameters(tmp_path, precision):
    cache = str(tmp_path / "c.npz")
    _tiny_cache(cache)
    args = ["--cache", cache, "--ckpt-dir", str(tmp_path / "ck"), "--steps", "3", "--batch-size", "4",
            "--params", json.dumps({**TINY, "channels": list(TINY["channels"]), "blocks": list(TINY["blocks"])}),
            "--log-every", "1", "--device", "cpu", "--precision", precision]
    train.main(args)
    ck = torch.load(tmp_path / "ck" / "last.pt")
    assert ck["step"] == 3 and ck["params"]["channels"] == [16, 32, 32] and ck["data"]["heldOutKits"] == ["b"]
    train.main(args[:5] + ["5"] + args[6:])  # resume to step 5
    assert torch.load(tmp_path / "ck" / "last.pt")["step"] == 5


def test_training_keeps_snapshots_at_its_time_marks_beside_the_last_checkpoint(tmp_path):
    cache = str(tmp_path / "c.npz")
    _tiny_cache(cache)
    train.main(["--cache", cache, "--ckpt-dir", str(tmp_path / "ck"), "--steps", "3", "--batch-size", "4",
                "--params", json.dumps({**TINY, "channels": [16, 32, 32], "blocks": [1, 1, 1]}), "--device", "cpu",
                "--precision", "fp32", "--snapshot-every-min", "1e-9"])  # a mark passes at every step
    snaps = sorted(p for p in os.listdir(tmp_path / "ck") if p.startswith("snapshot-"))
    steps = [torch.load(tmp_path / "ck" / p)["step"] for p in snaps]
    assert steps == [1, 2, 3] and snaps[0] == "snapshot-0000.0min-step000001.pt"
    train.main(["--cache", cache, "--ckpt-dir", str(tmp_path / "no"), "--steps", "2", "--batch-size", "4",
                "--params", json.dumps({**TINY, "channels": [16, 32, 32], "blocks": [1, 1, 1]}), "--device", "cpu",
                "--precision", "fp32"])
    assert os.listdir(tmp_path / "no") == ["last.pt"]  # none unless asked for


def test_a_crop_trains_on_each_clips_first_samples_only_during_its_minutes():
    p = Params(**{**TINY, "crop_samples": 256, "crop_minutes": 2.0})  # length multiple 64 * 4 = 256
    assert train.crop_for(p, 0.0, 1024) == 256 and train.crop_for(p, 119.9, 1024) == 256
    assert train.crop_for(p, 120.0, 1024) == 1024                     # after its minutes: the whole clip
    assert train.crop_for(Params(**TINY), 0.0, 1024) == 1024            # off by default
    assert train.crop_for(Params(**{**TINY, "crop_samples": 4096, "crop_minutes": 1.0}), 0.0, 1024) == 1024
    with pytest.raises(ValueError):                                      # a crop the U-Net cannot fold
        train.crop_for(Params(**{**TINY, "crop_samples": 300, "crop_minutes": 1.0}), 0.0, 1024)


def test_training_with_a_crop_feeds_the_loss_cropped_clips_and_records_the_crop(tmp_path, monkeypatch):
    cache = str(tmp_path / "c.npz")
    _tiny_cache(cache)
    lengths, loss = [], train.edm_loss
    monkeypatch.setattr(train, "edm_loss", lambda model, x0, *a: (lengths.append(x0.shape[-1]), loss(model, x0, *a))[1])
    params = {**TINY, "channels": [16, 32, 32], "blocks": [1, 1, 1], "crop_samples": 256, "crop_minutes": 60.0}
    train.main(["--cache", cache, "--ckpt-dir", str(tmp_path / "ck"), "--steps", "2", "--batch-size", "4",
                "--params", json.dumps(params), "--device", "cpu", "--precision", "fp32"])
    assert lengths == [256, 256]
    assert torch.load(tmp_path / "ck" / "last.pt")["params"]["crop_samples"] == 256


def test_the_learning_rate_warms_up_then_decays_over_minutes_or_over_steps_when_given_steps():
    p = Params(**{**TINY, "learning_rate": 1e-3, "warmup_steps": 10, "anneal_minutes": 10.0, "lr_floor": 0.1})
    assert train.learning_rate(p, 0, 0.0) == pytest.approx(1e-4)          # warm-up
    assert train.learning_rate(p, 500, 300.0) == pytest.approx(1e-3 * 0.55)  # half-way in time: cosine midpoint
    assert train.learning_rate(p, 500, 600.0) == pytest.approx(1e-4)      # the floor at the end of the minutes
    q = Params(**{**TINY, "learning_rate": 1e-3, "warmup_steps": 10, "anneal_minutes": 10.0, "anneal_steps": 1000})
    assert train.learning_rate(q, 500, 0.0) == pytest.approx(1e-3 * 0.55)  # steps rule, whatever the time
    assert train.learning_rate(q, 1000, 1.0) == pytest.approx(1e-4) == train.learning_rate(q, 2000, 1.0)


def test_a_nan_loss_stops_training_with_an_error(tmp_path):
    cache = str(tmp_path / "c.npz")
    _tiny_cache(cache, nan=True)
    with pytest.raises(FloatingPointError):
        train.main(["--cache", cache, "--ckpt-dir", str(tmp_path / "ck"), "--steps", "3", "--batch-size", "4",
                    "--params", json.dumps({**TINY, "channels": [16, 32, 32], "blocks": [1, 1, 1]}), "--device", "cpu"])


def test_the_loss_weight_rises_below_its_knee_and_is_plain_edm_weight_above_sigma_data():
    p = Params(**TINY)
    m = EDMDenoiser(p)
    sigma = torch.tensor([1e-3, 3e-3, 0.02, 0.15, 2.0, 10.0])
    c_out = m.preconditioning(sigma)[1]
    w = train.loss_weight(m, sigma, p)
    ratio = w * c_out ** 2  # the factor over the plain 1/c_out^2 weight
    assert torch.all(ratio[1:] < ratio[:-1])  # falls monotonically with sigma
    assert ratio[0] == pytest.approx((p.sigma_data / p.loss_sigma_knee) ** 2, rel=0.01)
    assert ratio[-1] == pytest.approx(1.0, abs=1e-3)
    plain = Params(**{**TINY, "loss_sigma_knee": p.sigma_data})
    assert torch.allclose(train.loss_weight(m, sigma, plain), 1 / c_out ** 2)


def test_the_pre_emphasised_loss_weighs_a_high_frequency_error_up_and_leaves_a_low_one_nearly_as_it_was():
    class Erring(EDMDenoiser):  # returns the clean clip plus a fixed error, whatever it is given
        def forward(self, x, sigma, class_id, velocity):
            return self.clean + self.error

    t = torch.arange(1024) / 44100.0
    clean = 0.3 * torch.sin(2 * torch.pi * 200 * t).expand(4, 1, 1024)
    cls, vel = torch.zeros(4, dtype=torch.long), torch.ones(4)

    def loss(freq_hz, preemphasis):
        p = Params(**{**TINY, "loss_preemphasis": preemphasis})
        m = Erring(p)
        m.clean, m.error = clean, 0.01 * torch.sin(2 * torch.pi * freq_hz * t).expand(4, 1, 1024)
        return train.edm_loss(m, clean, cls, vel, p, torch.Generator().manual_seed(0)).item()

    high, low = 44100 * 232 / 1024, 44100 * 2 / 1024  # whole periods in the clip: 9.99 kHz and 86 Hz
    assert loss(high, 1.0) / loss(high, 0.0) > 2.5  # |1 - 0.95 e^-jw|^2 = 1.63 at 10 kHz
    assert loss(low, 1.0) / loss(low, 0.0) < 1.01   # 0.0026 at 86 Hz
    assert loss(high, 0.0) == pytest.approx(loss(low, 0.0), rel=0.01)  # plain MSE: only the error's energy counts


def test_band_excess_charges_noise_let_into_a_silent_band_and_leaves_a_quieter_estimate_free():
    bank = band_pass_bank(8, 33, 44100)
    t = torch.arange(4096) / 44100.0
    kick = (torch.sin(2 * torch.pi * 60 * t) * torch.exp(-t / 0.05)).expand(2, 1, 4096).contiguous()
    hiss = 1e-3 * torch.randn(2, 1, 4096, generator=torch.Generator().manual_seed(0))
    assert train.band_excess(kick, kick, bank).max() == 0  # the clean clip itself
    assert train.band_excess(0.5 * kick, kick, bank).max() == 0  # a quieter (blurred) estimate is not charged
    leak = train.band_excess(kick + hiss, kick, bank)
    assert leak.min() > 0.5  # hiss 60 dB under the kick, in bands where the kick holds ~nothing
    louder = train.band_excess(kick + 10 * hiss, kick, bank)
    assert torch.all(louder > leak + 1.0)  # 20 dB more hiss, charged more (log scale, up to the floor)
    noise = torch.randn(2, 1, 4096, generator=torch.Generator().manual_seed(1))
    assert train.band_excess(noise + hiss, noise, bank).max() < 0.05  # the same hiss on a full-band sound: ~nothing


def test_band_excess_on_spectral_shape_charges_a_brighter_frame_and_not_a_quieter_or_shorter_hit():
    bank = band_pass_bank(8, 33, 44100)
    t = torch.arange(8192) / 44100.0
    kick = (torch.sin(2 * torch.pi * 60 * t) * torch.exp(-t / 0.05)).expand(2, 1, 8192).contiguous()
    hiss = 1e-3 * torch.randn(2, 1, 8192, generator=torch.Generator().manual_seed(0))
    assert train.band_excess(kick, kick, bank, shape=True).max() == 0
    assert train.band_excess(0.5 * kick, kick, bank, shape=True).max() == 0  # same shape, quieter
    assert train.band_excess(kick * torch.exp(-t / 0.02), kick, bank, shape=True).max() < 0.01  # decays sooner
    assert train.band_excess(kick + hiss, kick, bank, shape=True).min() > 1.0  # same level, brighter frames


def test_the_band_excess_term_adds_to_the_loss_only_when_switched_on():
    class Hissing(EDMDenoiser):  # returns the clean clip plus a faint hiss, whatever it is given
        def forward(self, x, sigma, class_id, velocity):
            return self.clean + self.hiss

    t = torch.arange(1024) / 44100.0
    clean = torch.sin(2 * torch.pi * 80 * t).expand(4, 1, 1024).contiguous()
    cls, vel = torch.zeros(4, dtype=torch.long), torch.ones(4)

    hiss = 1e-3 * torch.randn(4, 1, 1024, generator=torch.Generator().manual_seed(0))

    def loss(weight):
        p = Params(**{**TINY, "loss_band_excess": weight})
        m = Hissing(p)
        m.clean, m.hiss = clean, hiss
        return train.edm_loss(m, clean, cls, vel, p, torch.Generator().manual_seed(0)).item()

    excess = train.band_excess(clean + hiss, clean, band_pass_bank(8, 33, 44100)).mean().item()
    assert excess > 0.1
    assert loss(0.5) - loss(0.0) == pytest.approx(0.5 * excess, rel=1e-4)


def test_the_band_filters_split_a_signal_without_losing_any_of_it():
    bank = band_pass_bank(8, 33, 44100)[:, 0].numpy()  # [8, 33]
    impulse = np.zeros(33)
    impulse[16] = 1
    assert np.allclose(bank.sum(0), impulse, atol=1e-6)
    peak_hz = np.abs(np.fft.rfft(bank, 4096, axis=-1)).argmax(1) * 44100 / 4096
    assert np.all(np.diff(peak_hz[3:]) > 0) and peak_hz[-1] > 12000  # upper bands climb to the top octave


def test_a_band_path_with_unit_gains_returns_its_input_and_a_fresh_one_returns_silence():
    from diffusion_drums.model import BandPath
    path = BandPath(16, Params(**TINY))
    x, h = torch.randn(2, 1, 1024), torch.randn(2, 16, 1024 // 64)
    with torch.no_grad():
        assert path(x, h).abs().max() == 0  # gains start at zero: a fresh model is the plain U-Net
        path.gain.bias.fill_(1.0)
        y = path(x, h)
    assert torch.allclose(y[..., 32:-32], x[..., 32:-32], atol=1e-5)  # away from the zero-padded ends


@pytest.mark.parametrize("patch,frames", [(64, 11), (8, 1), (2, 5)])
def test_per_sample_gains_are_the_linear_interpolation_between_patch_centres(patch, frames):
    from diffusion_drums.model import per_sample_gains
    g = torch.randn(2, 3, frames, dtype=torch.float64)
    want = torch.nn.functional.interpolate(g, scale_factor=float(patch), mode="linear", align_corners=False)
    got = per_sample_gains(g, patch)
    assert got.shape == (2, 3, frames, patch)
    got = got.reshape(want.shape)
    assert torch.allclose(got, want, atol=1e-12)
    flat_start, flat_end = got[..., : patch // 2], got[..., -(patch // 2):]
    assert torch.allclose(flat_start, g[..., :1].expand_as(flat_start), atol=1e-12)
    assert torch.allclose(flat_end, g[..., -1:].expand_as(flat_end), atol=1e-12)


def test_a_checkpoint_from_before_the_band_path_still_loads():
    old = {k: v for k, v in Params(**TINY).to_dict().items() if not k.startswith("band_")}
    p = Params.from_dict(old)
    assert p.band_filters == 0
    m = EDMDenoiser(p)
    assert not any(k.startswith("net.band_path") for k in m.state_dict())


def test_sub_pixel_patch_in_and_out_fold_and_unfold_samples_in_their_order():
    from diffusion_drums.model import PatchIn, PatchOut
    patch = 8
    fold, unfold = PatchIn(patch, patch), PatchOut(patch, patch)
    with torch.no_grad():
        for conv in (fold.conv, unfold.conv):  # centre tap = identity: frame t holds samples t*patch .. t*patch+7
            conv.weight.zero_()
            conv.bias.zero_()
            conv.weight[:, :, 1] = torch.eye(patch)
        x = torch.randn(2, 1, 64)
        frames = fold(x)
        assert frames.shape == (2, patch, 8)
        assert torch.equal(frames[:, :, 3], x[:, 0, 24:32])  # a wrong transpose would interleave samples
        assert torch.equal(unfold(frames), x)


def test_a_two_times_sub_pixel_upsampler_doubles_time_and_sets_channels():
    from diffusion_drums.model import PatchOut
    up = PatchOut(32, 2, 16)
    assert up(torch.randn(3, 32, 11)).shape == (3, 16, 22)


def test_a_checkpoint_from_before_sub_pixel_resampling_builds_its_transposed_convolutions():
    old = {k: v for k, v in Params(**TINY).to_dict().items() if k != "resampling"}
    p = Params.from_dict(old)
    assert p.resampling == "transpose" and Params().resampling == "subpixel"
    net = EDMDenoiser(p).net
    assert isinstance(net.patch_out, torch.nn.ConvTranspose1d)
    assert all(isinstance(u, torch.nn.ConvTranspose1d) for u in net.upsamples)


def test_a_bfloat16_autocast_forward_pass_agrees_with_float32_to_bf16_precision():
    m = tiny()
    with torch.no_grad():  # zero-initialised output convs would make both passes trivially equal
        for blk in list(m.net.down_blocks[0]) + list(m.net.up_blocks[-1]):
            blk.conv2.weight.normal_(0, 0.05)
    x, s = torch.randn(2, 1, 1024) * 0.2, torch.tensor([0.05, 0.5])
    c, v = torch.tensor([1, 5]), torch.tensor([0.3, 0.9])
    with torch.no_grad():
        ref = m(x, s, c, v)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = m(x, s, c, v)
    assert low.dtype == torch.float32 and torch.isfinite(low).all()
    rel = ((low - ref).norm() / ref.norm()).item()
    assert 0 < rel < 0.05  # bf16 keeps 8 mantissa bits: differs, but by well under 5 %


def test_precision_auto_takes_bf16_only_where_the_hardware_computes_it():
    cpu = torch.device("cpu")
    assert train.autocast_dtype("fp32", cpu) is None
    assert train.autocast_dtype("bf16", cpu) == torch.bfloat16
    assert train.autocast_dtype("auto", cpu) == (torch.bfloat16 if train.cpu_has_bf16() else None)
