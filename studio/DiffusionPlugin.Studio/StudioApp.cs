using DiffusionPlugin.Engine.Diffusion;
using DiffusionPlugin.Engine.Logging;
using DiffusionPlugin.Studio.Commands;
using Spectre.Console;
using Spectre.Console.Cli;

namespace DiffusionPlugin.Studio;

/// <summary>The diffusion-studio command line: builds the command tree and maps every failure to one line and an exit code.</summary>
public static class StudioApp
{
    public const string ApplicationName = "diffusion-studio";

    /// <summary>Runs the studio with <paramref name="args"/> in-process; returns the exit status. The CLI thread.</summary>
    public static int Run(string[] args, StudioContext context, CancellationToken cancellation = default)
    {
        var app = new CommandApp();
        app.Configure(config =>
        {
            config.SetApplicationName(ApplicationName);
            config.UseStrictParsing();
            config.ConfigureConsole(context.Console);
            config.Settings.Registrar.RegisterInstance(context);
            config.SetExceptionHandler((e, _) => ReportFailure(e, context.Error));

            config.AddCommand<GenerateCommand>("generate")
                .WithDescription("Fresh hits from noise: DIR/<class>/<class>-<seed>-<index>.wav")
                .WithExample("generate", "--class", "snare", "--count", "50", "--seed", "7", "--out", "pack");
            config.AddCommand<VaryCommand>("vary")
                .WithDescription("Variations of a sound (SDEdit): noise it to --strength, denoise it again")
                .WithExample("vary", "kick.wav", "--strength", "0.3", "--count", "8");
            config.AddCommand<TransferCommand>("transfer")
                .WithDescription("Sound-to-sound transfer: re-imagine a sound as another class")
                .WithExample("transfer", "kick.wav", "--to", "snare", "--strength", "0.6");
            config.AddCommand<InpaintCommand>("inpaint")
                .WithDescription("Regenerate a time span (seconds), keep the rest sample-exact")
                .WithExample("inpaint", "snare.wav", "--from", "0.20", "--to", "0.35");
            config.AddCommand<ExtendCommand>("extend")
                .WithDescription("Bandwidth extension: keep the band below --cutoff Hz, regenerate the band above")
                .WithExample("extend", "lofi.wav", "--cutoff", "4000");
            config.AddCommand<InterpolateCommand>("interpolate")
                .WithDescription("Hits between two seeds (slerp in noise space)")
                .WithExample("interpolate", "--class", "kick", "--seed-a", "1", "--seed-b", "2", "--count", "8");
            config.AddCommand<WidenCommand>("widen")
                .WithDescription("Widen a file through the Diffusion Widener (offline); the mono sum stays the input")
                .WithExample("widen", "in.wav", "out.wav", "--width", "1.0");
            config.AddCommand<RenderCommand>("render")
                .WithDescription("Render a MIDI groove through Diffusion Drums (offline, deterministic)")
                .WithExample("render", "groove.mid", "out.wav", "--kit-seed", "3", "--humanize", "0.3");
            config.AddCommand<InfoCommand>("info")
                .WithDescription("Model, manifest, execution provider and why, sample rate, classes");
        });
        try
        {
            return app.Run(args, cancellation);
        }
        catch (Exception e)
        {
            return ReportFailure(e, context.Error);
        }
    }

    /// <summary>One line on stderr for any failure, and the exit status that goes with it.</summary>
    internal static int ReportFailure(Exception e, TextWriter error)
    {
        var (code, message) = e switch
        {
            StudioException s => (s.ExitCode, s.Message),
            ModelLoadException m => (StudioExitCodes.ModelError, $"cannot load model: {m.Message}"),
            OperationCanceledException => (StudioExitCodes.Cancelled, "cancelled; no partial files were kept"),
            CommandAppException c => (StudioExitCodes.BadInput, c.Message),
            _ => (StudioExitCodes.InternalError, $"internal error: {e.GetType().Name}: {e.Message}"),
        };
        if (code == StudioExitCodes.InternalError) EngineLog.Logger.Error(e, "diffusion-studio failed");
        else EngineLog.Logger.Warning("diffusion-studio: {Message}", message);
        error.WriteLine($"{ApplicationName}: error: {OneLine(message)}");
        error.Flush();
        return code;
    }

    static string OneLine(string s) => string.Join(' ', s.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}
