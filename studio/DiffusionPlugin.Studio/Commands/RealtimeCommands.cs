using System.ComponentModel;
using System.Diagnostics;
using DiffusionPlugin.Engine.Realtime;
using DiffusionPlugin.Studio.Audio;
using DiffusionPlugin.Studio.Output;
using Spectre.Console;
using Spectre.Console.Cli;

namespace DiffusionPlugin.Studio.Commands;

/// <summary>Options of the commands that drive a real-time engine offline.</summary>
public class OfflineEngineSettings : OutputSettings
{
    [CommandOption("--block <FRAMES>")]
    [Description("Block size handed to the engine, as a host would")]
    [DefaultValue(512)]
    public int BlockFrames { get; init; } = 512;

    [CommandOption("--allow-fallback")]
    [Description("Render even when the model cannot load (the engine's fallback sound / DSP decorrelator)")]
    public bool AllowFallback { get; init; }

    [CommandOption("--load-timeout <SECONDS>")]
    [Description("Give up when the model is still loading after this long")]
    [DefaultValue(300)]
    public int LoadTimeoutSeconds { get; init; } = 300;

    public override ValidationResult Validate()
    {
        var b = base.Validate();
        if (!b.Successful) return b;
        if (BlockFrames is < 1 or > 8192) return ValidationResult.Error($"--block: {BlockFrames} is outside 1..8192");
        if (LoadTimeoutSeconds < 1) return ValidationResult.Error($"--load-timeout: {LoadTimeoutSeconds} is not positive");
        return ValidationResult.Success();
    }
}

/// <summary>Drives a real-time engine the way a host renders offline: activate with offline = true, wait for the model.</summary>
public abstract class OfflineEngineCommand<TSettings>(StudioContext context) : StudioCommand<TSettings>(context) where TSettings : OfflineEngineSettings
{
    protected EngineOptions EngineOptions(TSettings s) => new()
    {
        ManifestPath = Context.Backend.ResolveManifestPath(s.Model),
        Execution = s.Execution,
    };

    /// <summary>Activates offline and waits until the engine leaves <see cref="ModelStatus.Loading"/>.</summary>
    protected void ActivateOffline(IRealtimeEngine engine, TSettings s, double rateHz, string manifestPath, CancellationToken cancellation)
    {
        engine.Activate(rateHz, s.BlockFrames, offline: true);
        var deadline = Stopwatch.StartNew();
        Context.WithStatus("loading model", () =>
        {
            while (engine.Status == ModelStatus.Loading)
            {
                cancellation.ThrowIfCancellationRequested();
                if (deadline.Elapsed.TotalSeconds > s.LoadTimeoutSeconds)
                    throw new StudioException($"{manifestPath}: model still loading after {s.LoadTimeoutSeconds} s (--load-timeout)", StudioExitCodes.ModelError);
                Thread.Sleep(5);
            }
            return 0;
        });
        if (engine.Status == ModelStatus.Fallback)
        {
            if (!s.AllowFallback)
                throw new StudioException($"cannot load model: {OneLine(engine.StatusMessage)} (--allow-fallback renders without it)", StudioExitCodes.ModelError);
            Context.Error.WriteLine($"{StudioApp.ApplicationName}: warning: no model, using the fallback: {OneLine(engine.StatusMessage)}");
        }
    }

    protected static string StatusName(ModelStatus status) => status switch
    {
        ModelStatus.ReadyCuda => "CUDA",
        ModelStatus.ReadyCpu => "CPU",
        ModelStatus.Fallback => "fallback (no model)",
        _ => status.ToString(),
    };

    static string OneLine(string s) => string.Join(' ', s.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries));

    protected static float[] Interleave(float[] left, float[] right)
    {
        var result = new float[left.Length * 2];
        for (int i = 0; i < left.Length; i++) { result[2 * i] = left[i]; result[2 * i + 1] = right[i]; }
        return result;
    }
}

public sealed class WidenSettings : OfflineEngineSettings
{
    [CommandArgument(0, "<IN.wav>")]
    [Description("Mono or stereo WAV, any rate (kept)")]
    public string Input { get; init; } = "";

    [CommandArgument(1, "<OUT.wav>")]
    [Description("Stereo result at the input's rate")]
    public string Output { get; init; } = "";

    [CommandOption("--width <W>")]
    [Description("L = x + w·s, R = x − w·s (0..2)")]
    [DefaultValue(1.0f)]
    public float Width { get; init; } = 1f;

    [CommandOption("--strength <S>")]
    [Description("Variation strength of the generated copy (0..1; default: the engine's)")]
    public float? Strength { get; init; }

    [CommandOption("--mix <M>")]
    [Description("Dry/wet (0..1)")]
    [DefaultValue(1.0f)]
    public float Mix { get; init; } = 1f;

    public override ValidationResult Validate()
    {
        var b = base.Validate();
        if (!b.Successful) return b;
        if (!float.IsFinite(Width) || Width < 0 || Width > 2) return ValidationResult.Error($"--width: {Width} is outside 0..2");
        if (Strength is { } st && (!float.IsFinite(st) || st < 0 || st > 1)) return ValidationResult.Error($"--strength: {st} is outside 0..1");
        if (!float.IsFinite(Mix) || Mix < 0 || Mix > 1) return ValidationResult.Error($"--mix: {Mix} is outside 0..1");
        return ValidationResult.Success();
    }
}

/// <summary>widen: a file through the Diffusion Widener, latency removed, at the file's own rate.</summary>
public sealed class WidenCommand(StudioContext context) : OfflineEngineCommand<WidenSettings>(context)
{
    protected override int Run(WidenSettings s, CancellationToken cancellation)
    {
        var clip = AudioClip.ReadWav(s.Input);
        if (clip.ChannelCount > 2) throw new StudioException($"{s.Input}: has {clip.ChannelCount} channels; widen takes mono or stereo");
        var outputs = new OutputFiles(s.Force);
        string outPath = outputs.Plan(s.Output);
        if (string.Equals(outPath, Path.GetFullPath(s.Input), StringComparison.Ordinal))
            throw new StudioException($"{s.Output}: is the input file; write to another file");

        var options = EngineOptions(s);
        using var widener = Context.Backend.CreateWidener(options);
        widener.Width = s.Width;
        widener.Mix = s.Mix;
        if (s.Strength is { } strength) widener.VariationStrength = strength;
        ActivateOffline(widener, s, clip.SampleRateHz, options.ManifestPath!, cancellation);
        var clock = Stopwatch.StartNew();

        float[] inL = clip.Channels[0];
        float[] inR = clip.ChannelCount == 2 ? clip.Channels[1] : clip.Channels[0];
        int frames = clip.Frames;
        var outL = new float[frames];
        var outR = new float[frames];
        try
        {
            int latency = Math.Max(0, widener.LatencySamples);
            long total = (long)frames + latency;
            var bl = new float[s.BlockFrames]; var br = new float[s.BlockFrames];
            var ol = new float[s.BlockFrames]; var or = new float[s.BlockFrames];
            Context.WithProgress($"widen {Path.GetFileName(s.Input)}", total, advance =>
            {
                for (long pos = 0; pos < total; pos += s.BlockFrames)
                {
                    cancellation.ThrowIfCancellationRequested();
                    int n = (int)Math.Min(s.BlockFrames, total - pos);
                    Fill(inL, pos, bl.AsSpan(0, n));
                    if (!ReferenceEquals(inL, inR)) Fill(inR, pos, br.AsSpan(0, n));
                    widener.Process(bl.AsSpan(0, n), ReferenceEquals(inL, inR) ? bl.AsSpan(0, n) : br.AsSpan(0, n), ol.AsSpan(0, n), or.AsSpan(0, n), n);
                    // The engine's output is late by its latency: frame t of the result is output frame t + latency.
                    for (int k = 0; k < n; k++)
                    {
                        long t = pos + k - latency;
                        if (t >= 0 && t < frames) { outL[t] = ol[k]; outR[t] = or[k]; }
                    }
                    advance(n);
                }
            });
            string reproduce = CommandLine("widen",
                [("", Path.GetFullPath(s.Input)), ("", Path.GetFullPath(s.Output)), ("--width", s.Width), ("--mix", s.Mix),
                 ("--strength", widener.VariationStrength), ("--block", s.BlockFrames), ("--model", s.Model is null ? null : options.ManifestPath)]);
            var meta = new Dictionary<string, object?>
            {
                ["tool"] = StudioApp.ApplicationName, ["command"] = "widen", ["source"] = Path.GetFullPath(s.Input),
                ["width"] = s.Width, ["mix"] = s.Mix, ["strength"] = widener.VariationStrength, ["block"] = s.BlockFrames,
                ["latencySamples"] = latency, ["engineStatus"] = StatusName(widener.Status), ["fallbackWindows"] = widener.FallbackWindows,
                ["manifest"] = options.ManifestPath, ["sampleRateHz"] = clip.SampleRateHz,
            };
            WriteWav(outputs, outPath, Interleave(outL, outR), 2, clip.SampleRateHz, s.Format, reproduce, meta);
            ReportWritten([outPath]);
            Context.Console.MarkupLine($"widened {frames} frames at {clip.SampleRateHz} Hz, latency {latency} samples removed, " +
                                       $"{widener.FallbackWindows} fallback window(s), {Escape(StatusName(widener.Status))}, {FormatDuration(clock.Elapsed)}");
        }
        finally
        {
            widener.Deactivate();
        }
        return StudioExitCodes.Success;
    }

    static void Fill(float[] source, long pos, Span<float> block)
    {
        block.Clear();
        if (pos >= source.Length) return;
        int n = (int)Math.Min(block.Length, source.Length - pos);
        source.AsSpan((int)pos, n).CopyTo(block);
    }
}

public sealed class RenderSettings : OfflineEngineSettings
{
    [CommandArgument(0, "<GROOVE.mid>")]
    [Description("Standard MIDI file; every note of every channel is played (General MIDI drum map)")]
    public string Input { get; init; } = "";

    [CommandArgument(1, "<OUT.wav>")]
    [Description("Stereo result")]
    public string Output { get; init; } = "";

    [CommandOption("--kit-seed <N>")]
    [Description("Seed of the kit's anchor sounds")]
    [DefaultValue(1UL)]
    public ulong KitSeed { get; init; } = 1;

    [CommandOption("--humanize <H>")]
    [Description("0 = the anchor every time, 1 = a fresh draw per hit")]
    [DefaultValue(0.3f)]
    public float Humanize { get; init; } = 0.3f;

    [CommandOption("--steps <N>")]
    [Description("Sampler steps per hit (default: the engine's)")]
    public int? Steps { get; init; }

    [CommandOption("--guidance <G>")]
    [Description("Classifier-free guidance scale (default: the model manifest's)")]
    public float? Guidance { get; init; }

    [CommandOption("--gain <DB>")]
    [Description("Output gain in dB")]
    [DefaultValue(0f)]
    public float GainDb { get; init; }

    [CommandOption("--sample-rate <HZ>")]
    [Description("Render rate (default: the model's)")]
    public int? SampleRate { get; init; }

    [CommandOption("--tail <SECONDS>")]
    [Description("Audio kept after the last MIDI event")]
    [DefaultValue(2.0)]
    public double TailSeconds { get; init; } = 2.0;

    public override ValidationResult Validate()
    {
        var b = base.Validate();
        if (!b.Successful) return b;
        if (!float.IsFinite(Humanize) || Humanize < 0 || Humanize > 1) return ValidationResult.Error($"--humanize: {Humanize} is outside 0..1");
        if (Steps is { } st && (st < 1 || st > 1000)) return ValidationResult.Error($"--steps: {st} is outside 1..1000");
        if (Guidance is { } g && (!float.IsFinite(g) || g < 0 || g > 50)) return ValidationResult.Error($"--guidance: {g} is outside 0..50");
        if (!float.IsFinite(GainDb) || GainDb < -96 || GainDb > 24) return ValidationResult.Error($"--gain: {GainDb} dB is outside -96..24");
        if (SampleRate is { } r && (r < 8000 || r > 384000)) return ValidationResult.Error($"--sample-rate: {r} Hz is outside 8000..384000");
        if (!double.IsFinite(TailSeconds) || TailSeconds < 0 || TailSeconds > 60) return ValidationResult.Error($"--tail: {TailSeconds} s is outside 0..60");
        return ValidationResult.Success();
    }
}

/// <summary>render: a MIDI groove through Diffusion Drums in offline mode, notes placed sample-exactly in each block.</summary>
public sealed class RenderCommand(StudioContext context) : OfflineEngineCommand<RenderSettings>(context)
{
    protected override int Run(RenderSettings s, CancellationToken cancellation)
    {
        var groove = MidiGroove.Read(s.Input);
        var outputs = new OutputFiles(s.Force);
        string outPath = outputs.Plan(s.Output);

        var options = EngineOptions(s);
        // Read once, and only when an option leaves something to the manifest.
        Backend.ManifestInfo? read = null;
        Backend.ManifestInfo Manifest() => read ??= Backend.ManifestInfo.Read(options.ManifestPath!);
        int rate = s.SampleRate ?? Manifest().SampleRateHz
                   ?? throw new StudioException($"{options.ManifestPath}: manifest has no sampleRateHz; give --sample-rate", StudioExitCodes.ModelError);
        using var drums = Context.Backend.CreateDrums(options);
        drums.KitSeed = s.KitSeed;
        drums.Humanize = s.Humanize;
        drums.OutputGainDb = s.GainDb;
        if (s.Steps is { } steps) drums.Steps = steps;
        // Unless told otherwise, the guidance the model was tuned for (its manifest's defaults), as the other commands do.
        drums.Guidance = s.Guidance ?? Manifest().Defaults.Guidance;
        ActivateOffline(drums, s, rate, options.ManifestPath!, cancellation);
        var clock = Stopwatch.StartNew();

        try
        {
            var events = groove.Events.Select(e => (frame: (long)Math.Round(e.TimeSeconds * rate), e)).ToArray();
            long frames = (events.Length == 0 ? 0 : events[^1].frame) + 1 + (long)Math.Round(s.TailSeconds * rate);
            if (frames > int.MaxValue / 2) throw new StudioException($"{s.Input}: groove is too long to render ({frames / (double)rate:0} s)");
            int latency = Math.Max(0, drums.LatencySamples);
            long total = frames + latency;
            var outL = new float[frames]; var outR = new float[frames];
            var bl = new float[s.BlockFrames]; var br = new float[s.BlockFrames];
            int next = 0;
            Context.WithProgress($"render {Path.GetFileName(s.Input)}", total, advance =>
            {
                for (long pos = 0; pos < total; pos += s.BlockFrames)
                {
                    cancellation.ThrowIfCancellationRequested();
                    int n = (int)Math.Min(s.BlockFrames, total - pos);
                    for (; next < events.Length && events[next].frame < pos + n; next++)
                    {
                        var (frame, e) = events[next];
                        int offset = (int)(frame - pos);
                        if (e.IsNoteOn) drums.NoteOn(offset, e.Note, e.Velocity / 127f);
                        else drums.NoteOff(offset, e.Note);
                    }
                    drums.Process(bl.AsSpan(0, n), br.AsSpan(0, n), n);
                    for (int k = 0; k < n; k++)
                    {
                        long t = pos + k - latency;
                        if (t >= 0 && t < frames) { outL[t] = bl[k]; outR[t] = br[k]; }
                    }
                    advance(n);
                }
            });
            string reproduce = CommandLine("render",
                [("", Path.GetFullPath(s.Input)), ("", Path.GetFullPath(s.Output)), ("--kit-seed", s.KitSeed), ("--humanize", s.Humanize),
                 ("--steps", drums.Steps), ("--guidance", drums.Guidance), ("--gain", s.GainDb), ("--sample-rate", rate),
                 ("--tail", s.TailSeconds), ("--block", s.BlockFrames), ("--model", s.Model is null ? null : options.ManifestPath)]);
            var meta = new Dictionary<string, object?>
            {
                ["tool"] = StudioApp.ApplicationName, ["command"] = "render", ["source"] = Path.GetFullPath(s.Input),
                ["seed"] = s.KitSeed, ["kitSeed"] = s.KitSeed, ["humanize"] = s.Humanize, ["steps"] = drums.Steps, ["guidance"] = drums.Guidance,
                ["gainDb"] = s.GainDb, ["notes"] = groove.NoteCount, ["block"] = s.BlockFrames, ["latencySamples"] = latency,
                ["engineStatus"] = StatusName(drums.Status), ["freshHits"] = drums.FreshHits, ["reusedHits"] = drums.ReusedHits,
                ["manifest"] = options.ManifestPath, ["sampleRateHz"] = rate,
            };
            WriteWav(outputs, outPath, Interleave(outL, outR), 2, rate, s.Format, reproduce, meta);
            ReportWritten([outPath]);
            Context.Console.MarkupLine($"rendered {groove.NoteCount} notes, {frames / (double)rate:0.00} s at {rate} Hz, kit seed [bold]{s.KitSeed}[/], " +
                                       $"{drums.FreshHits} fresh / {drums.ReusedHits} reused hits, {Escape(StatusName(drums.Status))}, {FormatDuration(clock.Elapsed)}");
        }
        finally
        {
            drums.Deactivate();
        }
        return StudioExitCodes.Success;
    }
}
