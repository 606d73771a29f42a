using CsCheck;
using DiffusionPlugin.Engine.Diffusion;

namespace DiffusionPlugin.Engine.Tests.Diffusion;

public class EditingTests
{
    private const int Length = 4096;
    private static readonly SamplingOptions Options = new() { Sampler = "dpmpp_2m", Steps = 16 };

    private static float[] DrumLikeSource(int length = Length, int sampleRateHz = 44100)
    {
        // A decaying hit made of a few partials below 3 kHz.
        var s = new float[length];
        for (int t = 0; t < length; t++)
        {
            double time = (double)t / sampleRateHz;
            s[t] = (float)(Math.Exp(-time * 30) * (0.6 * Math.Sin(2 * Math.PI * 120 * time)
                         + 0.3 * Math.Sin(2 * Math.PI * 700 * time) + 0.2 * Math.Sin(2 * Math.PI * 2300 * time)));
        }
        return s;
    }

    [Fact]
    public void Variation_at_strength_zero_is_the_identity()
    {
        using var ops = new DiffusionOperations(TestModels.Analytic());
        var sources = new float[3 * Length];
        new NoiseGenerator(3).FillGaussian(sources);
        var output = new float[sources.Length];
        ops.Vary(sources, TestModels.Conditions(3), TestModels.Seeds(3), Length, 0f, Options, output);
        Assert.Equal(sources, output);
    }

    [Fact]
    public void Variation_strays_further_from_the_source_as_strength_grows()
    {
        using var ops = new DiffusionOperations(TestModels.Analytic());
        var source = DrumLikeSource();
        double Distance(float strength)
        {
            var output = new float[Length];
            ops.Vary(source, TestModels.Conditions(1), [5UL], Length, strength, Options, output);
            return Math.Sqrt(source.Zip(output, (a, b) => (double)(a - b) * (a - b)).Average());
        }
        double low = Distance(0.1f), mid = Distance(0.5f), full = Distance(1f);
        Assert.True(low < mid && mid < full, $"{low} {mid} {full}");
        Assert.True(low < 0.05, $"strength 0.1 moved the hit by {low} RMS");
    }

    [Fact]
    public void Transfer_is_a_variation_toward_another_class()
    {
        // Class 0 lives around −1, class 1 around +1: a class-0 source varied with class 1 ends near +1.
        var denoiser = new ClassGaussianDenoiser([-1f, 1f], 0f, sigmaData: 0.1f) { Record = false };
        using var ops = new DiffusionOperations(denoiser);
        var source = Enumerable.Repeat(-1f, 1024).ToArray();
        var output = new float[1024];
        ops.Vary(source, [new DiffusionConditioning(1, 1f)], [9UL], 1024, 0.9f, Options, output);
        Assert.InRange(output.Average(), 0.8, 1.2);
    }

    [Fact]
    public void Inpainting_keeps_unmasked_samples_bit_exact()
    {
        using var ops = new DiffusionOperations(TestModels.Analytic());
        var source = DrumLikeSource();
        var mask = new float[Length];
        for (int t = 1000; t < 2000; t++) mask[t] = 1f;
        var output = new float[Length];
        ops.Inpaint(source, mask, new DiffusionConditioning(0, 1f), 11, Length, Options, output);
        for (int t = 0; t < Length; t++)
            if (mask[t] == 0f) Assert.Equal(BitConverter.SingleToInt32Bits(source[t]), BitConverter.SingleToInt32Bits(output[t]));
        double changed = Enumerable.Range(1300, 400).Average(t => Math.Abs(output[t] - source[t]));
        Assert.True(changed > 0.1, $"the masked span barely changed ({changed})");
    }

    [Fact]
    public void Inpainting_fades_in_at_the_borders_without_a_jump()
    {
        using var ops = new DiffusionOperations(TestModels.Analytic());
        var source = DrumLikeSource();
        var mask = new float[Length];
        for (int t = 1000; t < 2000; t++) mask[t] = 1f;
        var output = new float[Length];
        ops.Inpaint(source, mask, new DiffusionConditioning(0, 1f), 11, Length, Options, output);
        // First and last masked samples sit at the start of a raised-cosine ramp: they barely leave the source.
        Assert.True(Math.Abs(output[1000] - source[1000]) < 1e-2, $"{output[1000]} vs {source[1000]}");
        Assert.True(Math.Abs(output[1999] - source[1999]) < 1e-2, $"{output[1999]} vs {source[1999]}");
        double edgeStep = Math.Abs(output[1000] - output[999]);
        double sourceStep = Math.Abs(source[1000] - source[999]);
        Assert.True(edgeStep < sourceStep + 1e-2, $"step {edgeStep} at the border");
    }

    [Fact]
    public void Bandwidth_extension_keeps_the_band_below_the_cutoff_within_half_a_decibel()
    {
        using var ops = new DiffusionOperations(TestModels.Analytic());
        var source = DrumLikeSource();
        var output = new float[Length];
        const float cutoffHz = 4000f;
        ops.ExtendBandwidth(source, cutoffHz, new DiffusionConditioning(0, 1f), 21, Length, Options, output);

        (double Lo, double Hi)[] bands = [(50, 300), (300, 1000), (1000, 2000), (2000, 3000), (3000, 3900)];
        foreach (var (lo, hi) in bands)
        {
            double src = BandPower(source, lo, hi), outp = BandPower(output, lo, hi);
            double db = 10 * Math.Log10(outp / src);
            Assert.True(Math.Abs(db) <= 0.5, $"band {lo}-{hi} Hz moved {db:F3} dB");
        }
        // Above the cutoff there was nothing; now there is generated content.
        Assert.True(BandPower(output, 6000, 7000) > 100 * BandPower(source, 6000, 7000) + 1e-6);
    }

    /// <summary>Power in [lo, hi) Hz of a Hann-windowed DFT, computed directly (independent of the engine's FFT).</summary>
    private static double BandPower(float[] signal, double lo, double hi, int sampleRateHz = 44100)
    {
        int n = signal.Length;
        double total = 0;
        int kLo = (int)Math.Ceiling(lo * n / sampleRateHz), kHi = (int)Math.Floor(hi * n / sampleRateHz);
        for (int k = kLo; k < kHi; k++)
        {
            double re = 0, im = 0;
            // Rotate a phasor instead of calling sin/cos per sample.
            double stepRe = Math.Cos(-2 * Math.PI * k / n), stepIm = Math.Sin(-2 * Math.PI * k / n);
            double pRe = 1, pIm = 0;
            for (int t = 0; t < n; t++)
            {
                double w = (0.5 - 0.5 * Math.Cos(2 * Math.PI * t / n)) * signal[t];
                re += w * pRe;
                im += w * pIm;
                (pRe, pIm) = (pRe * stepRe - pIm * stepIm, pRe * stepIm + pIm * stepRe);
            }
            total += re * re + im * im;
        }
        return total;
    }

    [Fact]
    public void Interpolation_ends_at_the_two_seeds_and_keeps_the_noise_energy_between()
    {
        using var ops = new DiffusionOperations(TestModels.Analytic());
        var cond = new DiffusionConditioning(0, 1f);
        var a = new float[Length];
        var b = new float[Length];
        ops.Generate([cond], [100UL], Length, Options, a);
        ops.Generate([cond], [200UL], Length, Options, b);
        var path = new float[3 * Length];
        ops.Interpolate(cond, 100, 200, [0f, 0.5f, 1f], Length, Options, path);
        for (int t = 0; t < Length; t++)
        {
            Assert.True(MathF.Abs(path[t] - a[t]) <= 1e-5f);
            Assert.True(MathF.Abs(path[2 * Length + t] - b[t]) <= 1e-5f);
        }
        // A straight line would shrink the midpoint's spread by about √2; slerp keeps it.
        var mid = path.AsSpan(Length, Length).ToArray();
        double mean = mid.Average(v => (double)v);
        double std = Math.Sqrt(mid.Sum(v => (v - mean) * (v - mean)) / (Length - 1));
        Assert.InRange(std, 0.45, 0.55);
        Assert.NotEqual(a, mid);
    }

    [Fact]
    public void Source_audio_with_NaN_is_refused_with_a_clear_message()
    {
        using var ops = new DiffusionOperations(TestModels.Analytic());
        var source = DrumLikeSource();
        source[17] = float.NaN;
        var output = new float[Length];
        var e = Assert.Throws<ArgumentException>(() => ops.Vary(source, TestModels.Conditions(1), [1UL], Length, 0.5f, Options, output));
        Assert.Contains("NaN or infinity at sample 17", e.Message);
        source[17] = float.PositiveInfinity;
        Assert.Throws<ArgumentException>(() => ops.ExtendBandwidth(source, 4000f, new DiffusionConditioning(0, 1f), 1, Length, Options, output));
        Assert.Throws<ArgumentException>(() => ops.Inpaint(source, new float[Length], new DiffusionConditioning(0, 1f), 1, Length, Options, output));
    }

    [Fact]
    public void Unknown_sampler_names_and_bad_lengths_are_refused_before_any_work()
    {
        using var ops = new DiffusionOperations(TestModels.Analytic());
        var output = new float[Length];
        Assert.Contains("unknown sampler 'plms'", Assert.Throws<ArgumentException>(() =>
            ops.Generate(TestModels.Conditions(1), [1UL], Length, Options with { Sampler = "plms" }, output)).Message);
        Assert.Throws<ArgumentException>(() => ops.Generate(TestModels.Conditions(2), [1UL, 2UL], Length, Options, output));
    }

    [Fact]
    public void Inpainting_keeps_every_unmasked_sample_for_any_mask()
    {
        using var ops = new DiffusionOperations(TestModels.Analytic());
        var options = new SamplingOptions { Sampler = "euler", Steps = 4 };
        const int length = 300;
        // Any mask: spans of 0, 1 and fractional weights in any order, including all-0 and all-1.
        var gen = Gen.Select(Gen.Float[-1f, 1f].Array[length], Gen.OneOf(Gen.Const(0f), Gen.Const(1f), Gen.Float[0f, 1f]).Array[length], Gen.ULong);
        gen.Sample((source, mask, seed) =>
        {
            var output = new float[length];
            ops.Inpaint(source, mask, new DiffusionConditioning(0, 1f), seed, length, options, output);
            for (int t = 0; t < length; t++)
            {
                if (mask[t] == 0f && BitConverter.SingleToInt32Bits(output[t]) != BitConverter.SingleToInt32Bits(source[t]))
                    throw new Exception($"t={t} mask={mask[t]} out={output[t]} src={source[t]}");
                if (!float.IsFinite(output[t])) throw new Exception($"t={t} mask={mask[t]} out={output[t]} src={source[t]}");
            }
            return true;
        }, iter: 60, threads: 1); // one thread: an operations object has one owner
    }
}
