namespace DiffusionPlugin.Engine.Diffusion;

/// <summary>
/// What a denoiser is told besides the noisy audio: which class of sound, how hard it was played and, for a model
/// trained with them, what it should sound like (<see cref="Timbre"/>; null = not said, the model chooses).
/// <see cref="ClassId"/> = <see cref="Unconditional"/> asks for the unconditional branch (classifier-free guidance),
/// which never sees a timbre (as in training, where the descriptors were dropped with the class).
/// </summary>
public readonly record struct DiffusionConditioning(int ClassId, float Velocity, TimbreDescriptors? Timbre = null)
{
    /// <summary>The class id that means "no class" (the CFG null token).</summary>
    public const int Unconditional = -1;
}

/// <summary>
/// A hit's timbre as a model with timbre conditioning takes it (onnx-export <c>dataset.descriptors</c>): brightness
/// (octaves of the spectral centroid above 1 kHz, / 2), noisiness (log spectral flatness / 4 + 1) and decay (octaves of
/// the time within 30 dB of the peak, above 0.1 s, / 2). Each class's usual values come with the model
/// (<see cref="TimbrePrior"/>).
/// </summary>
public readonly record struct TimbreDescriptors(float Brightness, float Noisiness, float Decay);

/// <summary>
/// A denoiser D(x, σ, c) in the EDM / k-diffusion sense: given audio x = x0 + σ·n it returns an estimate of x0.
/// Audio is mono, laid out batch-major: element [b * length + t].
/// Implementations are not thread-safe: one thread (the generation worker, or a CLI thread) owns an instance.
/// </summary>
public interface IDenoiser : IDisposable
{
    /// <summary>Sample rate the model works at, in Hz.</summary>
    int SampleRateHz { get; }

    /// <summary>The clip length the model was trained on, in samples.</summary>
    int ClipSamples { get; }

    /// <summary>Lengths passed to <see cref="Denoise"/> must be multiples of this (1 = any).</summary>
    int LengthMultiple { get; }

    /// <summary>Class names; a <see cref="DiffusionConditioning.ClassId"/> indexes this list.</summary>
    IReadOnlyList<string> ClassNames { get; }

    /// <summary>Largest and smallest noise level the model was trained for, and σ_data.</summary>
    float SigmaMin { get; }
    float SigmaMax { get; }
    float SigmaData { get; }

    /// <summary>
    /// Writes D(x, σ_b, c_b) into <paramref name="denoised"/>. x and denoised hold batch × length samples;
    /// sigma and conditioning hold one entry per batch item. Allocates nothing after the first call with a given shape.
    /// </summary>
    void Denoise(ReadOnlySpan<float> x, ReadOnlySpan<float> sigma, ReadOnlySpan<DiffusionConditioning> conditioning,
                 int batch, int length, Span<float> denoised);

    /// <summary>Where the denoiser actually runs (<see cref="ExecutionDevice.Cpu"/> or <see cref="ExecutionDevice.Cuda"/>). Any thread.</summary>
    ExecutionDevice ActiveDevice => ExecutionDevice.Cpu;

    /// <summary>The sampling the model was tuned for (its manifest's defaults); null when it has none. Any thread.</summary>
    SamplingOptions? TunedSampling => null;

    /// <summary>The model's spectral calibration for finished drum hits (its manifest's <c>calibration</c>); null when it has none. Any thread.</summary>
    SpectralCalibration? Calibration => null;

    /// <summary>Each class's timbres, for a model conditioned on them (its manifest's <c>descriptorPrior</c>); null otherwise. Any thread.</summary>
    TimbrePrior? TimbrePrior => null;
}

/// <summary>Which ONNX Runtime execution provider to ask for.</summary>
public enum ExecutionDevice
{
    /// <summary>CUDA when its provider loads, CPU otherwise (the reason is logged once).</summary>
    Auto = 0,
    Cpu = 1,
    Cuda = 2,
}

/// <summary>How a model is run. Immutable; any thread.</summary>
public sealed record ExecutionOptions
{
    public ExecutionDevice Device { get; init; } = ExecutionDevice.Auto;
    /// <summary>Intra-op threads; 0 = all cores but one (leave one to the host), at least 1.</summary>
    public int IntraOpThreads { get; init; } = 0;
}

/// <summary>
/// A model could not be loaded: missing file, corrupt ONNX, manifest that does not match the graph, unknown format version.
/// <see cref="Exception.Message"/> is one line naming the file and the problem.
/// </summary>
public sealed class ModelLoadException : Exception
{
    public string FilePath { get; }
    public ModelLoadException(string filePath, string problem, Exception? inner = null)
        : base($"{filePath}: {problem}", inner) => FilePath = filePath;
}
