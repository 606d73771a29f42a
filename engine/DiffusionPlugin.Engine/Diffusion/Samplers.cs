using System.Numerics.Tensors;

namespace DiffusionPlugin.Engine.Diffusion;

/// <summary>
/// What a sampler needs besides the model, the state and the schedule: the stochastic settings and a source of fresh
/// Gaussian noise for the whole batch. Reused across calls; one thread owns it.
/// </summary>
public sealed class SamplerExtras
{
    /// <summary>DDIM η: 0 = deterministic (the probability-flow ODE), 1 = DDPM-like ancestral noise.</summary>
    public float Eta { get; set; }
    /// <summary>EDM stochastic Heun (Karras et al. 2022, Alg. 2): S_churn, S_tmin, S_tmax, S_noise. S_churn = 0 is Alg. 1.</summary>
    public float SChurn { get; set; }
    public float STMin { get; set; }
    public float STMax { get; set; } = float.PositiveInfinity;
    public float SNoise { get; set; } = 1f;
    /// <summary>Fresh N(0, 1) noise for stochastic steps, each item from its own seeded stream. Null = none (η and S_churn ignored).</summary>
    public IBatchNoise? Noise { get; set; }
}

/// <summary>Fresh per-item noise for stochastic samplers (each item from its own seeded stream).</summary>
public interface IBatchNoise
{
    /// <summary>Fills <paramref name="batchMajor"/> ([b * length + t]) with N(0, 1) samples; item b from its own stream.</summary>
    void Fill(Span<float> batchMajor, int batch, int length);
}

/// <summary>
/// A sampler: integrates the reverse diffusion from x at σ_0 = <paramref name="sigmas"/>[0] down the schedule to its last
/// entry (0), in place, calling <paramref name="model"/> for D(x, σ). Every sampler has this signature (as k-diffusion's).
/// </summary>
public delegate void SamplerFunction(GuidedDenoiser model, Span<float> x, ReadOnlySpan<float> sigmas, SamplerExtras extras);

/// <summary>
/// The samplers, one small function each with the same signature (<see cref="SamplerFunction"/>), written in the
/// σ ("variance exploding") form of Karras et al. 2022: x = x0 + σ·n, d = (x − D(x, σ))/σ = dx/dσ on the probability-flow ODE.
/// They allocate nothing: buffers come from <see cref="GuidedDenoiser.Scratch"/>. One thread at a time per model.
/// </summary>
public static class Samplers
{
    /// <summary>Names accepted by <see cref="Get"/>.</summary>
    public static readonly IReadOnlyList<string> Names = ["euler", "heun", "ddim", "dpmpp_2m"];

    private static readonly SamplerFunction EulerFn = Euler, HeunFn = Heun, DdimFn = Ddim, DpmPp2MFn = DpmPlusPlus2M;

    /// <summary>The sampler called <paramref name="name"/> ("euler", "heun", "ddim", "dpmpp_2m"); throws ArgumentException otherwise.</summary>
    public static SamplerFunction Get(string name) => name switch
    {
        "euler" => EulerFn,
        "heun" => HeunFn,
        "ddim" => DdimFn,
        "dpmpp_2m" or "dpm++2m" or "dpmpp-2m" => DpmPp2MFn,
        _ => throw new ArgumentException($"unknown sampler '{name}' (expected euler, heun, ddim or dpmpp_2m)", nameof(name)),
    };

    /// <summary>Denoiser evaluations a sampler spends on a schedule of <paramref name="steps"/> steps ending at 0.</summary>
    public static int Evaluations(string name, int steps) => name == "heun" ? Math.Max(1, 2 * steps - 1) : steps;

    /// <summary>
    /// Euler's method on the probability-flow ODE dx/dσ = (x − D(x, σ))/σ (Karras et al. 2022, Alg. 1 without the
    /// Heun correction): x ← D + (σ_{i+1}/σ_i)·(x − D).
    /// </summary>
    public static void Euler(GuidedDenoiser model, Span<float> x, ReadOnlySpan<float> sigmas, SamplerExtras extras)
    {
        var den = model.Scratch(0);
        var diff = model.Scratch(1);
        x = x[..model.Count];
        for (int i = 0; i + 1 < sigmas.Length; i++)
        {
            float s = sigmas[i], sNext = sigmas[i + 1];
            model.Denoise(x, s, den);
            TensorPrimitives.Subtract(x, den, diff);
            TensorPrimitives.MultiplyAdd(diff, sNext / s, den, x);
        }
    }

    /// <summary>
    /// Heun's second-order method (Karras et al. 2022, "Elucidating the Design Space of Diffusion-Based Generative
    /// Models", Alg. 2; with S_churn = 0 it is the deterministic Alg. 1). The last step, to σ = 0, is a plain Euler step,
    /// so n steps cost 2n − 1 evaluations.
    /// </summary>
    public static void Heun(GuidedDenoiser model, Span<float> x, ReadOnlySpan<float> sigmas, SamplerExtras extras)
    {
        var den = model.Scratch(0);
        var d = model.Scratch(1);
        var x2 = model.Scratch(2);
        x = x[..model.Count];
        int steps = sigmas.Length - 1;
        for (int i = 0; i < steps; i++)
        {
            float s = sigmas[i], sNext = sigmas[i + 1];
            float gamma = extras.SChurn > 0 && s >= extras.STMin && s <= extras.STMax && extras.Noise is not null
                ? MathF.Min(extras.SChurn / steps, MathF.Sqrt(2f) - 1f) : 0f;
            float sHat = s * (1f + gamma);
            if (gamma > 0)
            {
                // Alg. 2 line 5: raise the noise level to σ̂ with fresh noise of the missing variance.
                extras.Noise!.Fill(x2, model.Batch, model.Length);
                TensorPrimitives.MultiplyAdd(x2, extras.SNoise * MathF.Sqrt(sHat * sHat - s * s), x, x);
            }
            model.Denoise(x, sHat, den);
            TensorPrimitives.Subtract(x, den, d);
            TensorPrimitives.Multiply(d, 1f / sHat, d);          // d = (x − D)/σ̂
            float h = sNext - sHat;
            if (sNext == 0f)
            {
                TensorPrimitives.MultiplyAdd(d, h, x, x);          // Euler to σ = 0
                continue;
            }
            TensorPrimitives.MultiplyAdd(d, h, x, x2);             // Euler predictor
            model.Denoise(x2, sNext, den);
            TensorPrimitives.Subtract(x2, den, x2);
            TensorPrimitives.Multiply(x2, 1f / sNext, x2);         // d' = (x₂ − D(x₂))/σ_{i+1}
            TensorPrimitives.Add(d, x2, d);
            TensorPrimitives.MultiplyAdd(d, 0.5f * h, x, x);       // trapezoidal corrector
        }
    }

    /// <summary>
    /// DDIM (Song, Meng &amp; Ermon 2021, "Denoising Diffusion Implicit Models", eq. 12) with stochasticity η, in σ form.
    /// With ᾱ = 1/(1+σ²) the DDIM update becomes x ← D + σ_down·ε̂ + σ_up·z, where ε̂ = (x − D)/σ,
    /// σ_up = min(σ', η·√(σ'²(σ² − σ'²)/σ²)) and σ_down = √(σ'² − σ_up²). η = 0 is the deterministic DDIM
    /// (the Euler step on the probability-flow ODE, as Karras et al. 2022 §3 note).
    /// </summary>
    public static void Ddim(GuidedDenoiser model, Span<float> x, ReadOnlySpan<float> sigmas, SamplerExtras extras)
    {
        var den = model.Scratch(0);
        var tmp = model.Scratch(1);
        x = x[..model.Count];
        float eta = extras.Noise is null ? 0f : extras.Eta;
        for (int i = 0; i + 1 < sigmas.Length; i++)
        {
            double s = sigmas[i], sNext = sigmas[i + 1];
            model.Denoise(x, (float)s, den);
            double sUp = Math.Min(sNext, eta * Math.Sqrt(sNext * sNext * (s * s - sNext * sNext) / (s * s)));
            double sDown = Math.Sqrt(Math.Max(0, sNext * sNext - sUp * sUp));
            TensorPrimitives.Subtract(x, den, tmp);
            TensorPrimitives.MultiplyAdd(tmp, (float)(sDown / s), den, x);
            if (sUp > 0)
            {
                extras.Noise!.Fill(tmp, model.Batch, model.Length);
                TensorPrimitives.MultiplyAdd(tmp, (float)sUp, x, x);
            }
        }
    }

    /// <summary>
    /// DPM-Solver++(2M) (Lu et al. 2022, "DPM-Solver++: Fast Solver for Guided Sampling of Diffusion Probabilistic
    /// Models", Alg. 2), multistep second order in λ = −log σ using the previous step's estimate of x0:
    /// x ← (σ'/σ)·x + (1 − σ'/σ)·D̃ with D̃ = (1 + 1/(2r))·D_i − (1/(2r))·D_{i−1}, r = h_{i−1}/h_i.
    /// The first step and the last one (to σ = 0) are first order.
    /// </summary>
    public static void DpmPlusPlus2M(GuidedDenoiser model, Span<float> x, ReadOnlySpan<float> sigmas, SamplerExtras extras)
    {
        var den = model.Scratch(0);
        var old = model.Scratch(1);
        x = x[..model.Count];
        double hLast = 0;
        for (int i = 0; i + 1 < sigmas.Length; i++)
        {
            double s = sigmas[i], sNext = sigmas[i + 1];
            model.Denoise(x, (float)s, den);
            if (sNext == 0)
            {
                den.CopyTo(x);
                continue;
            }
            double h = Math.Log(s) - Math.Log(sNext);   // λ_{i+1} − λ_i
            float ratio = (float)(sNext / s);
            if (i > 0)
            {
                double r = hLast / h;
                float a = (float)(1 + 1 / (2 * r)), b = (float)(-1 / (2 * r));
                // old ← a·D_i + b·D_{i−1}, then x ← ratio·x + (1 − ratio)·old; D_i is kept in den for the next step.
                TensorPrimitives.Multiply(old, b, old);
                TensorPrimitives.MultiplyAdd(den, a, old, old);
                TensorPrimitives.Multiply(x, ratio, x);
                TensorPrimitives.MultiplyAdd(old, 1 - ratio, x, x);
            }
            else
            {
                TensorPrimitives.Multiply(x, ratio, x);
                TensorPrimitives.MultiplyAdd(den, 1 - ratio, x, x);
            }
            den.CopyTo(old);
            hLast = h;
        }
    }
}
