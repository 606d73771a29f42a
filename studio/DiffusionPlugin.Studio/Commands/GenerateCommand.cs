using System.ComponentModel;
using System.Diagnostics;
using DiffusionPlugin.Engine.Diffusion;
using DiffusionPlugin.Engine.Realtime;
using DiffusionPlugin.Studio.Output;
using Spectre.Console;
using Spectre.Console.Cli;

namespace DiffusionPlugin.Studio.Commands;

public sealed class GenerateSettings : SamplingSettings
{
    [CommandOption("--class <NAME>")]
    [Description("Drum class (kick, snare, …) or 'all' (every class but the catch-all 'general')")]
    public string? Class { get; init; }

    [CommandOption("--count <N>")]
    [Description("Hits per class")]
    [DefaultValue(1)]
    public int Count { get; init; } = 1;

    [CommandOption("--first-index <N>")]
    [Description("Index of the first file (regenerate file i alone with --first-index i --count 1)")]
    [DefaultValue(0)]
    public int FirstIndex { get; init; }

    [CommandOption("--out <DIR>")]
    [Description("Output folder; files go to DIR/<class>/")]
    [DefaultValue(".")]
    public string Out { get; init; } = ".";

    [CommandOption(MaxPeakOption.Template)]
    [Description(MaxPeakOption.Description)]
    [DefaultValue(OneShotTail.MaxPeak)]
    public float MaxPeak { get; init; } = OneShotTail.MaxPeak;

    [CommandOption(CalibrationOption.Template)]
    [Description(CalibrationOption.Description)]
    public bool NoCalibration { get; init; }

    public override ValidationResult Validate()
    {
        var b = base.Validate();
        if (!b.Successful) return b;
        if (string.IsNullOrWhiteSpace(Class)) return ValidationResult.Error("--class: missing (a class name, or 'all')");
        if (Count is < 1 or > 100000) return ValidationResult.Error($"--count: {Count} is outside 1..100000");
        if (FirstIndex < 0) return ValidationResult.Error($"--first-index: {FirstIndex} is negative");
        if (MaxPeakOption.Check(MaxPeak) is { } peakError) return peakError;
        return ValidationResult.Success();
    }
}

/// <summary>generate: the endless sample pack. File i of a class uses engine seed = --seed + i.</summary>
public sealed class GenerateCommand(StudioContext context) : StudioCommand<GenerateSettings>(context)
{
    /// <summary>Classes left out of --class all: the training catch-all, not a drum.</summary>
    public static readonly string[] NotInAll = ["general"];

    protected override int Run(GenerateSettings s, CancellationToken cancellation)
    {
        using var model = LoadModel(s);
        var den = model.Denoiser;
        int[] classes = string.Equals(s.Class, "all", StringComparison.OrdinalIgnoreCase)
            ? Enumerable.Range(0, den.ClassNames.Count).Where(i => !NotInAll.Contains(den.ClassNames[i], StringComparer.OrdinalIgnoreCase)).ToArray()
            : [ResolveClass(den, s.Class!, "--class")];
        if (classes.Length == 0) throw new StudioException("--class all: the model has no classes to generate");

        ulong seed = s.ResolveSeed();
        var options = s.ResolveSampling(model.Manifest.Defaults);
        float velocity = s.Velocity / 127f;
        int length = den.ClipSamples;
        var calibration = CalibrationOption.For(den, s.NoCalibration);

        var outputs = new OutputFiles(s.Force);
        var jobs = new List<(int cls, int index, string path)>();
        foreach (int c in classes)
        {
            string name = den.ClassNames[c];
            for (int i = s.FirstIndex; i < s.FirstIndex + s.Count; i++)
                jobs.Add((c, i, outputs.Plan(Path.Combine(s.Out, name, $"{name}-{seed}-{i}.wav"))));
        }

        var written = new List<string>();
        var clock = Stopwatch.StartNew();
        Context.WithProgress($"generate {(classes.Length == 1 ? den.ClassNames[classes[0]] : "all classes")} (seed {seed})", jobs.Count, advance =>
        {
            var output = new float[s.Batch * length];
            var cond = new DiffusionConditioning[s.Batch];
            var seeds = new ulong[s.Batch];
            for (int start = 0; start < jobs.Count; start += s.Batch)
            {
                cancellation.ThrowIfCancellationRequested();
                int n = Math.Min(s.Batch, jobs.Count - start);
                for (int b = 0; b < n; b++)
                {
                    cond[b] = new DiffusionConditioning(jobs[start + b].cls, velocity);
                    seeds[b] = unchecked(seed + (ulong)jobs[start + b].index);
                }
                model.Operations.Generate(cond.AsSpan(0, n), seeds.AsSpan(0, n), length, options, output.AsSpan(0, n * length));
                // One-shots end as Diffusion Drums plays them: calibrated, faded at the calibration's tail floor under the
                // peak (50 dB uncalibrated), then exact silence.
                for (int b = 0; b < n; b++) CalibrationOption.CalibrateAndFinish(calibration, output.AsSpan(b * length, length), cond[b], den.SampleRateHz, MaxPeakOption.Limit(s.MaxPeak));
                for (int b = 0; b < n; b++)
                {
                    var (cls, index, path) = jobs[start + b];
                    string name = den.ClassNames[cls];
                    string reproduce = CommandLine("generate",
                        [("--class", name), ("--seed", seed), ("--first-index", index), ("--count", 1), ("--velocity", s.Velocity),
                         MaxPeakOption.ForCommandLine(s.MaxPeak), CalibrationOption.ForCommandLine(s.NoCalibration), .. SamplingOptionsForCommandLine(options, model, s)]);
                    var meta = Metadata("generate", model, options, ("seed", seeds[b]), ("baseSeed", seed), ("index", index),
                                        ("class", name), ("velocity", s.Velocity));
                    WriteWav(outputs, path, output.AsSpan(b * length, length), 1, den.SampleRateHz, s.Format, reproduce, meta);
                    written.Add(path);
                }
                advance(n);
            }
        });
        ReportWritten(written);
        Context.Console.MarkupLine($"[green]{written.Count}[/] file(s), seed [bold]{seed}[/], {Escape(options.Sampler)} × {options.Steps} steps, " +
                                   $"{den.SampleRateHz} Hz, {FormatDuration(clock.Elapsed)}");
        return StudioExitCodes.Success;
    }
}
