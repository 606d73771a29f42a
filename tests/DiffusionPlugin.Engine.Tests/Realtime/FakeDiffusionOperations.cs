using DiffusionPlugin.Engine.Diffusion;

namespace DiffusionPlugin.Engine.Tests.Realtime;

/// <summary>
/// A small deterministic stand-in for the diffusion core: Generate makes a seeded decaying noise burst per class,
/// Vary blends the source with seeded noise by strength (strength 0 returns the source). Knobs let tests slow it,
/// block it or make it fail. Thread-safe enough for one worker thread plus a test thread flipping the knobs.
/// </summary>
internal sealed class FakeDiffusionOperations : IDiffusionOperations
{
    public static readonly string[] StandardClasses =
        ["kick", "snare", "rim", "clap", "tom", "hihat_closed", "hihat_open", "crash", "ride", "percussion", "general"];

    private readonly FakeDenoiser _denoiser;
    private int _calls;

    public FakeDiffusionOperations(int sampleRateHz = 44100, int clipSamples = 22528, int lengthMultiple = 256,
                                   SamplingOptions? tunedSampling = null, SpectralCalibration? calibration = null,
                                   TimbrePrior? timbrePrior = null)
        => _denoiser = new FakeDenoiser(sampleRateHz, clipSamples, lengthMultiple, tunedSampling, calibration, timbrePrior);

    /// <summary>Every item's conditioning as Generate (true) or Vary (false) was given it, in call order.</summary>
    public readonly System.Collections.Concurrent.ConcurrentQueue<(bool Generate, DiffusionConditioning Conditioning)> Conditionings = new();

    public IDenoiser Denoiser => _denoiser;
    /// <summary>Each model call sleeps this long (simulates a slow model).</summary>
    public int DelayMs { get; set; }
    /// <summary>When set, model calls wait until it is set (simulates a model that cannot keep up at all).</summary>
    public ManualResetEventSlim? Gate { get; set; }
    /// <summary>When set, each model call goes through it: the test lets the worker's calls through one by one.</summary>
    public ModelCallGate? CallGate { get; set; }
    /// <summary>Model calls after this many throw (−1 = never).</summary>
    public int FailAfterCalls { get; set; } = -1;
    public int Calls => Volatile.Read(ref _calls);
    public int GenerateCalls, VaryCalls;
    /// <summary>When true, Vary returns (1 + strength)·source + strength·(source 37 samples ahead): a variation as smooth as its source (click tests).</summary>
    public bool SmoothVariation { get; set; }
    /// <summary>Largest batch one Vary call was given, and the class of the last Vary item.</summary>
    public int MaxVaryBatch, LastVaryClassId = int.MinValue;
    /// <summary>(batch, length) of every WarmUp call.</summary>
    public readonly System.Collections.Concurrent.ConcurrentQueue<(int Batch, int Length)> WarmUps = new();
    public bool Disposed { get; private set; }

    private int _inside, _maxConcurrentCalls;
    /// <summary>The most model calls seen running at the same time (a real ONNX session must never see more than one).</summary>
    public int MaxConcurrentCalls => Volatile.Read(ref _maxConcurrentCalls);

    private void Enter()
    {
        int inside = Interlocked.Increment(ref _inside);
        int seen;
        while (inside > (seen = Volatile.Read(ref _maxConcurrentCalls)) && Interlocked.CompareExchange(ref _maxConcurrentCalls, inside, seen) != seen) { }
        try { EnterCore(); }
        finally { Interlocked.Decrement(ref _inside); }
    }

    private void EnterCore()
    {
        int n = Interlocked.Increment(ref _calls);
        if (FailAfterCalls >= 0 && n > FailAfterCalls) throw new InvalidOperationException("fake model failure");
        Gate?.Wait(TimeSpan.FromSeconds(30));
        CallGate?.Enter();
        if (DelayMs > 0) Thread.Sleep(DelayMs);
    }

    public void Generate(ReadOnlySpan<DiffusionConditioning> conditioning, ReadOnlySpan<ulong> seeds, int length,
                         SamplingOptions options, Span<float> output)
    {
        LastOptions = options;
        Enter();
        Interlocked.Increment(ref GenerateCalls);
        foreach (var c in conditioning) Conditionings.Enqueue((true, c));
        for (int b = 0; b < seeds.Length; b++)
        {
            var dst = output.Slice(b * length, length);
            int cls = Math.Max(0, conditioning[b].ClassId);
            float decay = 0.02f + 0.03f * cls;          // seconds: each class has its own length
            float tone = 60f + 90f * cls;               // Hz
            var rng = new Random(unchecked((int)(seeds[b] ^ (seeds[b] >> 32))));
            for (int t = 0; t < length; t++)
            {
                float time = t / (float)_denoiser.SampleRateHz;
                float env = MathF.Exp(-time / decay);
                dst[t] = 0.5f * env * (0.6f * MathF.Sin(2 * MathF.PI * tone * time) + 0.4f * (float)(rng.NextDouble() * 2 - 1));
            }
        }
    }

    /// <summary>The options of the last Generate or Vary call.</summary>
    public SamplingOptions? LastOptions { get; private set; }

    public void Vary(ReadOnlySpan<float> sources, ReadOnlySpan<DiffusionConditioning> conditioning, ReadOnlySpan<ulong> seeds,
                     int length, float strength, SamplingOptions options, Span<float> output)
    {
        LastOptions = options;
        Enter();
        Interlocked.Increment(ref VaryCalls);
        foreach (var c in conditioning) Conditionings.Enqueue((false, c));
        if (seeds.Length > Volatile.Read(ref MaxVaryBatch)) Volatile.Write(ref MaxVaryBatch, seeds.Length);
        if (seeds.Length > 0) Volatile.Write(ref LastVaryClassId, conditioning[seeds.Length - 1].ClassId);
        for (int b = 0; b < seeds.Length; b++)
        {
            if (SmoothVariation)
            {
                // A rescaled source plus a copy of it 37 samples ahead (reflected at the end): as smooth as the source,
                // and not only a rescaled copy (the widener keeps just the part of x′ − x orthogonal to x).
                for (int t = 0; t < length; t++)
                {
                    int ahead = t + 37 < length ? t + 37 : 2 * (length - 1) - (t + 37);
                    output[b * length + t] = (1f + strength) * sources[b * length + t] + strength * sources[b * length + Math.Max(0, ahead)];
                }
                continue;
            }
            var rng = new Random(unchecked((int)(seeds[b] ^ (seeds[b] >> 32))));
            for (int t = 0; t < length; t++)
            {
                float src = sources[b * length + t];
                float noise = 0.5f * (float)(rng.NextDouble() * 2 - 1) * MathF.Max(MathF.Abs(src), 0.02f);
                output[b * length + t] = strength == 0f ? src : (1f - strength) * src + strength * (src + noise);
            }
        }
    }

    public void Inpaint(ReadOnlySpan<float> source, ReadOnlySpan<float> mask, DiffusionConditioning conditioning, ulong seed,
                        int length, SamplingOptions options, Span<float> output) => throw new NotSupportedException();

    public void ExtendBandwidth(ReadOnlySpan<float> source, float cutoffHz, DiffusionConditioning conditioning, ulong seed,
                                int length, SamplingOptions options, Span<float> output) => throw new NotSupportedException();

    public void Interpolate(DiffusionConditioning conditioning, ulong seedA, ulong seedB, ReadOnlySpan<float> positions,
                            int length, SamplingOptions options, Span<float> output) => throw new NotSupportedException();

    public void WarmUp(int batch, int length, SamplingOptions options) => WarmUps.Enqueue((batch, length));

    public void Dispose() => Disposed = true;

    private sealed class FakeDenoiser(int rate, int clip, int multiple, SamplingOptions? tuned, SpectralCalibration? calibration,
                                      TimbrePrior? timbrePrior) : IDenoiser
    {
        public SamplingOptions? TunedSampling => tuned;
        public TimbrePrior? TimbrePrior => timbrePrior;
        public SpectralCalibration? Calibration => calibration;
        public int SampleRateHz => rate;
        public int ClipSamples => clip;
        public int LengthMultiple => multiple;
        public IReadOnlyList<string> ClassNames => StandardClasses;
        public float SigmaMin => 0.002f;
        public float SigmaMax => 80f;
        public float SigmaData => 0.5f;
        public void Denoise(ReadOnlySpan<float> x, ReadOnlySpan<float> sigma, ReadOnlySpan<DiffusionConditioning> conditioning,
                            int batch, int length, Span<float> denoised) => x.CopyTo(denoised);
        public void Dispose() { }
    }
}
