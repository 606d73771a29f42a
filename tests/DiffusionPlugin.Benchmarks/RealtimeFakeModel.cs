using DiffusionPlugin.Engine.Diffusion;

namespace DiffusionPlugin.Benchmarks;

/// <summary>
/// A stand-in diffusion core for the real-time benchmarks until the real one is wired: deterministic output (seeded
/// decaying bursts; Vary blends the source with seeded noise) and a configurable CPU cost per item that really burns
/// the worker's core (so "the worker generates on the other core" is true), instead of sleeping.
/// </summary>
internal sealed class RealtimeFakeModel : IDiffusionOperations
{
    private static readonly string[] Classes =
        ["kick", "snare", "rim", "clap", "tom", "hihat_closed", "hihat_open", "crash", "ride", "percussion", "general"];

    private readonly FakeDenoiser _denoiser = new();
    /// <summary>CPU time burnt per generated item, in milliseconds.</summary>
    public double CostMsPerItem { get; init; } = 5;
    public long Items;

    public IDenoiser Denoiser => _denoiser;

    private void Burn(int items)
    {
        Interlocked.Add(ref Items, items);
        var until = System.Diagnostics.Stopwatch.GetTimestamp() + (long)(CostMsPerItem * items * System.Diagnostics.Stopwatch.Frequency / 1000);
        double acc = 0;
        while (System.Diagnostics.Stopwatch.GetTimestamp() < until) for (int i = 0; i < 1000; i++) acc += Math.Sqrt(i + acc);
        GC.KeepAlive(acc);
    }

    public void Generate(ReadOnlySpan<DiffusionConditioning> conditioning, ReadOnlySpan<ulong> seeds, int length, SamplingOptions options, Span<float> output)
    {
        Burn(seeds.Length);
        for (int b = 0; b < seeds.Length; b++)
        {
            var rng = new Random((int)seeds[b]);
            float decay = 0.02f + 0.03f * Math.Max(0, conditioning[b].ClassId);
            for (int t = 0; t < length; t++)
                output[b * length + t] = 0.5f * MathF.Exp(-t / (decay * 44100f)) * (float)(rng.NextDouble() * 2 - 1);
        }
    }

    public void Vary(ReadOnlySpan<float> sources, ReadOnlySpan<DiffusionConditioning> conditioning, ReadOnlySpan<ulong> seeds, int length, float strength, SamplingOptions options, Span<float> output)
    {
        Burn(seeds.Length);
        for (int b = 0; b < seeds.Length; b++)
        {
            var rng = new Random((int)seeds[b]);
            for (int t = 0; t < length; t++)
            {
                float s = sources[b * length + t];
                output[b * length + t] = s + strength * 0.5f * (float)(rng.NextDouble() * 2 - 1) * MathF.Max(MathF.Abs(s), 0.02f);
            }
        }
    }

    public void Inpaint(ReadOnlySpan<float> source, ReadOnlySpan<float> mask, DiffusionConditioning conditioning, ulong seed, int length, SamplingOptions options, Span<float> output) => throw new NotSupportedException();
    public void ExtendBandwidth(ReadOnlySpan<float> source, float cutoffHz, DiffusionConditioning conditioning, ulong seed, int length, SamplingOptions options, Span<float> output) => throw new NotSupportedException();
    public void Interpolate(DiffusionConditioning conditioning, ulong seedA, ulong seedB, ReadOnlySpan<float> positions, int length, SamplingOptions options, Span<float> output) => throw new NotSupportedException();
    public void Dispose() { }

    private sealed class FakeDenoiser : IDenoiser
    {
        public int SampleRateHz => 44100;
        public int ClipSamples => 22528;
        public int LengthMultiple => 256;
        public IReadOnlyList<string> ClassNames => Classes;
        public float SigmaMin => 0.002f;
        public float SigmaMax => 80f;
        public float SigmaData => 0.5f;
        public void Denoise(ReadOnlySpan<float> x, ReadOnlySpan<float> sigma, ReadOnlySpan<DiffusionConditioning> conditioning, int batch, int length, Span<float> denoised) => x.CopyTo(denoised);
        public void Dispose() { }
    }
}
