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
/// The few places where the real-time layer meets the diffusion core and the logging setup. Kept in one file so wiring
/// the concrete core (DiffusionModel.Load, ModelLocator, EngineLog) is a change of a few lines here.
/// </summary>
internal static class RealtimeSeams
{
    /// <summary>Loads the diffusion core for <paramref name="options"/>. Worker thread. Throws ModelLoadException.</summary>
    public static IDiffusionOperations LoadOperations(EngineOptions options)
    {
        // SEAM(core): replace with
        //   DiffusionModel.Load(options.ManifestPath ?? ModelLocator.DefaultManifestPath(), options.Execution)
        // once the diffusion core is merged.
        string path = options.ManifestPath ?? "models/drums/manifest.json";
        throw new ModelLoadException(path, "the diffusion core is not linked into this build");
    }

    /// <summary>Which "ready" status a loaded model earns. Worker thread.</summary>
    public static ModelStatus ReadyStatus(IDiffusionOperations operations, EngineOptions options)
        => options.Execution.Device == ExecutionDevice.Cuda ? ModelStatus.ReadyCuda : ModelStatus.ReadyCpu;

    /// <summary>The logger for a real-time component. Non-audio threads only.</summary>
    public static Serilog.ILogger Logger(string component)
        => Serilog.Log.Logger.ForContext(Serilog.Core.Constants.SourceContextPropertyName, "Realtime." + component);
}
