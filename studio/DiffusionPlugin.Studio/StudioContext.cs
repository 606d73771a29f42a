using DiffusionPlugin.Studio.Backend;
using Spectre.Console;

namespace DiffusionPlugin.Studio;

/// <summary>What every command runs with: where it writes, which engine it drives. One per run; the CLI thread.</summary>
public sealed class StudioContext
{
    public StudioContext(IStudioBackend backend, IAnsiConsole console, TextWriter error)
    {
        Backend = backend;
        Console = console;
        Error = error;
    }

    public IStudioBackend Backend { get; }
    /// <summary>Results and progress (stdout).</summary>
    public IAnsiConsole Console { get; }
    /// <summary>Error and warning lines (stderr): one line each.</summary>
    public TextWriter Error { get; }
    /// <summary>Live progress bars only on an interactive terminal; logs and tests get plain lines.</summary>
    public bool ShowProgress => Console.Profile.Capabilities.Interactive;

    /// <summary>The real engine, the process's terminal.</summary>
    public static StudioContext CreateDefault()
    {
        var console = AnsiConsole.Console;
        // Piped into a file or another program: no terminal width to respect, so keep each result on one line.
        if (System.Console.IsOutputRedirected) console.Profile.Width = 240;
        return new(new EngineBackend(), console, System.Console.Error);
    }

    /// <summary>
    /// Runs <paramref name="work"/> under a progress bar with elapsed time and ETA (when interactive);
    /// <paramref name="work"/> reports finished units through the callback it gets.
    /// </summary>
    public void WithProgress(string label, double totalUnits, Action<Action<double>> work)
    {
        if (!ShowProgress) { work(_ => { }); return; }
        Console.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(),
                     new ElapsedTimeColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask(Markup.Escape(label), maxValue: Math.Max(totalUnits, 1e-9));
                work(units => task.Increment(units));
                task.Value = task.MaxValue;
            });
    }

    /// <summary>Runs <paramref name="work"/> under a spinner (interactive only), for waits without a known length.</summary>
    public T WithStatus<T>(string label, Func<T> work)
    {
        if (!ShowProgress) return work();
        return Console.Status().Start(Markup.Escape(label), _ => work());
    }
}
