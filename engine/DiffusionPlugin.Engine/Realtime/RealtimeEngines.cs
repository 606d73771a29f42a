using DiffusionPlugin.Engine.Diffusion;

namespace DiffusionPlugin.Engine.Realtime;

/// <summary>
/// Builds the real-time engines the VST3 shell and the CLI's offline renderer drive. Any non-audio thread.
/// Nothing is loaded here: the model is loaded on the engine's worker thread at the first Activate (offline: inside
/// Activate), so a host never waits on ONNX Runtime while scanning or instantiating the plugin.
/// </summary>
public static class RealtimeEngines
{
    /// <summary>
    /// A Diffusion Drums engine. <paramref name="loadOperations"/> (tests, the CLI with its own model) overrides how the
    /// diffusion core is loaded; null loads <see cref="EngineOptions.ManifestPath"/> (or the shipped default) with
    /// <see cref="EngineOptions.Execution"/>. A load that fails leaves the engine playing its fallback sound.
    /// </summary>
    public static DrumInstrument CreateDrums(EngineOptions options, Func<IDiffusionOperations>? loadOperations = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new DrumInstrument(loadOperations ?? (() => RealtimeSeams.LoadOperations(options)), ops => RealtimeSeams.ReadyStatus(ops, options));
    }

    /// <summary>A Diffusion Widener engine; <paramref name="loadOperations"/> as for <see cref="CreateDrums"/>.</summary>
    public static StereoWidener CreateWidener(EngineOptions options, Func<IDiffusionOperations>? loadOperations = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new StereoWidener(loadOperations ?? (() => RealtimeSeams.LoadOperations(options)), ops => RealtimeSeams.ReadyStatus(ops, options));
    }
}

/// <summary>
/// The few places where the real-time layer meets the diffusion core (DiffusionModel.Load, ModelLocator) and the
/// logging setup (EngineLog), in one file.
/// </summary>
internal static class RealtimeSeams
{
    /// <summary>
    /// Loads the diffusion core for <paramref name="options"/>: the given manifest, else the shipped default found by
    /// <see cref="ModelLocator"/>. Worker thread (or the offline Activate). Throws <see cref="ModelLoadException"/>.
    /// </summary>
    public static IDiffusionOperations LoadOperations(EngineOptions options)
        => DiffusionModel.Load(ModelLocator.ResolveOrThrow(options.ManifestPath), options.Execution);

    /// <summary>Which "ready" status a loaded model earns: where its denoiser actually runs. Worker thread.</summary>
    public static ModelStatus ReadyStatus(IDiffusionOperations operations, EngineOptions options)
        => operations.Denoiser.ActiveDevice == ExecutionDevice.Cuda ? ModelStatus.ReadyCuda : ModelStatus.ReadyCpu;

    /// <summary>The logger for a real-time component. Non-audio threads only.</summary>
    public static Serilog.ILogger Logger(string component) => DiffusionPlugin.Engine.Logging.EngineLog.For("Realtime." + component);
}
