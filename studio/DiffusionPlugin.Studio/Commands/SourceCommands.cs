using System.ComponentModel;
using System.Diagnostics;
using DiffusionPlugin.Engine.Diffusion;
using DiffusionPlugin.Studio.Backend;
using DiffusionPlugin.Studio.Output;
using Spectre.Console;
using Spectre.Console.Cli;

namespace DiffusionPlugin.Studio.Commands;

/// <summary>
/// The shape every input-transforming command shares: read IN.wav (resampled to the model rate, mixed to mono),
/// plan --count outputs named &lt;stem&gt;-&lt;tag&gt;-&lt;seed&gt;-&lt;index&gt;.wav, run one engine call per output with seed + index,
/// trim to the input's length, write safely.
/// </summary>
public abstract class SourceCommand<TSettings>(StudioContext context) : StudioCommand<TSettings>(context) where TSettings : SourceSettings
{
    protected sealed record Job(LoadedModel Model, SamplingOptions Options, float[] Source, int Length, int Frames,
                                DiffusionConditioning Conditioning, ulong Seed, int Index);

    /// <summary>Longest input one call edits: the model runs over the whole signal at once (memory grows with length).</summary>
    public const int MaxInputSeconds = 60;

    protected abstract string Name { get; }
    /// <summary>The part of the file name between the input's stem and the seed ("vary", "to-snare", …).</summary>
    protected abstract string Tag(TSettings s, LoadedModel model);
    /// <summary>Checks that need the input or the model; throws <see cref="StudioException"/>.</summary>
    protected virtual void Check(TSettings s, LoadedModel model, AudioInfo input) { }
    /// <summary>The class to condition on (default: --class if given, else unconditional).</summary>
    protected virtual int ClassId(TSettings s, LoadedModel model) => DiffusionConditioning.Unconditional;
    /// <summary>One engine call writing <see cref="Job.Length"/> samples into output.</summary>
    protected abstract void RunOne(TSettings s, Job job, Span<float> output);
    /// <summary>Option/value pairs (beyond sampling) that reproduce one output, and its metadata.</summary>
    protected abstract (string, object?)[] Options(TSettings s, LoadedModel model);

    protected readonly record struct AudioInfo(double DurationSeconds, int SampleRateHz, int Channels);

    protected override int Run(TSettings s, CancellationToken cancellation)
    {
        // Input problems are reported before the model is loaded: they are cheaper to find.
        var clip = Audio.AudioClip.ReadWav(s.Input);
        if (clip.DurationSeconds > MaxInputSeconds)
            throw new StudioException($"{s.Input}: {clip.DurationSeconds:0.#} s is longer than the {MaxInputSeconds} s one edit handles; cut it first");
        using var model = LoadModel(s);
        var den = model.Denoiser;
        Check(s, model, new AudioInfo(clip.DurationSeconds, clip.SampleRateHz, clip.ChannelCount));
        int classId = ClassId(s, model);
        var (source, frames) = PrepareSource(clip, s.Input, den);
        ulong seed = s.ResolveSeed();
        var options = s.ResolveSampling(model.Manifest.Defaults);
        float velocity = s.Velocity / 127f;

        string stem = Path.GetFileNameWithoutExtension(s.Input);
        string folder = s.Out ?? Path.GetDirectoryName(Path.GetFullPath(s.Input))!;
        string tag = Tag(s, model);
        var outputs = new OutputFiles(s.Force);
        var indices = Enumerable.Range(s.FirstIndex, s.Count).ToArray();
        var paths = indices.Select(i => outputs.Plan(Path.Combine(folder, $"{stem}-{tag}-{seed}-{i}.wav"))).ToArray();

        var written = new List<string>();
        var clock = Stopwatch.StartNew();
        var output = new float[source.Length];
        var extra = Options(s, model);
        Context.WithProgress($"{Name} {Path.GetFileName(s.Input)} (seed {seed})", s.Count, advance =>
        {
            for (int k = 0; k < s.Count; k++)
            {
                cancellation.ThrowIfCancellationRequested();
                int i = indices[k];
                ulong itemSeed = unchecked(seed + (ulong)i);
                var job = new Job(model, options, source, source.Length, frames, new DiffusionConditioning(classId, velocity), itemSeed, i);
                RunOne(s, job, output);
                string reproduce = CommandLine(Name,
                    [("", Path.GetFullPath(s.Input)), .. extra, ("--seed", seed), ("--first-index", i), ("--count", 1), ("--velocity", s.Velocity),
                     .. SamplingOptionsForCommandLine(options, model, s)]);
                var meta = Metadata(Name, model, options,
                    [("seed", itemSeed), ("baseSeed", seed), ("index", i), ("source", Path.GetFullPath(s.Input)),
                     ("velocity", s.Velocity), .. extra.Select(e => (e.Item1.TrimStart('-'), e.Item2))]);
                WriteWav(outputs, paths[k], output.AsSpan(0, Math.Min(frames, output.Length)), 1, den.SampleRateHz, s.Format, reproduce, meta);
                written.Add(paths[k]);
                advance(1);
            }
        });
        ReportWritten(written);
        Context.Console.MarkupLine($"[green]{written.Count}[/] file(s), seed [bold]{seed}[/], {FormatDuration(clock.Elapsed)}");
        return StudioExitCodes.Success;
    }

    protected static ValidationResult CheckStrength(float strength) =>
        float.IsFinite(strength) && strength >= 0 && strength <= 1
            ? ValidationResult.Success()
            : ValidationResult.Error($"--strength: {strength} is outside 0..1");

    protected int OptionalClass(string? name, LoadedModel model) =>
        name is null ? DiffusionConditioning.Unconditional : ResolveClass(model.Denoiser, name, "--class");
}

public sealed class VarySettings : SourceSettings
{
    [CommandOption("--strength <S>")]
    [Description("0 = the input unchanged, 1 = a fresh draw")]
    [DefaultValue(0.3f)]
    public float Strength { get; init; } = 0.3f;

    [CommandOption("--class <NAME>")]
    [Description("Class to condition on (default: unconditional)")]
    public string? Class { get; init; }

    public override ValidationResult Validate()
    {
        var b = base.Validate();
        return b.Successful ? VaryCommand.StrengthCheck(Strength) : b;
    }
}

/// <summary>vary: SDEdit variations of the input, file i with seed + i.</summary>
public sealed class VaryCommand(StudioContext context) : SourceCommand<VarySettings>(context)
{
    internal static ValidationResult StrengthCheck(float s) => CheckStrength(s);
    protected override string Name => "vary";
    protected override string Tag(VarySettings s, LoadedModel model) => "vary";
    protected override int ClassId(VarySettings s, LoadedModel model) => OptionalClass(s.Class, model);
    protected override (string, object?)[] Options(VarySettings s, LoadedModel model) =>
        [("--strength", s.Strength), ("--class", s.Class)];
    protected override void RunOne(VarySettings s, Job j, Span<float> output) =>
        j.Model.Operations.Vary(j.Source, [j.Conditioning], [j.Seed], j.Length, s.Strength, j.Options, output);
}

public sealed class TransferSettings : SourceSettings
{
    [CommandOption("--to <CLASS>")]
    [Description("The class to turn the sound into")]
    public string? To { get; init; }

    [CommandOption("--strength <S>")]
    [Description("How far from the input (0..1)")]
    [DefaultValue(0.6f)]
    public float Strength { get; init; } = 0.6f;

    public override ValidationResult Validate()
    {
        var b = base.Validate();
        if (!b.Successful) return b;
        if (string.IsNullOrWhiteSpace(To)) return ValidationResult.Error("--to: missing (the target class)");
        return VaryCommand.StrengthCheck(Strength);
    }
}

/// <summary>transfer: a variation conditioned on another class.</summary>
public sealed class TransferCommand(StudioContext context) : SourceCommand<TransferSettings>(context)
{
    protected override string Name => "transfer";
    protected override string Tag(TransferSettings s, LoadedModel model) => "to-" + model.Denoiser.ClassNames[ClassId(s, model)];
    protected override int ClassId(TransferSettings s, LoadedModel model) => ResolveClass(model.Denoiser, s.To!, "--to");
    protected override (string, object?)[] Options(TransferSettings s, LoadedModel model) =>
        [("--to", model.Denoiser.ClassNames[ClassId(s, model)]), ("--strength", s.Strength)];
    protected override void RunOne(TransferSettings s, Job j, Span<float> output) =>
        j.Model.Operations.Vary(j.Source, [j.Conditioning], [j.Seed], j.Length, s.Strength, j.Options, output);
}

public sealed class InpaintSettings : SourceSettings
{
    [CommandOption("--from <SECONDS>")]
    [Description("Start of the span to regenerate, in seconds")]
    public double? From { get; init; }

    [CommandOption("--to <SECONDS>")]
    [Description("End of the span to regenerate, in seconds")]
    public double? To { get; init; }

    [CommandOption("--class <NAME>")]
    [Description("Class to condition on (default: unconditional)")]
    public string? Class { get; init; }

    public override ValidationResult Validate()
    {
        var b = base.Validate();
        if (!b.Successful) return b;
        if (From is null) return ValidationResult.Error("--from: missing (start of the span, in seconds)");
        if (To is null) return ValidationResult.Error("--to: missing (end of the span, in seconds)");
        if (!double.IsFinite(From.Value) || From < 0) return ValidationResult.Error($"--from: {From} is negative");
        if (!double.IsFinite(To.Value) || To <= From) return ValidationResult.Error($"--to: {To} is not after --from {From}");
        return ValidationResult.Success();
    }
}

/// <summary>inpaint: regenerate [--from, --to) seconds, keep the rest bit-exact (the engine crossfades the borders).</summary>
public sealed class InpaintCommand(StudioContext context) : SourceCommand<InpaintSettings>(context)
{
    protected override string Name => "inpaint";
    protected override string Tag(InpaintSettings s, LoadedModel model) => "inpaint";
    protected override int ClassId(InpaintSettings s, LoadedModel model) => OptionalClass(s.Class, model);
    protected override (string, object?)[] Options(InpaintSettings s, LoadedModel model) =>
        [("--from", s.From), ("--to", s.To), ("--class", s.Class)];

    protected override void Check(InpaintSettings s, LoadedModel model, AudioInfo input)
    {
        if (s.From >= input.DurationSeconds)
            throw new StudioException($"--from: {F(s.From!.Value)} s is past the end of {s.Input} ({F(input.DurationSeconds)} s long)");
        if (s.To > input.DurationSeconds + 1e-9)
            throw new StudioException($"--to: {F(s.To!.Value)} s is past the end of {s.Input} ({F(input.DurationSeconds)} s long)");
    }

    /// <summary>The mask over the model-rate signal: 1 on [from, to) seconds, 0 elsewhere.</summary>
    internal static float[] Mask(double fromSeconds, double toSeconds, int rateHz, int length)
    {
        var mask = new float[length];
        int a = Math.Clamp((int)Math.Round(fromSeconds * rateHz), 0, length);
        int b = Math.Clamp((int)Math.Round(toSeconds * rateHz), a, length);
        mask.AsSpan(a, b - a).Fill(1f);
        return mask;
    }

    protected override void RunOne(InpaintSettings s, Job j, Span<float> output)
    {
        var mask = Mask(s.From!.Value, s.To!.Value, j.Model.Denoiser.SampleRateHz, j.Length);
        j.Model.Operations.Inpaint(j.Source, mask, j.Conditioning, j.Seed, j.Length, j.Options, output);
    }
}

public sealed class ExtendSettings : SourceSettings
{
    [CommandOption("--cutoff <HZ>")]
    [Description("Keep the band below this, regenerate above (default: half the input's rate when it is below the model's)")]
    public float? Cutoff { get; init; }

    [CommandOption("--class <NAME>")]
    [Description("Class to condition on (default: unconditional)")]
    public string? Class { get; init; }

    public override ValidationResult Validate()
    {
        var b = base.Validate();
        if (!b.Successful) return b;
        if (Cutoff is { } c && (!float.IsFinite(c) || c <= 0)) return ValidationResult.Error($"--cutoff: {c} Hz is not a positive frequency");
        return ValidationResult.Success();
    }
}

/// <summary>extend: bandwidth extension above --cutoff.</summary>
public sealed class ExtendCommand(StudioContext context) : SourceCommand<ExtendSettings>(context)
{
    float cutoffHz;
    protected override string Name => "extend";
    protected override string Tag(ExtendSettings s, LoadedModel model) => "extend";
    protected override int ClassId(ExtendSettings s, LoadedModel model) => OptionalClass(s.Class, model);
    protected override (string, object?)[] Options(ExtendSettings s, LoadedModel model) => [("--cutoff", cutoffHz), ("--class", s.Class)];

    protected override void Check(ExtendSettings s, LoadedModel model, AudioInfo input)
    {
        float nyquist = model.Denoiser.SampleRateHz / 2f;
        if (s.Cutoff is { } c)
        {
            if (c >= nyquist) throw new StudioException($"--cutoff: {F(c)} Hz is not below the model's Nyquist frequency {F(nyquist)} Hz");
            cutoffHz = c;
        }
        else if (input.SampleRateHz < model.Denoiser.SampleRateHz)
            cutoffHz = input.SampleRateHz / 2f;
        else
            throw new StudioException($"--cutoff: missing; {s.Input} is already at {input.SampleRateHz} Hz, so say which band to keep (Hz)");
    }

    protected override void RunOne(ExtendSettings s, Job j, Span<float> output) =>
        j.Model.Operations.ExtendBandwidth(j.Source, cutoffHz, j.Conditioning, j.Seed, j.Length, j.Options, output);
}
