"""Patchified waveform U-Net denoiser with EDM preconditioning inside the module.

Why this shape: the engine must make >= 8 fresh 0.5 s hits per second on 2 CPU cores, i.e. one call on
batch 8 x 22528 samples well under 100 ms. A sample-rate 1-D U-Net spends most of its work on the
finest levels (2.2 M parameters, 32768 samples: ~240 ms per call). Folding `patch` samples into
channels moves all residual work to L/64 .. L/256 time steps, so the cost per call drops by more than
an order of magnitude, while patch in/out convolutions that see the neighbouring frames keep patch edges
from showing up as a buzz at 44100/patch Hz. Folding and unfolding are reshapes around plain convolutions
(PatchIn/PatchOut, Params.resampling "subpixel"); older models used strided/transposed convolutions.
"""
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .params import Params


def _groups(c: int) -> int:
    return 8 if c % 8 == 0 else 1


class GroupNorm32(nn.GroupNorm):
    """GroupNorm computed in float32. Training may run under bfloat16 autocast (train.py --precision), where
    PyTorch 1.13's CPU group_norm refuses mixed dtypes and its statistics would lose precision; in float32
    (inference, ONNX export) the cast is a no-op and exports nothing."""

    def forward(self, x):
        return super().forward(x.float())


class PatchIn(nn.Module):
    """[B, 1, L] -> [B, C, L/patch]: fold `patch` samples into channels (space-to-depth), then a 3-frame
    convolution, so every frame sees its neighbours' samples too (as the overlapping kernel-2*patch strided
    convolution of "transpose" models did). Why not that strided convolution: its backward pass on one input
    channel is a slow path on CPU (~34 ms of a 1.1 s training step, bench_torch.py --train); this is the same work as a
    plain stride-1 convolution over `patch` channels."""

    def __init__(self, patch: int, c_out: int):
        super().__init__()
        self.patch = patch
        self.conv = nn.Conv1d(patch, c_out, 3, padding=1)

    def forward(self, x):  # x: [B, 1, L]
        b = x.shape[0]
        return self.conv(x.reshape(b, -1, self.patch).transpose(1, 2))  # [B, patch, L/patch] -> [B, C, L/patch]


class PatchOut(nn.Module):
    """[B, C, T] -> [B, 1, T*patch]: a 3-frame convolution to `patch` channels, unfolded to samples
    (depth-to-space, the "sub-pixel" convolution of Shi et al. 2016). Each output patch is computed from its own
    frame and both neighbours, a superset of what ConvTranspose1d(kernel 2*patch, stride patch) reaches, at the cost
    of a plain convolution instead of PyTorch's slow transposed-convolution path on CPU."""

    def __init__(self, c_in: int, patch: int, c_out: int = 1):
        super().__init__()
        self.patch, self.c_out = patch, c_out
        self.conv = nn.Conv1d(c_in, c_out * patch, 3, padding=1)

    def forward(self, h):  # h: [B, C, T]
        b = h.shape[0]
        y = self.conv(h)  # [B, c_out*patch, T]
        return y.reshape(b, self.c_out, self.patch, -1).transpose(2, 3).reshape(b, self.c_out, -1)  # [B, c_out, T*patch]


class FourierFeatures(nn.Module):
    """Fixed random Fourier features of a scalar (noise level or velocity)."""

    def __init__(self, dim: int, scale: float):
        super().__init__()
        self.register_buffer("freqs", torch.randn(dim // 2) * scale)

    def forward(self, t):  # t: [B] -> [B, dim]
        a = 2 * math.pi * t[:, None] * self.freqs[None, :]
        return torch.cat([torch.cos(a), torch.sin(a)], dim=1)


class ResBlock(nn.Module):
    """GroupNorm-SiLU-Conv x2 with FiLM (scale, shift) from the conditioning embedding; dropout before the second
    convolution (training only), where EDM (Karras et al. 2022, Table 7) puts it against over-fitting small data."""

    def __init__(self, c_in: int, c_out: int, emb_dim: int, dropout: float = 0.0):
        super().__init__()
        self.norm1 = GroupNorm32(_groups(c_in), c_in)
        self.conv1 = nn.Conv1d(c_in, c_out, 3, padding=1)
        self.film = nn.Linear(emb_dim, 2 * c_out)
        self.norm2 = GroupNorm32(_groups(c_out), c_out)
        self.conv2 = nn.Conv1d(c_out, c_out, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)
        self.skip = nn.Conv1d(c_in, c_out, 1) if c_in != c_out else nn.Identity()
        self.dropout = dropout

    def forward(self, h, emb):  # h: [B, c_in, T], emb: [B, E] -> [B, c_out, T]
        y = self.conv1(F.silu(self.norm1(h)))
        scale, shift = self.film(emb).unsqueeze(-1).chunk(2, dim=1)  # [B, c_out, 1] each
        y = self.norm2(y) * (1 + scale) + shift
        y = self.conv2(F.dropout(F.silu(y), self.dropout, self.training))
        return self.skip(h) + y


class SelfAttention(nn.Module):
    """Multi-head self-attention over time steps (coarsest level only: L/256 steps)."""

    def __init__(self, c: int, heads: int):
        super().__init__()
        self.heads = heads
        self.norm = GroupNorm32(_groups(c), c)
        self.qkv = nn.Conv1d(c, 3 * c, 1)
        self.proj = nn.Conv1d(c, c, 1)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, h):  # h: [B, C, T]
        b, c, t = h.shape
        q, k, v = self.qkv(self.norm(h)).reshape(b, 3, self.heads, c // self.heads, t).unbind(1)  # [B, H, D, T]
        w = torch.softmax(torch.einsum("bhdt,bhds->bhts", q, k) / math.sqrt(c // self.heads), dim=-1)
        y = torch.einsum("bhts,bhds->bhdt", w, v).reshape(b, c, t)
        return h + self.proj(y)


def time_features(t_frames: int, patch: int, sample_rate_hz: int, like: torch.Tensor):
    """Where each patch sits in the clip: [1, 13, T]. A drum hit starts at sample 0 and decays, and a purely
    convolutional net cannot tell its position from noise alone, so the time since the clip start (s) is given
    as decays exp(-t/tau) (tau 10 ms .. 300 ms), a ramp and slow sines. Built from the input's shape, so any
    length works."""
    idx = torch.ones_like(like[:1, :1, :t_frames]).cumsum(-1) - 0.5  # [1, 1, T]: patch centres 0.5, 1.5, ...
    t = idx * (patch / sample_rate_hz)
    feats = [t / 0.5] + [torch.exp(-t / tau) for tau in (0.01, 0.03, 0.1, 0.3)]
    for f in (1.0, 2.0, 4.0, 8.0):
        feats += [torch.sin(2 * math.pi * f * t), torch.cos(2 * math.pi * f * t)]
    return torch.cat(feats, dim=1)


def band_pass_bank(n_bands: int, taps: int, sample_rate_hz: int) -> torch.Tensor:
    """Hann-windowed sinc band-passes whose bands tile 0 .. Nyquist (edges log-spaced from 1 kHz): [n_bands, 1, taps].
    They sum to the windowed sinc at Nyquist, i.e. a unit impulse: the bank splits a signal without losing any of it."""
    nyq = sample_rate_hz / 2
    edges = [0.0] + list(np.geomspace(1000.0, nyq, n_bands)) if n_bands > 1 else [0.0, nyq]
    edges[-1] = nyq
    n = np.arange(taps) - (taps - 1) / 2
    win = np.hanning(taps + 2)[1:-1]
    lowpass = lambda f: 2 * f / sample_rate_hz * np.sinc(2 * f / sample_rate_hz * n)  # ideal low-pass at f, taps
    bank = [(lowpass(hi) - lowpass(lo)) * win for lo, hi in zip(edges[:-1], edges[1:])]
    return torch.tensor(np.stack(bank)[:, None, :], dtype=torch.float32)


class BandPath(nn.Module):
    """A full-rate adaptive filter: the noisy input split into `band_filters` learnt bands, each scaled by a gain the
    U-Net predicts per patch (linearly interpolated between patch centres), summed. -> [B, 1, L]

    Why: at small sigma the best estimate of a noise-like sound (hi-hat, cymbal, snare wires) is the input itself,
    band by band, scaled by how much of that band is signal (a Wiener gain). A patchified net must rebuild such detail
    sample by sample from 64-sample patches and learns it poorly: the previous models' hats and rides came out
    6-12 dB too quiet and dull. Here the U-Net only has to say how much of each band to keep, at patch rate; in
    silence it says none, so no hiss is passed (the reason sigma_skip is small, see EDMDenoiser). Gains start at 0,
    so a fresh model starts as the plain U-Net."""

    def __init__(self, c_feat: int, p: Params):
        super().__init__()
        self.patch = p.patch
        self.bands = nn.Conv1d(1, p.band_filters, p.band_kernel, padding=p.band_kernel // 2, bias=False)
        with torch.no_grad():
            self.bands.weight.copy_(band_pass_bank(p.band_filters, p.band_kernel, p.sample_rate_hz))
        self.gain = nn.Conv1d(c_feat, p.band_filters, 1)
        nn.init.zeros_(self.gain.weight)
        nn.init.zeros_(self.gain.bias)

    def forward(self, x, h):  # x: [B,1,L] (c_in-scaled input), h: [B,C,L/patch] -> [B,1,L]
        z = self.bands(x)  # [B,K,L]
        return (per_sample_gains(self.gain(h), self.patch).reshape(z.shape) * z).sum(dim=1, keepdim=True)


def per_sample_gains(g, patch: int):
    """Gains at patch centres -> every sample: [B,K,T] -> [B,K,T,patch], linear between neighbouring centres and held
    flat before the first and after the last (exactly F.interpolate(mode="linear", align_corners=False)). Steps at
    patch edges would buzz at 44100/patch Hz.

    Why not F.interpolate: ONNX Runtime's CPU Resize kernel took 12 ms of a 160 ms batch-8 call (7 %), for 1.4 M
    outputs. Written as each sample's weights for the previous, own and next frame, it is one small matrix product."""
    gp = torch.cat([g[..., :1], g, g[..., -1:]], dim=-1)  # [B,K,T+2]: edge frames repeated
    g3 = torch.stack([gp[..., :-2], gp[..., 1:-1], gp[..., 2:]], dim=-1)  # [B,K,T,3]: previous, own, next frame
    pos = (torch.arange(patch, dtype=torch.float64, device=g.device) + 0.5) / patch - 0.5  # [patch]: offset from centre
    w_prev, w_next = (-pos).clamp(min=0), pos.clamp(min=0)
    w = torch.stack([w_prev, 1 - w_prev - w_next, w_next]).to(g.dtype)  # [3, patch]
    return torch.matmul(g3, w)  # [B,K,T,patch]


class PatchUNet(nn.Module):
    """F(c_in*x, c_noise, class, velocity): the raw network inside the EDM preconditioner."""

    def __init__(self, p: Params):
        super().__init__()
        self.p = p
        e = p.emb_dim
        self.noise_ff = FourierFeatures(e, 1.0)
        self.vel_ff = FourierFeatures(e // 2, 2.0)
        self.class_emb = nn.Embedding(p.num_classes, e)
        # Timbre descriptors (dataset.descriptors) and a flag that they are given, added to the class embedding: an
        # all-zero row is "no descriptors". Zero-initialised, so weights from before it load and behave as they did.
        self.desc_proj = nn.Linear(p.descriptors + 1, e) if p.descriptors > 0 else None
        if self.desc_proj is not None:
            nn.init.zeros_(self.desc_proj.weight)
            nn.init.zeros_(self.desc_proj.bias)
        self.emb_mlp = nn.Sequential(nn.Linear(e + e // 2 + e, e * 2), nn.SiLU(), nn.Linear(e * 2, e))
        ch = p.channels
        subpixel = p.resampling == "subpixel"
        # [B, 1, L] -> [B, ch0, L/patch]; each frame also sees its neighbours' samples, so patch edges do not buzz.
        self.patch_in = (PatchIn(p.patch, ch[0]) if subpixel
                         else nn.Conv1d(1, ch[0], 2 * p.patch, stride=p.patch, padding=p.patch // 2))
        self.time_in = nn.Conv1d(13, ch[0], 1)
        self.down_blocks = nn.ModuleList()
        self.downsamples = nn.ModuleList()
        for i, c in enumerate(ch):
            c_prev = ch[i - 1] if i > 0 else ch[0]
            if i > 0:
                self.downsamples.append(nn.Conv1d(c_prev, c, 4, stride=2, padding=1))
            self.down_blocks.append(nn.ModuleList([ResBlock(c, c, e, p.dropout) for _ in range(p.blocks[i])]))
        self.mid_attn = SelfAttention(ch[-1], p.attention_heads) if p.attention_heads > 0 else None
        self.mid_block = ResBlock(ch[-1], ch[-1], e, p.dropout)
        self.up_blocks = nn.ModuleList()
        self.upsamples = nn.ModuleList()
        for i in reversed(range(len(ch))):
            c = ch[i]
            blocks = [ResBlock(2 * c, c, e, p.dropout)] + [ResBlock(c, c, e, p.dropout) for _ in range(p.blocks[i] - 1)]
            self.up_blocks.append(nn.ModuleList(blocks))
            if i > 0:
                self.upsamples.append(PatchOut(c, 2, ch[i - 1]) if subpixel
                                      else nn.ConvTranspose1d(c, ch[i - 1], 4, stride=2, padding=1))
        self.out_norm = GroupNorm32(_groups(ch[0]), ch[0])
        # [B, ch0, L/patch] -> [B, 1, L]
        self.patch_out = (PatchOut(ch[0], p.patch) if subpixel
                          else nn.ConvTranspose1d(ch[0], 1, 2 * p.patch, stride=p.patch, padding=p.patch // 2))
        self.band_path = BandPath(ch[0], p) if p.band_filters > 0 else None

    def forward(self, x, c_noise, class_id, velocity, descriptor=None):  # x: [B,1,L], others [B] -> [B,1,L]
        cond = self.class_emb(class_id)  # [B, E]
        if self.desc_proj is not None:  # descriptor: [B, D+1], last column the flag; None = none given (a zero row)
            cond = cond + (self.desc_proj.bias if descriptor is None else self.desc_proj(descriptor.to(cond.dtype)))
        emb = torch.cat([self.noise_ff(c_noise), self.vel_ff(velocity), cond], dim=1)
        emb = self.emb_mlp(emb)  # [B, E]
        h = self.patch_in(x)  # [B, ch0, L/patch]
        h = h + self.time_in(time_features(h.shape[-1], self.p.patch, self.p.sample_rate_hz, h))  # [1, ch0, T] broadcast
        skips = []
        for i, blocks in enumerate(self.down_blocks):
            if i > 0:
                h = self.downsamples[i - 1](h)  # halve time, widen
            for blk in blocks:
                h = blk(h, emb)
            skips.append(h)
        if self.mid_attn is not None:
            h = self.mid_attn(h)
        h = self.mid_block(h, emb)
        for j, blocks in enumerate(self.up_blocks):
            h = torch.cat([h, skips.pop()], dim=1)
            for blk in blocks:
                h = blk(h, emb)
            if j < len(self.upsamples):
                h = self.upsamples[j](h)  # double time, narrow
        h = F.silu(self.out_norm(h))  # [B, ch0, L/patch]
        y = self.patch_out(h)  # [B, 1, L]
        return y if self.band_path is None else y + self.band_path(x, h)


class EDMDenoiser(nn.Module):
    """D(x, sigma, class, velocity) = c_skip x + c_out F(c_in x, c_noise, ...) (Karras et al. 2022, Table 1).

    This is the module that is exported: the ONNX output `denoised` is the estimate of the clean clip.
    One change to EDM: the skip path uses its own scale sigma_skip << sigma_data. With EDM's c_skip the net must
    cancel the noise that the skip lets through (at sigma = sigma_data half of it), i.e. reproduce white noise
    sample by sample, which a patchified net (64 samples in 64 channels) cannot do: samples kept a hiss at
    -18 dB. A skip that lets noise through is also what a sampler's last steps carry to the end: with sigma_skip
    0.01 generated tails kept a floor near -40 dB, with 0.03 near -30 dB (c_skip ~ 0.6 at sigma 0.025: the residual
    noise of one step survives the next). With sigma_skip = 0.003 the net predicts the clip itself down to sigma ~
    0.003 (-50 dB) and the skip only takes over for the last step. c_out keeps the training target at unit variance:
    c_out^2 = (1 - c_skip)^2 sigma_data^2 + c_skip^2 sigma^2 (equal to EDM's when sigma_skip = sigma_data).
    """

    def __init__(self, p: Params):
        super().__init__()
        self.p = p
        self.net = PatchUNet(p)

    def preconditioning(self, sigma):  # sigma: [B,1,1] -> c_skip, c_out, c_in
        sd, ss = self.p.sigma_data, self.p.sigma_skip
        c_skip = ss ** 2 / (sigma ** 2 + ss ** 2)
        c_out = torch.sqrt((1 - c_skip) ** 2 * sd ** 2 + c_skip ** 2 * sigma ** 2)
        c_in = 1 / torch.sqrt(sigma ** 2 + sd ** 2)
        return c_skip, c_out, c_in

    def forward(self, x, sigma, class_id, velocity, descriptor=None):
        # x: [B,1,L], sigma: [B] f32, class_id: [B] i64, velocity: [B]; descriptor: [B, D+1] or None (none given)
        c_skip, c_out, c_in = self.preconditioning(sigma.reshape(-1, 1, 1))
        c_noise = torch.log(sigma) / 4
        return c_skip * x + c_out * self.net(c_in * x, c_noise, class_id, velocity, descriptor)


def count_parameters(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())
