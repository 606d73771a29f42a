using DiffusionPlugin.Engine.Diffusion;
using DiffusionPlugin.Engine.Realtime;

namespace DiffusionPlugin.Studio.Backend;

/// <summary>The real engine behind the studio: the same model loader and real-time engines the plugin runs.</summary>
public sealed class EngineBackend : IStudioBackend
{
    static string DefaultManifestRelativePath => ModelLocator.RelativeDefaultManifest;

    /// <summary>--model (a manifest or its folder), else $DIFFUSIONPLUGIN_MODEL, else the shipped model found upwards from the program.</summary>
    public string ResolveManifestPath(string? modelOption) => ModelLocator.ResolveOrThrow(modelOption);

    public LoadedModel LoadModel(string manifestPath, ExecutionOptions execution)
    {
        var denoiser = DiffusionModel.LoadDenoiser(manifestPath, execution);
        try
        {
            var m = denoiser.Manifest;
            var info = new ManifestInfo
            {
                Name = m.Name,
                ModelFile = m.Model,
                SampleRateHz = m.SampleRateHz,
                Classes = m.Classes,
                Parameterization = m.Parameterization,
                Defaults = m.Defaults.ToSamplingOptions(),
                TrainingData = m.Training is { ValueKind: System.Text.Json.JsonValueKind.Object } t
                               && t.TryGetProperty("data", out var d) && d.ValueKind == System.Text.Json.JsonValueKind.String ? d.GetString() : null,
                IsAnalytic = m.Analytic is not null,
            };
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

    public IDrumInstrument CreateDrums(EngineOptions options) => (IDrumInstrument)CreateRealtime("CreateDrums", options);

    public IStereoWidener CreateWidener(EngineOptions options) => (IStereoWidener)CreateRealtime("CreateWidener", options);

    /// <summary>
    /// Interim: the real-time engines (RealtimeEngines.CreateDrums/CreateWidener) are being merged in parallel; until
    /// they are in this build they are found by name, and their absence is a one-line model error.
    /// </summary>
    static object CreateRealtime(string factory, EngineOptions options)
    {
        var type = typeof(IRealtimeEngine).Assembly.GetType("DiffusionPlugin.Engine.Realtime.RealtimeEngines");
        var method = type?.GetMethod(factory, [typeof(EngineOptions), typeof(Func<IDiffusionOperations>)]);
        if (method is null)
            throw new ModelLoadException(options.ManifestPath ?? DefaultManifestRelativePath, $"this build has no real-time engine (RealtimeEngines.{factory} missing)");
        try { return method.Invoke(null, [options, null])!; }
        catch (System.Reflection.TargetInvocationException e) when (e.InnerException is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e.InnerException);
            throw;
        }
    }

    /// <summary>Whether this build has the real-time engines (render, widen).</summary>
    public static bool HasRealtimeEngines =>
        typeof(IRealtimeEngine).Assembly.GetType("DiffusionPlugin.Engine.Realtime.RealtimeEngines") is not null;
}
