using System.Globalization;
using System.Text;
using System.Text.Json;
using DiffusionPlugin.Engine.Diffusion;
using DiffusionPlugin.Studio.Audio;
using DiffusionPlugin.Studio.Backend;
using DiffusionPlugin.Studio.Output;
using Spectre.Console;
using Spectre.Console.Cli;

namespace DiffusionPlugin.Studio.Commands;

/// <summary>What every studio command shares: the context, model loading, class lookup, safe writing with metadata.</summary>
public abstract class StudioCommand<TSettings>(StudioContext context) : Command<TSettings> where TSettings : StudioSettings
{
    protected StudioContext Context { get; } = context;

    public override int Execute(CommandContext commandContext, TSettings settings, CancellationToken cancellationToken)
        => Run(settings, cancellationToken);

    /// <summary>The command's work; throws <see cref="StudioException"/> for bad input. CLI thread.</summary>
    protected abstract int Run(TSettings settings, CancellationToken cancellation);

    protected LoadedModel LoadModel(TSettings settings)
    {
        string manifest = Context.Backend.ResolveManifestPath(settings.Model);
        return Context.WithStatus($"loading model {manifest}", () => Context.Backend.LoadModel(manifest, settings.Execution));
    }

    /// <summary>The class index of <paramref name="name"/> (case-insensitive), or a one-line error naming the option.</summary>
    protected static int ResolveClass(IDenoiser denoiser, string name, string option)
    {
        var names = denoiser.ClassNames;
        for (int i = 0; i < names.Count; i++)
            if (string.Equals(names[i], name, StringComparison.OrdinalIgnoreCase)) return i;
        if (names.Count == 0) throw new StudioException($"{option}: the model has no classes (it is unconditional); leave {option} out");
        throw new StudioException($"{option}: unknown class '{name}' (the model has: {string.Join(", ", names)})");
    }

    /// <summary>Reads an input WAV as mono at the model's rate, padded to the model's length multiple.</summary>
    protected static (float[] padded, int frames) PrepareSource(AudioClip clip, string path, IDenoiser denoiser)
    {
        float[] mono = clip.ToModelMono(denoiser.SampleRateHz);
        if (mono.Length == 0) throw new StudioException($"{path}: too short to resample to {denoiser.SampleRateHz} Hz");
        int frames = mono.Length;
        int multiple = Math.Max(1, denoiser.LengthMultiple);
        int padded = (frames + multiple - 1) / multiple * multiple;
        Array.Resize(ref mono, padded);
        return (mono, frames);
    }

    /// <summary>Writes one result through a temporary file and prints its path.</summary>
    protected void WriteWav(OutputFiles outputs, string path, ReadOnlySpan<float> interleaved, int channels, int rateHz,
                            WavSampleFormat format, string reproduce, IReadOnlyDictionary<string, object?> metadata)
    {
        float[] copy = interleaved.ToArray();
        string json = JsonSerializer.Serialize(metadata);
        outputs.Commit(path, temp => WavWriter.Write(temp, copy, channels, rateHz, format, reproduce, json));
    }

    protected void ReportWritten(IReadOnlyList<string> paths)
    {
        foreach (var p in paths) Context.Console.WriteLine(p);
    }

    /// <summary>A command line that reproduces one output: the tool name, then options in a stable order.</summary>
    protected static string CommandLine(string command, params (string option, object? value)[] options)
    {
        var sb = new StringBuilder(StudioApp.ApplicationName).Append(' ').Append(command);
        foreach (var (option, value) in options)
        {
            if (value is null) continue;
            sb.Append(' ');
            if (!option.StartsWith('-')) { sb.Append(Quote(Convert.ToString(value, CultureInfo.InvariantCulture)!)); continue; }
            sb.Append(option);
            if (value is bool) continue;
            sb.Append(' ').Append(Quote(Convert.ToString(value, CultureInfo.InvariantCulture)!));
        }
        return sb.ToString();
    }

    static string Quote(string s) => s.Length > 0 && s.All(c => char.IsLetterOrDigit(c) || "-_./:=+,".Contains(c)) ? s : "'" + s.Replace("'", "'\\''") + "'";

    /// <summary>Options shared by every diffusion command's reproduce line.</summary>
    protected static (string, object?)[] SamplingOptionsForCommandLine(SamplingOptions o, LoadedModel model, StudioSettings s) =>
    [
        ("--sampler", o.Sampler), ("--schedule", o.Schedule), ("--steps", o.Steps),
        ("--guidance", o.Guidance), ("--eta", o.Eta == 0 ? null : o.Eta),
        // A finite limit always; "every step" (0) only where the model's own default is a limit.
        ("--guidance-max-sigma", float.IsFinite(o.GuidanceMaxSigma) ? o.GuidanceMaxSigma
            : float.IsFinite(model.Manifest.Defaults.GuidanceMaxSigma) ? 0f : null),
        ("--model", s.Model is null ? null : model.ManifestPath),
        ("--bits", s is OutputSettings { Bits: 24 } ? 24 : null),
    ];

    /// <summary>Metadata every diffusion output carries, plus <paramref name="extra"/>.</summary>
    protected static Dictionary<string, object?> Metadata(string command, LoadedModel model, SamplingOptions o, params (string key, object? value)[] extra)
    {
        var m = new Dictionary<string, object?>
        {
            ["tool"] = StudioApp.ApplicationName,
            ["command"] = command,
        };
        foreach (var (k, v) in extra) m[k] = v;
        m["sampler"] = o.Sampler;
        m["schedule"] = o.Schedule;
        m["steps"] = o.Steps;
        m["guidance"] = o.Guidance;
        if (float.IsFinite(o.GuidanceMaxSigma)) m["guidanceMaxSigma"] = o.GuidanceMaxSigma;
        m["eta"] = o.Eta;
        m["model"] = model.Manifest.Name;
        m["manifest"] = model.ManifestPath;
        m["sampleRateHz"] = model.Denoiser.SampleRateHz;
        return m;
    }

    protected static string FormatDuration(TimeSpan t) => t.TotalSeconds < 60 ? $"{t.TotalSeconds:0.0} s" : $"{t:m\\:ss} min";

    protected static string Escape(string s) => Markup.Escape(s);

    protected static string F(double v) => v.ToString("0.####", CultureInfo.InvariantCulture);
}
