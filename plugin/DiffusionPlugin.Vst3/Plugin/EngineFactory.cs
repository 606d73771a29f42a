using DiffusionPlugin.Engine.Realtime;
using DiffusionPlugin.Vst3.Plugin.Fallback;

namespace DiffusionPlugin.Vst3.Plugin;

/// <summary>
/// Makes the real-time engines the plugins drive. Until the engine's RealtimeEngines factory is in main this
/// builds the plugin's own fallback engines (synthesized kit, all-pass decorrelator), which report
/// <see cref="ModelStatus.Fallback"/> with the reason.
/// </summary>
internal static class EngineFactory
{
    public static IDrumInstrument CreateDrums(EngineOptions options)
        => new FallbackDrums(FallbackReason(options));

    public static IStereoWidener CreateWidener(EngineOptions options)
        => new FallbackWidener(FallbackReason(options));

    private static string FallbackReason(EngineOptions options)
    {
        if (options.ManifestPath != null && !File.Exists(options.ManifestPath))
            return $"model not found at {options.ManifestPath}; using the fallback";
        return "diffusion engine not built into this plugin; using the fallback";
    }
}
