using DiffusionPlugin.Engine.Diffusion;
using DiffusionPlugin.Engine.Realtime;
using DiffusionPlugin.Studio.Backend;

namespace DiffusionPlugin.Studio.Tests;

/// <summary>A denoiser double with the shipped model's class list, at a small rate and clip so tests stay fast.</summary>
sealed class FakeDenoiser : IDenoiser
{
    public int SampleRateHz { get; init; } = 16000;
    public int ClipSamples { get; init; } = 2048;
    public int LengthMultiple { get; init; } = 256;
    public IReadOnlyList<string> ClassNames { get; init; } =
        ["kick", "snare", "rim", "clap", "tom", "hihat_closed", "hihat_open", "crash", "ride", "percussion", "general"];
    public float SigmaMin => 0.002f;
    public float SigmaMax => 80f;
    public float SigmaData => 0.5f;
    public SpectralCalibration? Calibration { get; init; }
    public void Denoise(ReadOnlySpan<float> x, ReadOnlySpan<float> sigma, ReadOnlySpan<DiffusionConditioning> conditioning,
                        int batch, int length, Span<float> denoised) => x.CopyTo(denoised);
    public void Dispose() { }
}

/// <summary>
/// An operations double whose outputs are simple, known functions of its inputs (noise from the seed, blends of the
/// source), and which records every call so tests can check what the CLI asked for.
/// </summary>
sealed class FakeOperations(FakeDenoiser denoiser) : IDiffusionOperations
{
    public IDenoiser Denoiser => denoiser;
    public List<string> Calls { get; } = [];
    public List<DiffusionConditioning> Conditionings { get; } = [];
    public List<ulong> Seeds { get; } = [];
    public List<SamplingOptions> Options { get; } = [];
    public List<int> Lengths { get; } = [];
    public float[]? LastMask { get; private set; }
    public float? LastCutoffHz { get; private set; }
    public float? LastStrength { get; private set; }
    public List<float> Positions { get; } = [];
    public int FailOnCall { get; set; } = -1;
    /// <summary>Called after every engine call (e.g. to cancel the run from "another thread").</summary>
    public Action<int>? AfterCall { get; set; }
    public bool Disposed { get; private set; }

    /// <summary>The audio every seed maps to: a decaying noise burst, different for every seed.</summary>
    public static float[] Noise(ulong seed, int length)
    {
        var rng = new Random(unchecked((int)(seed * 2654435761UL % int.MaxValue)));
        var x = new float[length];
        for (int i = 0; i < length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1) * MathF.Exp(-i / 400f) * 0.8f;
        return x;
    }

    void Record(string name, int length, SamplingOptions o)
    {
        if (Calls.Count == FailOnCall) throw new InvalidOperationException("fake engine failure");
        Calls.Add(name); Lengths.Add(length); Options.Add(o);
        AfterCall?.Invoke(Calls.Count);
    }

    public void Generate(ReadOnlySpan<DiffusionConditioning> conditioning, ReadOnlySpan<ulong> seeds, int length, SamplingOptions options, Span<float> output)
    {
        Record("generate", length, options);
        for (int b = 0; b < seeds.Length; b++)
        {
            Conditionings.Add(conditioning[b]); Seeds.Add(seeds[b]);
            var n = Noise(seeds[b], length);
            for (int i = 0; i < length; i++) output[b * length + i] = n[i] * conditioning[b].Velocity;
        }
    }

    public void Vary(ReadOnlySpan<float> sources, ReadOnlySpan<DiffusionConditioning> conditioning, ReadOnlySpan<ulong> seeds, int length, float strength, SamplingOptions options, Span<float> output)
    {
        Record("vary", length, options);
        LastStrength = strength;
        for (int b = 0; b < seeds.Length; b++)
        {
            Conditionings.Add(conditioning[b]); Seeds.Add(seeds[b]);
            var n = Noise(seeds[b], length);
            for (int i = 0; i < length; i++) output[b * length + i] = (1 - strength) * sources[b * length + i] + strength * n[i];
        }
    }

    public void Inpaint(ReadOnlySpan<float> source, ReadOnlySpan<float> mask, DiffusionConditioning conditioning, ulong seed, int length, SamplingOptions options, Span<float> output)
    {
        Record("inpaint", length, options);
        Conditionings.Add(conditioning); Seeds.Add(seed);
        LastMask = mask.ToArray();
        var n = Noise(seed, length);
        for (int i = 0; i < length; i++) output[i] = mask[i] > 0 ? n[i] : source[i];
    }

    public void ExtendBandwidth(ReadOnlySpan<float> source, float cutoffHz, DiffusionConditioning conditioning, ulong seed, int length, SamplingOptions options, Span<float> output)
    {
        Record("extend", length, options);
        Conditionings.Add(conditioning); Seeds.Add(seed);
        LastCutoffHz = cutoffHz;
        var n = Noise(seed, length);
        for (int i = 0; i < length; i++) output[i] = source[i] + 0.01f * n[i];
    }

    public void Interpolate(DiffusionConditioning conditioning, ulong seedA, ulong seedB, ReadOnlySpan<float> positions, int length, SamplingOptions options, Span<float> output)
    {
        Record("interpolate", length, options);
        Conditionings.Add(conditioning); Seeds.Add(seedA); Seeds.Add(seedB);
        var a = Noise(seedA, length); var b = Noise(seedB, length);
        for (int p = 0; p < positions.Length; p++)
        {
            Positions.Add(positions[p]);
            for (int i = 0; i < length; i++) output[p * length + i] = (1 - positions[p]) * a[i] + positions[p] * b[i];
        }
    }

    public void Dispose() => Disposed = true;
}

/// <summary>
/// A widener double with the engine's contract: output late by <see cref="LatencySamples"/>,
/// L = x + w·s, R = x − w·s with s a scaled copy of the other channel's past, so the mono sum is the (delayed) input.
/// </summary>
sealed class FakeWidener : IStereoWidener
{
    public void SetRenderingOffline(bool offline) { } // the studio activates engines offline: nothing to switch
    readonly Queue<(float l, float r)> delay = new();
    public int Latency { get; init; } = 100;
    public ModelStatus StatusAfterActivate { get; init; } = ModelStatus.ReadyCpu;
    public double ActivatedRateHz { get; private set; }
    public bool ActivatedOffline { get; private set; }
    public ModelStatus Status { get; private set; } = ModelStatus.Loading;
    public string StatusMessage => Status == ModelStatus.Fallback ? "models/x/manifest.json: manifest not found" : "ok";
    public int LatencySamples => Latency;
    public float Width { get; set; } = 1f;
    public float VariationStrength { get; set; } = 0.2f;
    public float Mix { get; set; } = 1f;
    public bool Bypass { get; set; }
    public long FallbackWindows => 0;
    float prev;

    public void Activate(double sampleRateHz, int maxBlockFrames, bool offline)
    {
        ActivatedRateHz = sampleRateHz; ActivatedOffline = offline;
        delay.Clear();
        for (int i = 0; i < Latency; i++) delay.Enqueue((0, 0));
        Status = StatusAfterActivate;
    }
    public void Deactivate() { }
    public void Process(ReadOnlySpan<float> inLeft, ReadOnlySpan<float> inRight, Span<float> outLeft, Span<float> outRight, int frames)
    {
        for (int i = 0; i < frames; i++)
        {
            delay.Enqueue((inLeft[i], inRight[i]));
            var (l, r) = delay.Dequeue();
            float mid = (l + r) / 2, side = (l - r) / 2 + 0.5f * prev;
            prev = mid;
            outLeft[i] = mid + Width * side;
            outRight[i] = mid - Width * side;
        }
    }
    public void Dispose() { }
}

/// <summary>
/// A drum double: each note-on becomes a one-sample impulse of height velocity at its exact frame (plus latency),
/// left = the note number / 128 scaled, so tests can find every hit.
/// </summary>
sealed class FakeDrums : IDrumInstrument
{
    public void SetRenderingOffline(bool offline) { } // the studio activates engines offline: nothing to switch
    readonly List<(long frame, int note, float velocity)> pending = [];
    long position;
    public int Latency { get; init; } = 64;
    public ModelStatus StatusAfterActivate { get; init; } = ModelStatus.ReadyCpu;
    public double ActivatedRateHz { get; private set; }
    public bool ActivatedOffline { get; private set; }
    public List<(long frame, int note, float velocity)> Played { get; } = [];
    public ModelStatus Status { get; private set; } = ModelStatus.Loading;
    public string StatusMessage => Status == ModelStatus.Fallback ? "model.onnx: corrupt" : "ok";
    public int LatencySamples => Latency;
    public ulong KitSeed { get; set; }
    public float Humanize { get; set; }
    public int Steps { get; set; } = 8;
    public float Guidance { get; set; } = 1.5f;
    public float OutputGainDb { get; set; }
    public long FreshHits => Played.Count;
    public long ReusedHits => 0;
    public void SetClassLevel(int classIndex, float level) { }
    public float GetClassLevel(int classIndex) => 1f;

    public void Activate(double sampleRateHz, int maxBlockFrames, bool offline)
    {
        ActivatedRateHz = sampleRateHz; ActivatedOffline = offline; position = 0; Status = StatusAfterActivate;
    }
    public void Deactivate() { }
    public void NoteOn(int sampleOffset, int note, float velocity01) => pending.Add((position + sampleOffset, note, velocity01));
    public void NoteOff(int sampleOffset, int note) { }
    public void Process(Span<float> left, Span<float> right, int frames)
    {
        left[..frames].Clear(); right[..frames].Clear();
        foreach (var (frame, note, velocity) in pending)
        {
            Played.Add((frame, note, velocity));
            long at = frame + Latency - position;
            if (at >= 0 && at < frames) { left[(int)at] = velocity; right[(int)at] = note / 128f; }
            else late.Add((frame, note, velocity));
        }
        pending.Clear();
        foreach (var l in late.ToArray())
        {
            long at = l.frame + Latency - position;
            if (at >= 0 && at < frames) { left[(int)at] = l.velocity; right[(int)at] = l.note / 128f; late.Remove(l); }
        }
        position += frames;
    }
    readonly List<(long frame, int note, float velocity)> late = [];
    public void Dispose() { }
}

/// <summary>A backend of doubles; records what the CLI asked for.</summary>
sealed class FakeBackend : IStudioBackend
{
    public FakeDenoiser Denoiser { get; init; } = new();
    public FakeOperations? Operations { get; private set; }
    public int FailOnCall { get; init; } = -1;
    public Action<int>? AfterCall { get; init; }
    public bool MissingModel { get; init; }
    public FakeWidener Widener { get; init; } = new();
    public FakeDrums Drums { get; init; } = new();
    public ExecutionOptions? LastExecution { get; private set; }
    public string? LastManifest { get; private set; }
    public int Loads { get; private set; }
    public required string ManifestPath { get; init; }

    public string ResolveManifestPath(string? modelOption) => modelOption ?? ManifestPath;

    public LoadedModel LoadModel(string manifestPath, ExecutionOptions execution)
    {
        Loads++;
        LastExecution = execution; LastManifest = manifestPath;
        if (MissingModel) throw new ModelLoadException(manifestPath, "manifest not found");
        Operations = new FakeOperations(Denoiser) { FailOnCall = FailOnCall, AfterCall = AfterCall };
        var manifest = ManifestInfo.Read(manifestPath);
        return new LoadedModel(Operations, manifestPath, manifest, "CPU", "CUDA was not asked for (--device cpu)");
    }

    public IDrumInstrument CreateDrums(EngineOptions options) { LastManifest = options.ManifestPath; LastExecution = options.Execution; return Drums; }
    public IStereoWidener CreateWidener(EngineOptions options) { LastManifest = options.ManifestPath; LastExecution = options.Execution; return Widener; }
}
