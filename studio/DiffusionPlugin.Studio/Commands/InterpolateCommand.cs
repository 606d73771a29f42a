using System.ComponentModel;
using System.Diagnostics;
using DiffusionPlugin.Engine.Diffusion;
using DiffusionPlugin.Engine.Realtime;
using DiffusionPlugin.Studio.Output;
using Spectre.Console;
using Spectre.Console.Cli;

namespace DiffusionPlugin.Studio.Commands;

public sealed class InterpolateSettings : OutputSettings
{
    [CommandOption("--class <NAME>")]
    [Description("Drum class")]
    public string? Class { get; init; }

    [CommandOption(MaxPeakOption.Template)]
    [Description(MaxPeakOption.Description)]
    [DefaultValue(OneShotTail.MaxPeak)]
    public float MaxPeak { get; init; } = OneShotTail.MaxPeak;

    [CommandOption(CalibrationOption.Template)]
    [Description(CalibrationOption.Description)]
    public bool NoCalibration { get; init; }

    [CommandOption("--seed-a <N>")]
    [Description("Seed at position 0")]
    public ulong? SeedA { get; init; }

    [CommandOption("--seed-b <N>")]
    [Description("Seed at position 1")]
    public ulong? SeedB { get; init; }

    [CommandOption("--count <N>")]
    [Description("Hits from A to B inclusive (positions i / (count − 1))")]
    [DefaultValue(8)]
    public int Count { get; init; } = 8;

    [CommandOption("--velocity <1-127>")]
    [Description("How hard the hits are played (MIDI velocity)")]
    [DefaultValue(100)]
    public int Velocity { get; init; } = 100;

    [CommandOption("--steps <N>")]
    [Description("Sampler steps (default: the model's)")]
    public int? Steps { get; init; }

    [CommandOption("--sampler <NAME>")]
    [Description("euler | heun | ddim | dpmpp_2m (default: the model's)")]
    public string? Sampler { get; init; }

    [CommandOption("--schedule <NAME>")]
    [Description("karras | vp (default: the model's)")]
    public string? Schedule { get; init; }

    [CommandOption("--guidance <G>")]
    [Description("Classifier-free guidance scale (default: the model's)")]
    public float? Guidance { get; init; }

    [CommandOption("--out <DIR>")]
    [Description("Output folder; files go to DIR/<class>/")]
    [DefaultValue(".")]
    public string Out { get; init; } = ".";

    internal SamplingSettings Sampling => new()
    {
        Steps = Steps, Sampler = Sampler, Schedule = Schedule, Guidance = Guidance, Velocity = Velocity,
    };

    public override ValidationResult Validate()
    {
        var b = base.Validate();
        if (!b.Successful) return b;
        if (string.IsNullOrWhiteSpace(Class)) return ValidationResult.Error("--class: missing");
        if (MaxPeakOption.Check(MaxPeak) is { } peakError) return peakError;
        if (SeedA is null) return ValidationResult.Error("--seed-a: missing");
        if (SeedB is null) return ValidationResult.Error("--seed-b: missing");
        if (Count is < 2 or > 10000) return ValidationResult.Error($"--count: {Count} is outside 2..10000 (the ends are seed A and seed B)");
        return Sampling.Validate();
    }
}

/// <summary>interpolate: hits on the great circle between two seeds' noises; files &lt;class&gt;-&lt;a&gt;-&lt;b&gt;-interp-&lt;i&gt;.wav.</summary>
public sealed class InterpolateCommand(StudioContext context) : StudioCommand<InterpolateSettings>(context)
{
    protected override int Run(InterpolateSettings s, CancellationToken cancellation)
    {
        using var model = LoadModel(s);
        var den = model.Denoiser;
        int cls = ResolveClass(den, s.Class!, "--class");
        string name = den.ClassNames[cls];
        ulong a = s.SeedA!.Value, b = s.SeedB!.Value;
        var options = s.Sampling.ResolveSampling(model.Manifest.Defaults);
        int length = den.ClipSamples;
        var calibration = CalibrationOption.For(den, s.NoCalibration);

        var outputs = new OutputFiles(s.Force);
        var paths = Enumerable.Range(0, s.Count)
            .Select(i => outputs.Plan(Path.Combine(s.Out, name, $"{name}-{a}-{b}-interp-{i}.wav"))).ToArray();
        var positions = Enumerable.Range(0, s.Count).Select(i => (float)i / (s.Count - 1)).ToArray();

        var written = new List<string>();
        var clock = Stopwatch.StartNew();
        var cond = new DiffusionConditioning(cls, s.Velocity / 127f);
        Context.WithProgress($"interpolate {name} {a} → {b}", s.Count, advance =>
        {
            const int chunk = 4;
            var output = new float[chunk * length];
            for (int start = 0; start < s.Count; start += chunk)
            {
                cancellation.ThrowIfCancellationRequested();
                int n = Math.Min(chunk, s.Count - start);
                model.Operations.Interpolate(cond, a, b, positions.AsSpan(start, n), length, options, output.AsSpan(0, n * length));
                // Finished like generate's one-shots, so the end points are generate's files for seed a and seed b.
                for (int k = 0; k < n; k++) CalibrationOption.CalibrateAndFinish(calibration, output.AsSpan(k * length, length), cond, den.SampleRateHz, MaxPeakOption.Limit(s.MaxPeak));
                for (int k = 0; k < n; k++)
                {
                    int i = start + k;
                    string reproduce = CommandLine("interpolate",
                        [("--class", name), ("--seed-a", a), ("--seed-b", b), ("--count", s.Count), ("--velocity", s.Velocity),
                         MaxPeakOption.ForCommandLine(s.MaxPeak), CalibrationOption.ForCommandLine(s.NoCalibration), .. SamplingOptionsForCommandLine(options, model, s)]);
                    var meta = Metadata("interpolate", model, options, ("seedA", a), ("seedB", b), ("index", i),
                                        ("position", positions[i]), ("class", name), ("velocity", s.Velocity));
                    WriteWav(outputs, paths[i], output.AsSpan(k * length, length), 1, den.SampleRateHz, s.Format, reproduce, meta);
                    written.Add(paths[i]);
                }
                advance(n);
            }
        });
        ReportWritten(written);
        Context.Console.MarkupLine($"[green]{written.Count}[/] file(s), seeds [bold]{a}[/] → [bold]{b}[/], {FormatDuration(clock.Elapsed)}");
        return StudioExitCodes.Success;
    }
}
