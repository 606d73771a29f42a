"""Noise schedules and samplers over a denoiser D(x, sigma) (k-diffusion style: one function per sampler).

The C# engine implements the same algorithms; these are used by evaluate.py and the tests.
"""
import math
import torch

from .params import CLASSES


def karras_sigmas(n: int, sigma_min: float, sigma_max: float, rho: float = 7.0):
    """Karras et al. 2022, eq. 5: n noise levels from sigma_max down to sigma_min, then a final 0. -> [n+1]"""
    ramp = torch.linspace(0, 1, n)
    s = (sigma_max ** (1 / rho) + ramp * (sigma_min ** (1 / rho) - sigma_max ** (1 / rho))) ** rho
    return torch.cat([s, torch.zeros(1)])


def sample_euler(denoise, x, sigmas):
    """Euler method for the probability-flow ODE (Karras et al. 2022, Alg. 1 without the 2nd-order step)."""
    for i in range(len(sigmas) - 1):
        d = (x - denoise(x, sigmas[i])) / sigmas[i]
        x = x + d * (sigmas[i + 1] - sigmas[i])
    return x


def sample_heun(denoise, x, sigmas):
    """Heun's 2nd-order method (Karras et al. 2022, Alg. 1); two network calls per step except the last."""
    for i in range(len(sigmas) - 1):
        d = (x - denoise(x, sigmas[i])) / sigmas[i]
        x_next = x + d * (sigmas[i + 1] - sigmas[i])
        if sigmas[i + 1] > 0:
            d2 = (x_next - denoise(x_next, sigmas[i + 1])) / sigmas[i + 1]
            x_next = x + (d + d2) / 2 * (sigmas[i + 1] - sigmas[i])
        x = x_next
    return x


def sample_dpmpp_2m(denoise, x, sigmas):
    """DPM-Solver++(2M) (Lu et al. 2022, Alg. 2), multistep in t = -log(sigma); one network call per step."""
    old = None
    for i in range(len(sigmas) - 1):
        den = denoise(x, sigmas[i])
        s, s_next = float(sigmas[i]), float(sigmas[i + 1])
        if s_next == 0:
            x = den
        else:
            t, t_next = -math.log(s), -math.log(s_next)
            h = t_next - t
            if old is None:
                d = den
            else:
                h_last = t - (-math.log(float(sigmas[i - 1])))
                r = h_last / h
                d = (1 + 1 / (2 * r)) * den - (1 / (2 * r)) * old
            x = (s_next / s) * x - math.expm1(-h) * d
        old = den
    return x


def sample_ddim(denoise, x, sigmas, eta: float = 0.0, gen: torch.Generator = None):
    """DDIM (Song, Meng & Ermon 2021, eq. 12) with stochasticity eta, in sigma form (the engine's Samplers.Ddim):
    x <- D + sigma_down * (x - D) / sigma + sigma_up * z, sigma_up = min(s', eta * sqrt(s'^2 (s^2 - s'^2) / s^2)),
    sigma_down = sqrt(s'^2 - sigma_up^2). eta = 0 is the probability-flow ODE's Euler step; 1 is ancestral (DDPM-like)."""
    for i in range(len(sigmas) - 1):
        s, s_next = float(sigmas[i]), float(sigmas[i + 1])
        den = denoise(x, sigmas[i])
        s_up = min(s_next, eta * math.sqrt(s_next ** 2 * (s ** 2 - s_next ** 2) / s ** 2))
        s_down = math.sqrt(max(0.0, s_next ** 2 - s_up ** 2))
        x = den + (s_down / s) * (x - den)
        if s_up > 0:
            x = x + s_up * torch.randn(x.shape, generator=gen)
    return x


SAMPLERS = {"euler": sample_euler, "heun": sample_heun, "dpmpp_2m": sample_dpmpp_2m, "ddim": sample_ddim}


class Autoguided(torch.nn.Module):
    """Autoguidance (Karras et al. 2024, "Guiding a Diffusion Model with a Bad Version of Itself", eq. 2) as one
    denoiser: D(x, sigma, c) = D_guide + weight * (D_main - D_guide) at noise levels above min_sigma, D_main alone at
    and below it. The guide is a weaker model (smaller and trained for less time) with the same conditioning; moving
    away from its errors sharpens each sample while, unlike classifier-free guidance, leaving the variety between
    samples. Why only at high sigma: there the rough shape of a hit is chosen (level, decay, timbre); at low sigma the
    guide's errors are a noise floor and pushing away from it moves every hit's tail. The engine's OnnxDenoiser
    applies the same rule per batch item (manifest "guide"); classifier-free guidance, if any, acts on top."""

    def __init__(self, main, guide, weight: float, min_sigma: float):
        super().__init__()
        self.main, self.guide, self.weight, self.min_sigma = main, guide, float(weight), float(min_sigma)
        self.p = getattr(main, "p", None)  # Params, for generate()

    def forward(self, x, sigma, class_id, velocity, descriptor=None):  # x: [B,1,L], sigma: [B] -> [B,1,L]
        more = () if descriptor is None else (descriptor,)  # a model without descriptors takes four inputs
        d = self.main(x, sigma, class_id, velocity, *more)
        on = sigma > self.min_sigma  # [B]
        if self.weight == 1.0 or not bool(on.any()):
            return d
        g = self.guide(x, sigma, class_id, velocity, *more)  # an EDMDenoiser without descriptors ignores them
        return torch.where(on.view(-1, 1, 1), g + self.weight * (d - g), d)


def make_denoiser(model, class_id, velocity, guidance: float, null_class_id: int, guidance_max_sigma=None,
                  descriptor=None):
    """D(x, sigma) for fixed conditioning; classifier-free guidance (Ho & Salimans 2022) when guidance != 1:
    D = D_uncond + g * (D_cond - D_uncond), both halves in one batched call. guidance_max_sigma: guidance only at
    sigma <= it, the conditional model alone above (Kynkaanniemi et al. 2024, "Applying Guidance in a Limited Interval
    Improves Sample and Distribution Quality in Diffusion Models"); None = every sigma. The engine does the same.
    descriptor: [B, D+1] or None; the unconditional half has none, as in training."""
    b = class_id.shape[0]
    more = () if descriptor is None else (descriptor,)  # a model without descriptors takes four inputs

    @torch.no_grad()
    def denoise(x, sigma):  # x: [B,1,L], sigma: scalar tensor
        s = torch.full((b,), float(sigma))
        if guidance == 1.0 or (guidance_max_sigma is not None and float(sigma) > guidance_max_sigma):
            return model(x, s, class_id, velocity, *more)
        null = torch.full_like(class_id, null_class_id)
        both = () if descriptor is None else (torch.cat([descriptor, torch.zeros_like(descriptor)]),)
        out = model(torch.cat([x, x]), torch.cat([s, s]), torch.cat([class_id, null]), torch.cat([velocity, velocity]),
                    *both)
        cond, uncond = out[:b], out[b:]
        return uncond + guidance * (cond - uncond)

    return denoise


def draw_descriptors(prior: dict, class_id, velocity, gen: torch.Generator, classes=None):
    """Timbre descriptors for each hit, drawn from its class's prior (Params.descriptor_prior: mean + slope * velocity
    + chol @ z, z ~ N(0, I) from gen) -> [B, D+1] float32, the last column the "given" flag; a class without a prior
    gets an all-zero row (no descriptors)."""
    classes = classes or CLASSES
    d = len(next(iter(prior.values()))["mean"]) if prior else 0
    z = torch.randn(class_id.shape[0], d, generator=gen, dtype=torch.float64)  # [B, D]
    out = torch.zeros(class_id.shape[0], d + 1, dtype=torch.float64)
    for i, (c, v) in enumerate(zip(class_id.tolist(), velocity.tolist())):
        pr = prior.get(classes[c]) if 0 <= c < len(classes) else None
        if pr is None:
            continue
        out[i, :d] = (torch.tensor(pr["mean"], dtype=torch.float64) + v * torch.tensor(pr["slope"], dtype=torch.float64)
                      + torch.tensor(pr["chol"], dtype=torch.float64) @ z[i])
        out[i, d] = 1.0
    return out.float()


@torch.no_grad()
def generate(model, class_id, velocity, length: int, steps: int, sampler: str = "dpmpp_2m", guidance: float = 1.0,
             seed: int = 0, sigma_min=None, sigma_max=None, null_class_id: int = 11, eta: float = 0.0,
             guidance_max_sigma=None):
    """-> [B, length] generated clips for class_id [B] (int64) and velocity [B] (0..1). eta: ddim only;
    guidance_max_sigma: see make_denoiser. A model with timbre descriptors (Params.descriptors) gets each hit's drawn
    from its class's prior with the same generator, after the initial noise (draw_descriptors)."""
    p = model.p
    smin = p.sigma_min if sigma_min is None else sigma_min
    smax = p.sigma_max if sigma_max is None else sigma_max
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(class_id.shape[0], 1, length, generator=g) * smax
    desc = draw_descriptors(p.descriptor_prior, class_id, velocity, g) if getattr(p, "descriptors", 0) else None
    sig = karras_sigmas(steps, smin, smax)
    den = make_denoiser(model, class_id, velocity.float(), guidance, null_class_id, guidance_max_sigma, desc)
    if sampler == "ddim":
        return sample_ddim(den, x, sig, eta, g)[:, 0]
    return SAMPLERS[sampler](den, x, sig)[:, 0]
