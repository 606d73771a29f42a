using System.Numerics.Tensors;

namespace DiffusionPlugin.Engine.Diffusion;

/// <summary>
/// The ideal denoiser for data x0 ~ N(μ, σd²), i.i.d. per sample: D(x, σ) = (σd²·x + σ²·μ)/(σd² + σ²)
/// (the posterior mean E[x0 | x0 + σ·n = x]; Karras et al. 2022, "Elucidating the Design Space of Diffusion-Based
/// Generative Models", eq. 2-3). Any correct sampler run on it must end at N(μ, σd²), which makes it the
/// exactness oracle for the samplers; the same formula is built as an ONNX graph by
/// onnx-export/analytic/build_analytic_gaussian.py. Conditioning is ignored. Allocates nothing. One thread owns it.
/// </summary>
public sealed class AnalyticGaussianDenoiser : IDenoiser
{
    private static readonly string[] OneClass = ["gaussian"];

    public AnalyticGaussianDenoiser(float mu, float sigmaData, int sampleRateHz = 44100, int clipSamples = 4096,
                                    float sigmaMin = 0.002f, float sigmaMax = 80f)
    {
        if (!(sigmaData > 0)) throw new ArgumentOutOfRangeException(nameof(sigmaData));
        Mu = mu;
        SigmaData = sigmaData;
        SampleRateHz = sampleRateHz;
        ClipSamples = clipSamples;
        SigmaMin = sigmaMin;
        SigmaMax = sigmaMax;
    }

    /// <summary>Mean of the data distribution.</summary>
    public float Mu { get; }
    public float SigmaData { get; }
    public int SampleRateHz { get; }
    public int ClipSamples { get; }
    public int LengthMultiple => 1;
    public IReadOnlyList<string> ClassNames => OneClass;
    public float SigmaMin { get; }
    public float SigmaMax { get; }

    public void Denoise(ReadOnlySpan<float> x, ReadOnlySpan<float> sigma, ReadOnlySpan<DiffusionConditioning> conditioning,
                        int batch, int length, Span<float> denoised)
    {
        DenoiserArguments.Check(x, sigma, conditioning, batch, length, LengthMultiple, denoised);
        float sd2 = SigmaData * SigmaData;
        for (int b = 0; b < batch; b++)
        {
            // Same float32 operation order as the ONNX graph, so the two paths agree to rounding.
            float s = sigma[b];
            float s2 = s * s;
            var src = x.Slice(b * length, length);
            var dst = denoised.Slice(b * length, length);
            TensorPrimitives.Multiply(src, sd2, dst);
            TensorPrimitives.Add(dst, s2 * Mu, dst);
            TensorPrimitives.Divide(dst, s2 + sd2, dst);
        }
    }

    public void Dispose() { }
}

/// <summary>Argument checks every <see cref="IDenoiser"/> shares.</summary>
internal static class DenoiserArguments
{
    public static void Check(ReadOnlySpan<float> x, ReadOnlySpan<float> sigma, ReadOnlySpan<DiffusionConditioning> conditioning,
                             int batch, int length, int lengthMultiple, Span<float> denoised)
    {
        if (batch < 1) throw new ArgumentOutOfRangeException(nameof(batch), batch, "batch must be at least 1");
        if (length < 1 || length % lengthMultiple != 0)
            throw new ArgumentOutOfRangeException(nameof(length), length, $"length must be a positive multiple of {lengthMultiple}");
        long n = (long)batch * length;
        if (x.Length < n) throw new ArgumentException($"x holds {x.Length} samples, batch × length needs {n}", nameof(x));
        if (denoised.Length < n) throw new ArgumentException($"denoised holds {denoised.Length} samples, batch × length needs {n}", nameof(denoised));
        if (sigma.Length < batch) throw new ArgumentException("one sigma per batch item is needed", nameof(sigma));
        if (conditioning.Length < batch) throw new ArgumentException("one conditioning per batch item is needed", nameof(conditioning));
    }
}
