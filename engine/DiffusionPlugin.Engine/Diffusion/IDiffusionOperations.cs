namespace DiffusionPlugin.Engine.Diffusion;

/// <summary>How to run reverse diffusion: which sampler, how many steps, which schedule, how much guidance.</summary>
public sealed record SamplingOptions
{
    /// <summary>One of "euler", "heun", "ddim", "dpmpp_2m".</summary>
    public string Sampler { get; init; } = "dpmpp_2m";
    /// <summary>Number of denoiser evaluations' steps (Heun uses about two calls a step).</summary>
    public int Steps { get; init; } = 8;
    /// <summary>One of "karras", "vp" (cosine).</summary>
    public string Schedule { get; init; } = "karras";
    /// <summary>Classifier-free guidance scale; 1 = conditional only (one denoiser call per step).</summary>
    public float Guidance { get; init; } = 1f;
    /// <summary>
    /// Guidance acts only at noise levels σ ≤ this; above it a step runs the conditional model alone (one call of
    /// batch B instead of 2B). Kynkäänniemi et al. 2024, "Applying Guidance in a Limited Interval Improves Sample and
    /// Distribution Quality in Diffusion Models": guidance at high σ mostly narrows the variety. +∞ = every step.
    /// </summary>
    public float GuidanceMaxSigma { get; init; } = float.PositiveInfinity;
    /// <summary>DDIM η (0 = deterministic).</summary>
    public float Eta { get; init; } = 0f;
}

/// <summary>
/// Every use of audio diffusion over one denoiser, as the plugin's worker and the CLI need them.
/// Audio is mono at the denoiser's sample rate, batch-major ([b * length + t]).
/// Deterministic: the same model, inputs, seeds and options give the same output.
/// Not thread-safe: one thread owns an instance (the generation worker, or a CLI thread). Never call from the audio thread.
/// </summary>
public interface IDiffusionOperations : IDisposable
{
    /// <summary>The denoiser every operation runs.</summary>
    IDenoiser Denoiser { get; }

    /// <summary>
    /// Fresh hits from noise: one per conditioning/seed pair, each <paramref name="length"/> samples. With a model that
    /// takes timbre descriptors, an item without a <see cref="DiffusionConditioning.Timbre"/> gets one drawn from its
    /// class's <see cref="TimbrePrior"/> with its seed.
    /// </summary>
    void Generate(ReadOnlySpan<DiffusionConditioning> conditioning, ReadOnlySpan<ulong> seeds, int length,
                  SamplingOptions options, Span<float> output);

    /// <summary>
    /// SDEdit variation: noise each source to strength s ∈ [0,1] of the schedule, then denoise.
    /// s = 0 returns the source unchanged; s = 1 is a fresh draw. Transfer is a variation with another class in conditioning.
    /// </summary>
    void Vary(ReadOnlySpan<float> sources, ReadOnlySpan<DiffusionConditioning> conditioning, ReadOnlySpan<ulong> seeds,
              int length, float strength, SamplingOptions options, Span<float> output);

    /// <summary>Regenerate samples where mask = 1 (time span), keep samples where mask = 0 bit-exact, crossfade the borders.</summary>
    void Inpaint(ReadOnlySpan<float> source, ReadOnlySpan<float> mask, DiffusionConditioning conditioning, ulong seed,
                 int length, SamplingOptions options, Span<float> output);

    /// <summary>Keep the band below <paramref name="cutoffHz"/>, regenerate the band above it.</summary>
    void ExtendBandwidth(ReadOnlySpan<float> source, float cutoffHz, DiffusionConditioning conditioning, ulong seed,
                         int length, SamplingOptions options, Span<float> output);

    /// <summary>Hits between two seeds: slerp in noise space at each t ∈ <paramref name="positions"/> (0 = seed A, 1 = seed B).</summary>
    void Interpolate(DiffusionConditioning conditioning, ulong seedA, ulong seedB, ReadOnlySpan<float> positions,
                     int length, SamplingOptions options, Span<float> output);

    /// <summary>
    /// Sizes every buffer (and binds the model's inputs/outputs) for batches of <paramref name="batch"/> hits of
    /// <paramref name="length"/> samples under <paramref name="options"/>, so later calls of that shape allocate nothing.
    /// Call on the worker when a plugin activates. Default: nothing to prepare.
    /// </summary>
    void WarmUp(int batch, int length, SamplingOptions options) { }
}
