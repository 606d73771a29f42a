using DiffusionPlugin.Engine.Realtime;

namespace DiffusionPlugin.Vst3.Plugin;

/// <summary>
/// Makes the real-time engines the plugins drive (the engine's <see cref="RealtimeEngines"/>). Nothing is loaded
/// here: the engine loads its model on its worker at the first Activate and reports a missing or broken model
/// through <see cref="IRealtimeEngine.Status"/> while its fallback sound or DSP plays. Main thread.
/// </summary>
internal static class EngineFactory
{
    public static IDrumInstrument CreateDrums(EngineOptions options) => RealtimeEngines.CreateDrums(options);

    public static IStereoWidener CreateWidener(EngineOptions options) => RealtimeEngines.CreateWidener(options);
}
