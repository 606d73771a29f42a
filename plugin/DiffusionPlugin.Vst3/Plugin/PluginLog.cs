using DiffusionPlugin.Engine.Logging;
using Serilog;

namespace DiffusionPlugin.Vst3.Plugin;

/// <summary>
/// The plugin's log, through the engine's shared Serilog setup (<see cref="EngineLog"/>): a rolling file in
/// $XDG_STATE_HOME/DiffusionPlugin/logs (default ~/.local/state/...), or $DIFFUSION_PLUGIN_LOG_DIR when set.
/// Configured on first use. Never call from the audio thread.
/// </summary>
internal static class PluginLog
{
    private static readonly Lazy<ILogger> Logger = new(() =>
    {
        EngineLog.Configure(Directory);
        return EngineLog.For("Plugin");
    }, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The folder the log files go to.</summary>
    public static string Directory
    {
        get
        {
            var overridden = Environment.GetEnvironmentVariable("DIFFUSION_PLUGIN_LOG_DIR");
            return string.IsNullOrEmpty(overridden) ? EngineLog.DefaultDirectory() : overridden;
        }
    }

    public static void Info(string message) { try { Logger.Value.Information(message); } catch (Exception) { } }
    public static void Warn(string message) { try { Logger.Value.Warning(message); } catch (Exception) { } }
    public static void Error(Exception e, string message) { try { Logger.Value.Error(e, message); } catch (Exception) { } }

    /// <summary>Nothing is buffered (the file sink writes through); kept for ModuleExit's intent.</summary>
    public static void Flush() { }
}
