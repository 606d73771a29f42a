using DiffusionPlugin.Engine.Diffusion;
using DiffusionPlugin.Engine.Realtime;

namespace DiffusionPlugin.Studio.Backend;

/// <summary>
/// The studio's one seam onto the engine: how a model is found and loaded, and how the real-time engines are built.
/// <see cref="EngineBackend"/> is the real engine; tests may pass a double. Called from the CLI thread only.
/// </summary>
public interface IStudioBackend
{
    /// <summary>The manifest to use: <paramref name="modelOption"/> (a manifest.json or a folder holding one) or the shipped default.</summary>
    string ResolveManifestPath(string? modelOption);

    /// <summary>Loads a model for offline work. Throws <see cref="ModelLoadException"/> (one-line message) when it cannot.</summary>
    LoadedModel LoadModel(string manifestPath, ExecutionOptions execution);

    /// <summary>Builds the drum instrument the plugin runs (activated by the caller with offline = true).</summary>
    IDrumInstrument CreateDrums(EngineOptions options);

    /// <summary>Builds the stereo widener the plugin runs (activated by the caller with offline = true).</summary>
    IStereoWidener CreateWidener(EngineOptions options);
}

/// <summary>A loaded model and what the user should know about it. Disposing it disposes <see cref="Operations"/>.</summary>
public sealed class LoadedModel(IDiffusionOperations operations, string manifestPath, ManifestInfo manifest,
                                string executionProvider, string executionReason) : IDisposable
{
    public IDiffusionOperations Operations { get; } = operations;
    public IDenoiser Denoiser => Operations.Denoiser;
    public string ManifestPath { get; } = manifestPath;
    public ManifestInfo Manifest { get; } = manifest;
    /// <summary>"CPU", "CUDA", … as the engine reports it.</summary>
    public string ExecutionProvider { get; } = executionProvider;
    /// <summary>Why that provider runs (e.g. "CUDA provider not available: …").</summary>
    public string ExecutionReason { get; } = executionReason;
    public void Dispose() => Operations.Dispose();
}
