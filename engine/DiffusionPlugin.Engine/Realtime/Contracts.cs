namespace DiffusionPlugin.Engine.Realtime;

/// <summary>Where the engine's model stands, for a host to show. Written by the worker, read by anyone (atomic int).</summary>
public enum ModelStatus
{
    /// <summary>Not activated yet, or loading.</summary>
    Loading = 0,
    /// <summary>Diffusion model loaded and running on the CPU.</summary>
    ReadyCpu = 1,
    /// <summary>Diffusion model loaded and running on CUDA.</summary>
    ReadyCuda = 2,
    /// <summary>No usable model (missing, corrupt, failed): fallback sound / DSP decorrelator in use.</summary>
    Fallback = 3,
}

/// <summary>
/// The engine side of a real-time plugin: what a VST3 (or any) host shell drives.
/// Thread rules: <see cref="Activate"/>, <see cref="Deactivate"/>, <see cref="IDisposable.Dispose"/> and parameter setters from a
/// non-audio thread (or the audio thread for parameter setters: they only store atomics);
/// <c>Process</c> only from the audio thread, never concurrently with itself.
/// </summary>
public interface IRealtimeEngine : IDisposable
{
    /// <summary>Size every buffer and start the generation worker. Not the audio thread. May be called again after Deactivate.</summary>
    void Activate(double sampleRateHz, int maxBlockFrames, bool offline);

    /// <summary>Stop and join the worker, cancel pending work. Not the audio thread.</summary>
    void Deactivate();

    /// <summary>Current model status (any thread).</summary>
    ModelStatus Status { get; }

    /// <summary>A one-line human reason for <see cref="Status"/> (any non-audio thread).</summary>
    string StatusMessage { get; }

    /// <summary>Latency the host must compensate, in samples at the activated rate (any thread).</summary>
    int LatencySamples { get; }

    /// <summary>
    /// Audio thread, before each Process: whether the host renders this block offline although it activated the
    /// engine for real time (it freewheels: VST3 passes processMode kOffline per block, as Ardour's export does).
    /// While true, the engine pauses its worker and generates what the block needs synchronously on this thread,
    /// so a render faster than real time still gets a fresh diffusion hit or window everywhere; back to false, the
    /// worker resumes (lock-free). Switching to offline may wait (at most a few seconds, for a model still loading):
    /// allowed only because an offline block has no deadline. No effect on an engine activated offline.
    /// </summary>
    void SetRenderingOffline(bool offline);
}

/// <summary>Diffusion Drums: MIDI notes in, stereo out.</summary>
public interface IDrumInstrument : IRealtimeEngine
{
    /// <summary>Queue a note-on at <paramref name="sampleOffset"/> within the next Process block. Audio thread.</summary>
    void NoteOn(int sampleOffset, int note, float velocity01);
    /// <summary>Queue a note-off (drums mostly ignore it, chokes may use it). Audio thread.</summary>
    void NoteOff(int sampleOffset, int note);
    /// <summary>Render <paramref name="frames"/> frames into left/right (overwriting them). Audio thread; never blocks, allocates, locks or logs.</summary>
    void Process(Span<float> left, Span<float> right, int frames);

    /// <summary>Seed of the kit's anchor sounds; changing it regenerates anchors on the worker.</summary>
    ulong KitSeed { get; set; }
    /// <summary>0 = the anchor every time, 1 = a fresh draw from noise.</summary>
    float Humanize { get; set; }
    /// <summary>Sampler steps (quality).</summary>
    int Steps { get; set; }
    /// <summary>Classifier-free guidance scale.</summary>
    float Guidance { get; set; }
    /// <summary>Output gain in dB.</summary>
    float OutputGainDb { get; set; }
    /// <summary>Level per drum class (index into the model's class names), linear 0..2.</summary>
    void SetClassLevel(int classIndex, float level);
    float GetClassLevel(int classIndex);

    /// <summary>Hits played from a fresh variation, and hits that had to reuse an earlier one (any thread).</summary>
    long FreshHits { get; }
    long ReusedHits { get; }
}

/// <summary>Diffusion Widener: mono or stereo in, stereo out; the mono sum stays the input.</summary>
public interface IStereoWidener : IRealtimeEngine
{
    /// <summary>
    /// Widen one block. <paramref name="inRight"/> may equal <paramref name="inLeft"/> (mono). Outputs may alias inputs.
    /// Audio thread; never blocks, allocates, locks or logs.
    /// </summary>
    void Process(ReadOnlySpan<float> inLeft, ReadOnlySpan<float> inRight, Span<float> outLeft, Span<float> outRight, int frames);

    /// <summary>Width w: L = x + w·s, R = x − w·s. 0..2.</summary>
    float Width { get; set; }
    /// <summary>Diffusion variation strength of the generated copy, 0..1.</summary>
    float VariationStrength { get; set; }
    /// <summary>Dry/wet mix 0..1.</summary>
    float Mix { get; set; }
    /// <summary>Bypass: output the (latency-aligned) input.</summary>
    bool Bypass { get; set; }

    /// <summary>Windows whose side signal came from the DSP decorrelator because the worker was late (any thread).</summary>
    long FallbackWindows { get; }
}

/// <summary>What a real-time engine is built from. Immutable.</summary>
public sealed record EngineOptions
{
    /// <summary>Path of the model manifest (manifest.json); null = the shipped default (see ModelLocator).</summary>
    public string? ManifestPath { get; init; }
    public DiffusionPlugin.Engine.Diffusion.ExecutionOptions Execution { get; init; } = new();
}
