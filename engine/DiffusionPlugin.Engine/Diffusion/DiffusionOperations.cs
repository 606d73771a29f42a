using System.Numerics.Tensors;

namespace DiffusionPlugin.Engine.Diffusion;

/// <summary>
/// Every diffusion operation over one denoiser: generation, SDEdit variation and transfer, inpainting, bandwidth
/// extension and interpolation, each in batches. Buffers are kept per shape and reused, so repeated calls with the same
/// shape and options allocate nothing managed. Deterministic: each item's noise comes from its own seed.
/// Not thread-safe: one thread owns an instance (the generation worker or a CLI thread); never the audio thread.
/// Throws <see cref="ArgumentException"/> for bad arguments (lengths, unknown sampler or schedule, NaN/Inf source audio,
/// class ids out of range) and <see cref="InvalidOperationException"/> when ONNX Runtime fails during a run.
/// Vary at strength s runs ⌈s·Steps⌉ steps from the level the schedule reaches at fraction s of its range.
/// </summary>
public sealed class DiffusionOperations : IDiffusionOperations
{
    private const int MaxSteps = 10_000;

    /// <summary>Length of the raised-cosine crossfade at inpainting borders, in seconds.</summary>
    public const float InpaintCrossfadeSeconds = 0.005f;

    private readonly bool _ownsDenoiser;
    private readonly GuidedDenoiser _model;
    private readonly SamplerExtras _extras = new();
    private readonly ItemNoise _noise = new();
    private readonly InpaintConstraint _inpaint = new();
    private readonly LowBandConstraint _lowBand = new();
    private float[] _sigmas = [], _x = [], _a = [], _b = [];
    private DiffusionConditioning[] _conditioning = [];
    private bool _disposed;

    /// <summary>Operations over <paramref name="denoiser"/>; disposing them disposes it when <paramref name="ownsDenoiser"/>.</summary>
    public DiffusionOperations(IDenoiser denoiser, bool ownsDenoiser = false)
    {
        Denoiser = denoiser ?? throw new ArgumentNullException(nameof(denoiser));
        _ownsDenoiser = ownsDenoiser;
        _model = new GuidedDenoiser(denoiser);
        _extras.Noise = _noise;
    }

    public IDenoiser Denoiser { get; }

    /// <summary>Denoiser evaluations the last operation made (a guided evaluation counts once).</summary>
    public int LastEvaluations => _model.Evaluations;

    public void Generate(ReadOnlySpan<DiffusionConditioning> conditioning, ReadOnlySpan<ulong> seeds, int length,
                         SamplingOptions options, Span<float> output)
    {
        int batch = seeds.Length;
        CheckBatch(conditioning.Length, batch, length, output.Length);
        if (Denoiser.TimbrePrior is { } prior)
        {
            // A model with timbre conditioning is told a timbre for every fresh hit that comes without one: drawn from
            // its class's prior with the hit's own seed, so the seed still decides the whole hit (onnx-export's
            // sampling.generate draws them the same way).
            var drawn = Buffer(ref _conditioning, batch);
            for (int b = 0; b < batch; b++)
            {
                var c = conditioning[b];
                drawn[b] = c.Timbre is null && c.ClassId != DiffusionConditioning.Unconditional
                    ? c with { Timbre = prior.Draw(c.ClassId, c.Velocity, seeds[b]) } : c;
            }
            conditioning = drawn;
        }
        var sampler = Begin(conditioning, length, options);
        var sigmas = Schedule(options.Schedule, options.Steps, Denoiser.SigmaMax);
        var x = Buffer(ref _x, batch * length);
        for (int b = 0; b < batch; b++)
        {
            _noise.Reset(b, seeds[b]);
            _noise.FillItem(b, x.Slice(b * length, length));
        }
        TensorPrimitives.Multiply(x, sigmas[0], x);
        sampler(_model, x, sigmas, _extras);
        x.CopyTo(output);
    }

    public void Vary(ReadOnlySpan<float> sources, ReadOnlySpan<DiffusionConditioning> conditioning, ReadOnlySpan<ulong> seeds,
                     int length, float strength, SamplingOptions options, Span<float> output)
    {
        int batch = seeds.Length;
        CheckBatch(conditioning.Length, batch, length, output.Length);
        if (sources.Length < batch * length) throw new ArgumentException($"sources hold {sources.Length} samples, batch × length needs {batch * length}", nameof(sources));
        if (!(strength >= 0f && strength <= 1f)) throw new ArgumentOutOfRangeException(nameof(strength), strength, "strength must be in [0, 1]");
        RequireFinite(sources[..(batch * length)], nameof(sources));
        var sampler = Begin(conditioning, length, options);
        if (strength == 0f)
        {
            sources[..(batch * length)].CopyTo(output);
            return;
        }
        // SDEdit (Meng et al. 2022, "SDEdit: Guided Image Synthesis and Editing with Stochastic Differential Equations"):
        // noise the source to the level the schedule reaches at fraction s of its range, then solve back to 0 in ⌈s·n⌉ steps.
        float sigmaStart = Math.Max(Denoiser.SigmaMin, NoiseSchedules.SigmaAt(options.Schedule, strength, Denoiser.SigmaMin, Denoiser.SigmaMax));
        int steps = Math.Max(1, (int)MathF.Ceiling(strength * options.Steps));
        var sigmas = Schedule(options.Schedule, steps, sigmaStart);
        var x = Buffer(ref _x, batch * length);
        for (int b = 0; b < batch; b++)
        {
            _noise.Reset(b, seeds[b]);
            _noise.FillItem(b, x.Slice(b * length, length));
        }
        TensorPrimitives.MultiplyAdd(x, sigmaStart, sources[..(batch * length)], x);
        sampler(_model, x, sigmas, _extras);
        x.CopyTo(output);
    }

    public void Inpaint(ReadOnlySpan<float> source, ReadOnlySpan<float> mask, DiffusionConditioning conditioning, ulong seed,
                        int length, SamplingOptions options, Span<float> output)
    {
        CheckBatch(1, 1, length, output.Length);
        if (source.Length < length) throw new ArgumentException("source is shorter than length", nameof(source));
        if (mask.Length < length) throw new ArgumentException("mask is shorter than length", nameof(mask));
        RequireFinite(source[..length], nameof(source));
        var sampler = Begin([conditioning], length, options);
        var weights = _inpaint.Prepare(source[..length], mask[..length], Math.Max(1, (int)MathF.Round(InpaintCrossfadeSeconds * Denoiser.SampleRateHz)));
        if (TensorPrimitives.Max(weights) == 0f)
        {
            source[..length].CopyTo(output); // nothing masked: nothing to regenerate
            return;
        }
        _model.Constraint = _inpaint;
        var sigmas = Schedule(options.Schedule, options.Steps, Denoiser.SigmaMax);
        var x = Buffer(ref _x, length);
        _noise.Reset(0, seed);
        _noise.FillItem(0, x);
        TensorPrimitives.Multiply(x, sigmas[0], x);
        sampler(_model, x, sigmas, _extras);
        _model.Constraint = null;
        for (int t = 0; t < length; t++)
        {
            float w = weights[t];
            // Where the mask is 0 the source is copied, not recomputed: bit-exact by construction.
            output[t] = w == 0f ? source[t] : source[t] + w * (x[t] - source[t]);
        }
    }

    public void ExtendBandwidth(ReadOnlySpan<float> source, float cutoffHz, DiffusionConditioning conditioning, ulong seed,
                                int length, SamplingOptions options, Span<float> output)
    {
        CheckBatch(1, 1, length, output.Length);
        if (source.Length < length) throw new ArgumentException("source is shorter than length", nameof(source));
        if (!(cutoffHz > 0) || !float.IsFinite(cutoffHz)) throw new ArgumentOutOfRangeException(nameof(cutoffHz), cutoffHz, "cutoff must be a positive frequency");
        RequireFinite(source[..length], nameof(source));
        var sampler = Begin([conditioning], length, options);
        if (cutoffHz >= Denoiser.SampleRateHz / 2f)
        {
            source[..length].CopyTo(output);
            return;
        }
        _lowBand.Prepare(source[..length], cutoffHz, Denoiser.SampleRateHz);
        _model.Constraint = _lowBand;
        var sigmas = Schedule(options.Schedule, options.Steps, Denoiser.SigmaMax);
        var x = Buffer(ref _x, length);
        _noise.Reset(0, seed);
        _noise.FillItem(0, x);
        TensorPrimitives.Multiply(x, sigmas[0], x);
        sampler(_model, x, sigmas, _extras);
        _model.Constraint = null;
        // Final projection: below the cutoff the result is the source's spectrum exactly (up to float rounding).
        _lowBand.Apply(x, 0f, x, 1, length);
        x.CopyTo(output);
    }

    public void Interpolate(DiffusionConditioning conditioning, ulong seedA, ulong seedB, ReadOnlySpan<float> positions,
                            int length, SamplingOptions options, Span<float> output)
    {
        int batch = positions.Length;
        CheckBatch(batch, batch, length, output.Length);
        var cond = Buffer(ref _conditioning, batch);
        cond.Fill(conditioning);
        var sampler = Begin(cond, length, options);
        var sigmas = Schedule(options.Schedule, options.Steps, Denoiser.SigmaMax);
        var a = Buffer(ref _a, length);
        var bNoise = Buffer(ref _b, length);
        _noise.Reset(0, seedA);
        _noise.FillItem(0, a);
        _noise.Reset(0, seedB);
        _noise.FillItem(0, bNoise);
        // Spherical interpolation (Shoemake 1985), as used between diffusion latents (Song et al. 2021, DDIM §5.3):
        // Gaussian noise lives near a sphere, and a straight line between two draws would pass through lower-energy noise.
        double cos = TensorPrimitives.Dot(a, bNoise) / Math.Max(1e-30, (double)TensorPrimitives.Norm(a) * TensorPrimitives.Norm(bNoise));
        double theta = Math.Acos(Math.Clamp(cos, -1.0, 1.0));
        double sinTheta = Math.Sin(theta);
        var x = Buffer(ref _x, batch * length);
        for (int i = 0; i < batch; i++)
        {
            double t = positions[i];
            if (!double.IsFinite(t)) throw new ArgumentOutOfRangeException(nameof(positions), t, "positions must be finite");
            double wa, wb;
            if (sinTheta < 1e-6) { wa = 1 - t; wb = t; }
            else { wa = Math.Sin((1 - t) * theta) / sinTheta; wb = Math.Sin(t * theta) / sinTheta; }
            var item = x.Slice(i * length, length);
            TensorPrimitives.Multiply(a, (float)(wa * sigmas[0]), item);
            TensorPrimitives.MultiplyAdd(bNoise, (float)(wb * sigmas[0]), item, item);
            _noise.Reset(i, NoiseGenerator.Mix(seedA, seedB, (ulong)i));
        }
        sampler(_model, x, sigmas, _extras);
        x.CopyTo(output);
    }

    public void WarmUp(int batch, int length, SamplingOptions options)
    {
        if (batch < 1) throw new ArgumentOutOfRangeException(nameof(batch), batch, "batch must be at least 1");
        var cond = new DiffusionConditioning[batch];
        var seeds = new ulong[batch];
        var output = new float[batch * length];
        // A one-step run touches every buffer a full run of this shape uses (guided batch, scratch, bindings).
        Generate(cond, seeds, length, options with { Steps = 1, GuidanceMaxSigma = float.PositiveInfinity }, output);
        // Guidance in an interval also runs unguided steps (batch B instead of 2B): bind that shape too.
        if (options.Guidance != 1f && float.IsFinite(options.GuidanceMaxSigma))
            Generate(cond, seeds, length, options with { Steps = 1, Guidance = 1f }, output);
        Buffer(ref _sigmas, Math.Clamp(options.Steps, 1, MaxSteps) + 1); // the schedule of a full run of these options
    }

    /// <summary>Checks the options, prepares the guided model for the batch and returns the sampler to run.</summary>
    private SamplerFunction Begin(ReadOnlySpan<DiffusionConditioning> conditioning, int length, SamplingOptions options)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(options);
        if (options.Steps is < 1 or > MaxSteps) throw new ArgumentOutOfRangeException(nameof(options), options.Steps, $"steps must be 1..{MaxSteps}");
        if (!NoiseSchedules.IsKnown(options.Schedule)) throw new ArgumentException($"unknown schedule '{options.Schedule}' (expected karras or vp)", nameof(options));
        if (!(options.Eta >= 0) || !float.IsFinite(options.Eta)) throw new ArgumentOutOfRangeException(nameof(options), options.Eta, "eta must be finite and not negative");
        var sampler = Samplers.Get(options.Sampler);
        int classes = Denoiser.ClassNames.Count;
        foreach (var c in conditioning)
        {
            if (c.ClassId != DiffusionConditioning.Unconditional && (uint)c.ClassId >= (uint)classes)
                throw new ArgumentOutOfRangeException(nameof(conditioning), c.ClassId, $"class id must be -1 or 0..{classes - 1}");
        }
        _model.Prepare(conditioning, length, options.Guidance, options.GuidanceMaxSigma);
        _noise.EnsureItems(conditioning.Length);
        _extras.Eta = options.Eta;
        return sampler;
    }

    private ReadOnlySpan<float> Schedule(string name, int steps, float sigmaMax)
    {
        var sigmas = Buffer(ref _sigmas, steps + 1);
        NoiseSchedules.Build(name, sigmas, Denoiser.SigmaMin, sigmaMax);
        return sigmas;
    }

    private void CheckBatch(int conditioningCount, int batch, int length, int outputLength)
    {
        if (batch < 1) throw new ArgumentException("at least one item (seed or position) is needed");
        if (conditioningCount != batch) throw new ArgumentException($"{conditioningCount} conditionings for {batch} items");
        if (length < 1 || length % Denoiser.LengthMultiple != 0)
            throw new ArgumentOutOfRangeException(nameof(length), length, $"length must be a positive multiple of {Denoiser.LengthMultiple}");
        if (outputLength < (long)batch * length) throw new ArgumentException($"output holds {outputLength} samples, {batch} × {length} needed", "output");
    }

    /// <summary>NaN or infinity in a source would spread through every step: refuse it with a clear message.</summary>
    private static void RequireFinite(ReadOnlySpan<float> audio, string name)
    {
        for (int i = 0; i < audio.Length; i++)
        {
            if (!float.IsFinite(audio[i])) throw new ArgumentException($"{name} holds NaN or infinity at sample {i}", name);
        }
    }

    private static Span<T> Buffer<T>(ref T[] buffer, int size)
    {
        if (buffer.Length < size) buffer = new T[size];
        return buffer.AsSpan(0, size);
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (_ownsDenoiser) Denoiser.Dispose();
    }

    /// <summary>One seeded Gaussian stream per batch item.</summary>
    private sealed class ItemNoise : IBatchNoise
    {
        private NoiseGenerator[] _items = [];

        public void EnsureItems(int count)
        {
            if (_items.Length >= count) return;
            var grown = new NoiseGenerator[count];
            _items.CopyTo(grown, 0);
            for (int i = _items.Length; i < count; i++) grown[i] = new NoiseGenerator();
            _items = grown;
        }

        public void Reset(int item, ulong seed) => _items[item].Reset(seed);
        public void FillItem(int item, Span<float> destination) => _items[item].FillGaussian(destination);

        public void Fill(Span<float> batchMajor, int batch, int length)
        {
            for (int b = 0; b < batch; b++) _items[b].FillGaussian(batchMajor.Slice(b * length, length));
        }
    }

    /// <summary>
    /// Keeps the known samples in every estimate of x0: D ← s + w·(D − s), w = 0 outside the masked span and ramping up
    /// with a raised cosine inside its borders. Replacing the known part at every step (Lugmayr et al. 2022, "RePaint",
    /// applied to the x0 estimate) lets the sampler build the gap around what stays.
    /// </summary>
    private sealed class InpaintConstraint : IEstimateConstraint
    {
        private float[] _source = [], _weights = [], _distance = [];
        private int _length;

        public ReadOnlySpan<float> Prepare(ReadOnlySpan<float> source, ReadOnlySpan<float> mask, int crossfadeSamples)
        {
            _length = source.Length;
            var src = Buffer(ref _source, _length);
            source.CopyTo(src);
            var w = Buffer(ref _weights, _length);
            var dist = Buffer(ref _distance, _length);
            // Distance (in samples) from each sample to the nearest kept one (mask 0), in two sweeps.
            float run = float.PositiveInfinity;
            for (int t = 0; t < _length; t++)
            {
                run = Clamp01(mask[t]) == 0f ? 0f : run + 1f;
                dist[t] = run;
            }
            run = float.PositiveInfinity;
            for (int t = _length - 1; t >= 0; t--)
            {
                run = Clamp01(mask[t]) == 0f ? 0f : run + 1f;
                dist[t] = MathF.Min(dist[t], run);
            }
            for (int t = 0; t < _length; t++)
            {
                float m = Clamp01(mask[t]);
                float d = dist[t];
                float ramp = d >= crossfadeSamples ? 1f : 0.5f - 0.5f * MathF.Cos(MathF.PI * d / crossfadeSamples);
                w[t] = m == 0f ? 0f : m * ramp;
            }
            return w;
        }

        private static float Clamp01(float v) => float.IsNaN(v) ? 0f : Math.Clamp(v, 0f, 1f);

        public void Apply(ReadOnlySpan<float> x, float sigma, Span<float> denoised, int batch, int length)
        {
            var src = _source.AsSpan(0, _length);
            TensorPrimitives.Subtract(denoised, src, denoised);
            TensorPrimitives.MultiplyAdd(denoised, _weights.AsSpan(0, _length), src, denoised);
        }
    }

    /// <summary>
    /// Keeps the source's band below the cutoff in every estimate of x0: D ← D + LP(s − D) (zero-phase FFT low-pass), so the
    /// sampler only invents the band above it — bandwidth extension as "super-resolution" by replacement in the estimate.
    /// </summary>
    private sealed class LowBandConstraint : IEstimateConstraint
    {
        private SpectralFilter? _filter;
        private float[] _source = [];

        public void Prepare(ReadOnlySpan<float> source, float cutoffHz, int sampleRateHz)
        {
            if (_filter is null || !_filter.Matches(source.Length, cutoffHz, sampleRateHz))
                _filter = new SpectralFilter(source.Length, cutoffHz, sampleRateHz);
            source.CopyTo(Buffer(ref _source, source.Length));
        }

        public void Apply(ReadOnlySpan<float> x, float sigma, Span<float> denoised, int batch, int length)
        {
            for (int b = 0; b < batch; b++)
                _filter!.ReplaceLowBand(denoised.Slice(b * length, length), _source.AsSpan(0, length));
        }
    }
}
