using Serilog;
using Serilog.Core;
using Serilog.Events;

namespace DiffusionPlugin.Engine.Logging;

/// <summary>
/// The one Serilog configuration shared by the plugin, the CLI and the engine: a rolling file in
/// <c>$XDG_STATE_HOME/DiffusionPlugin/logs</c> (default <c>~/.local/state/DiffusionPlugin/logs</c>).
/// Until <see cref="Configure"/> is called, <see cref="Logger"/> discards everything, so library code may log freely.
/// Thread rules: any non-audio thread. The audio thread never logs (file I/O and allocation).
/// </summary>
public static class EngineLog
{
    private static readonly object Gate = new();
    private static ILogger _logger = Serilog.Core.Logger.None;
    private static Logger? _owned;

    /// <summary>The engine-wide logger (a no-op logger until <see cref="Configure"/>). Any non-audio thread.</summary>
    public static ILogger Logger => Volatile.Read(ref _logger);

    /// <summary>The folder that <see cref="Configure"/> writes to when given none.</summary>
    public static string DefaultDirectory()
    {
        var state = Environment.GetEnvironmentVariable("XDG_STATE_HOME");
        if (string.IsNullOrWhiteSpace(state) || !Path.IsPathRooted(state))
        {
            var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
            if (string.IsNullOrEmpty(home)) home = Path.GetTempPath();
            state = Path.Combine(home, ".local", "state");
        }
        return Path.Combine(state, "DiffusionPlugin", "logs");
    }

    /// <summary>
    /// Starts (or restarts) file logging into <paramref name="directory"/> (null = <see cref="DefaultDirectory"/>):
    /// one file per day, kept 7 days, 10 MB per file, shared between processes (several plugin hosts and the CLI).
    /// Returns the folder used. Never throws: when the folder cannot be created, logging stays off.
    /// Not the audio thread.
    /// </summary>
    public static string Configure(string? directory = null, LogEventLevel minimumLevel = LogEventLevel.Information)
    {
        var dir = directory ?? DefaultDirectory();
        lock (Gate)
        {
            try
            {
                Directory.CreateDirectory(dir);
                var logger = new LoggerConfiguration()
                    .MinimumLevel.Is(minimumLevel)
                    .Enrich.WithProperty("ProcessId", Environment.ProcessId)
                    .WriteTo.File(Path.Combine(dir, "diffusionplugin-.log"),
                        rollingInterval: RollingInterval.Day,
                        retainedFileCountLimit: 7,
                        fileSizeLimitBytes: 10 * 1024 * 1024,
                        rollOnFileSizeLimit: true,
                        shared: true,
                        outputTemplate: "{Timestamp:yyyy-MM-dd HH:mm:ss.fff zzz} [{Level:u3}] ({ProcessId}) {SourceContext} {Message:lj}{NewLine}{Exception}")
                    .CreateLogger();
                var old = _owned;
                _owned = logger;
                Volatile.Write(ref _logger, logger);
                old?.Dispose();
            }
            catch (Exception)
            {
                // A read-only home or a full disk must not stop the plugin: it simply does not log.
            }
        }
        return dir;
    }

    /// <summary>Routes engine logging to a caller-built logger (tests, a host that already has Serilog). Not the audio thread.</summary>
    public static void Use(ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(logger);
        lock (Gate) Volatile.Write(ref _logger, logger);
    }

    /// <summary>A logger tagged with <paramref name="sourceContext"/> (e.g. "Diffusion"). Any non-audio thread.</summary>
    public static ILogger For(string sourceContext) => Logger.ForContext(Constants.SourceContextPropertyName, sourceContext);

    /// <summary>Flushes and closes the file (process or plugin-module exit). Not the audio thread.</summary>
    public static void CloseAndFlush()
    {
        lock (Gate)
        {
            var old = _owned;
            _owned = null;
            Volatile.Write(ref _logger, Serilog.Core.Logger.None);
            old?.Dispose();
        }
    }
}
