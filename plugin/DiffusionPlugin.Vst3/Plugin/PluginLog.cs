using Serilog;
using Serilog.Core;

namespace DiffusionPlugin.Vst3.Plugin;

/// <summary>
/// The plugin's log: a rolling Serilog file in the user's XDG state folder
/// ($XDG_STATE_HOME or ~/.local/state, then DiffusionPlugin/logs), or $DIFFUSION_PLUGIN_LOG_DIR when set.
/// Never call from the audio thread. A small seam until the engine's shared logging (EngineLog) is in main.
/// </summary>
internal static class PluginLog
{
    private static readonly Lazy<Logger?> Logger = new(Create, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The folder the log files go to.</summary>
    public static string Directory
    {
        get
        {
            var overridden = Environment.GetEnvironmentVariable("DIFFUSION_PLUGIN_LOG_DIR");
            if (!string.IsNullOrEmpty(overridden)) return overridden;
            var state = Environment.GetEnvironmentVariable("XDG_STATE_HOME");
            if (string.IsNullOrEmpty(state))
                state = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "state");
            return Path.Combine(state, "DiffusionPlugin", "logs");
        }
    }

    private static Logger? Create()
    {
        try
        {
            var dir = Directory;
            System.IO.Directory.CreateDirectory(dir);
            return new LoggerConfiguration()
                .MinimumLevel.Information()
                .WriteTo.File(Path.Combine(dir, "plugin-.log"), rollingInterval: RollingInterval.Day,
                              retainedFileCountLimit: 7, shared: true,
                              outputTemplate: "{Timestamp:yyyy-MM-dd HH:mm:ss.fff} [{Level:u3}] {Message:lj}{NewLine}{Exception}")
                .CreateLogger();
        }
        catch (Exception)
        {
            return null; // an unwritable home must not stop the plugin
        }
    }

    public static void Info(string message) { try { Logger.Value?.Information(message); } catch (Exception) { } }
    public static void Warn(string message) { try { Logger.Value?.Warning(message); } catch (Exception) { } }
    public static void Error(Exception e, string message) { try { Logger.Value?.Error(e, message); } catch (Exception) { } }
    public static void Flush() { /* the file sink writes through; nothing is buffered */ }
}
