using DiffusionPlugin.Engine.Diffusion;
using DiffusionPlugin.Engine.Realtime;

namespace DiffusionPlugin.Studio.Backend;

/// <summary>The real engine behind the studio: the same model loader and real-time engines the plugin runs.</summary>
public sealed class EngineBackend : IStudioBackend
{
    /// <summary>--model (a manifest or its folder), else $DIFFUSIONPLUGIN_MODEL, else the shipped model found upwards from the program.</summary>
    public string ResolveManifestPath(string? modelOption) => ModelLocator.ResolveOrThrow(modelOption);

    public LoadedModel LoadModel(string manifestPath, ExecutionOptions execution)
    {
        var denoiser = DiffusionModel.LoadDenoiser(manifestPath, execution);
        try
        {
            var m = denoiser.Manifest;
            var info = ManifestInfo.From(m);
            string provider = denoiser.ActiveDevice == ExecutionDevice.Cuda ? "CUDA" : "CPU";
            string reason = $"{denoiser.DeviceReason}; {denoiser.IntraOpThreads} intra-op thread(s)";
            return new LoadedModel(DiffusionModel.Over(denoiser, ownsDenoiser: true), m.ManifestPath, info, provider, reason);
        }
        catch
        {
            denoiser.Dispose();
            throw;
        }
    }

    /// <summary>The same drum engine the plugin runs; it loads the model itself (offline: inside Activate).</summary>
    public IDrumInstrument CreateDrums(EngineOptions options) => RealtimeEngines.CreateDrums(options);

    /// <summary>The same widener the plugin runs; it loads the model itself (offline: inside Activate).</summary>
    public IStereoWidener CreateWidener(EngineOptions options) => RealtimeEngines.CreateWidener(options);
}
