using System.ComponentModel;
using System.Globalization;
using DiffusionPlugin.Engine.Diffusion;
using DiffusionPlugin.Engine.Realtime;
using DiffusionPlugin.Studio.Audio;
using Spectre.Console;
using Spectre.Console.Cli;

namespace DiffusionPlugin.Studio.Commands;

/// <summary>Options every command takes: which model, which device, whether to overwrite.</summary>
public class StudioSettings : CommandSettings
{
    [CommandOption("--model <PATH>")]
    [Description("Model manifest (manifest.json, or its folder). Default: the shipped models/drums model")]
    public string? Model { get; init; }

    [CommandOption("--device <DEVICE>")]
    [Description("auto | cpu | cuda (auto: CUDA when its provider loads, CPU otherwise)")]
    [DefaultValue("auto")]
    public string Device { get; init; } = "auto";

    [CommandOption("--threads <N>")]
    [Description("ONNX Runtime intra-op threads (0 = all cores but one)")]
    [DefaultValue(0)]
    public int Threads { get; init; }

    [CommandOption("--force")]
    [Description("Overwrite existing output files")]
    public bool Force { get; init; }

    public ExecutionOptions Execution => new()
    {
        Device = Device.ToLowerInvariant() switch
        {
            "cpu" => ExecutionDevice.Cpu,
            "cuda" or "gpu" => ExecutionDevice.Cuda,
            _ => ExecutionDevice.Auto,
        },
        IntraOpThreads = Threads,
    };

    public override ValidationResult Validate()
    {
        if (Device.ToLowerInvariant() is not ("auto" or "cpu" or "cuda" or "gpu"))
            return ValidationResult.Error($"--device: '{Device}' is not one of auto, cpu, cuda");
        if (Threads < 0) return ValidationResult.Error($"--threads: {Threads} is negative");
        return ValidationResult.Success();
    }

    protected static string F(double v) => v.ToString("0.####", CultureInfo.InvariantCulture);
}

/// <summary>Options of every command that writes files.</summary>
public class OutputSettings : StudioSettings
{
    [CommandOption("--bits <BITS>")]
    [Description("32 = 32-bit float WAV, 24 = 24-bit PCM WAV")]
    [DefaultValue(32)]
    public int Bits { get; init; } = 32;

    public WavSampleFormat Format => Bits == 24 ? WavSampleFormat.Pcm24 : WavSampleFormat.Float32;

    public override ValidationResult Validate()
    {
        var b = base.Validate();
        if (!b.Successful) return b;
        if (Bits is not (24 or 32)) return ValidationResult.Error($"--bits: {Bits} is not 24 or 32");
        return ValidationResult.Success();
    }
}

/// <summary>
/// <c>--max-peak</c> of the commands that write finished one-shots (generate, interpolate): declared on each settings
/// class (their bases differ), its description, check, effective limit and reproduce-line entry live here once.
/// </summary>
public static class MaxPeakOption
{
    public const string Template = "--max-peak <LEVEL>";
    public const string Description = "Loudest peak of a written hit, linear 0..1: a hit above it is scaled down as a whole, as Diffusion Drums plays it (default 0.95, the loudest recorded layer in the training data); 0 = the model's own level";

    /// <summary>An error for a value outside 0..1, else null.</summary>
    public static ValidationResult? Check(float maxPeak) =>
        maxPeak is >= 0f and <= 1f ? null : ValidationResult.Error($"--max-peak: {maxPeak} is outside 0..1");

    /// <summary>The limit to pass to <see cref="OneShotTail.Finish"/>: 0 means none.</summary>
    public static float Limit(float maxPeak) => maxPeak > 0f ? maxPeak : float.PositiveInfinity;

    /// <summary>The reproduce line's entry: left out at the default.</summary>
    public static (string, object?) ForCommandLine(float maxPeak) => ("--max-peak", maxPeak == OneShotTail.MaxPeak ? null : maxPeak);
}

/// <summary>The --no-calibration flag of the commands that write finished one-shots (generate, interpolate).</summary>
public static class CalibrationOption
{
    public const string Template = "--no-calibration";
    public const string Description = "Write the model's raw tone: skip its spectral calibration (the per-class EQ toward the training kits that Diffusion Drums applies to every hit)";

    /// <summary>The filter that calibrates hits of <paramref name="denoiser"/>, or null when it has none or <paramref name="off"/>.</summary>
    public static SpectralCalibrationFilter? For(IDenoiser denoiser, bool off) =>
        off ? null : denoiser.Calibration?.CreateFilter(denoiser.ClassNames);

    /// <summary>The reproduce line's entry: left out at the default (calibrated).</summary>
    public static (string, object?) ForCommandLine(bool off) => ("--no-calibration", off ? true : null);

    /// <summary>
    /// One generated one-shot as Diffusion Drums plays it: through <paramref name="calibration"/> (when there is one)
    /// and then <see cref="OneShotTail.Finish"/> at the floor that goes with it (<see cref="SpectralCalibrationFilter.FinishFloorDb"/>).
    /// </summary>
    public static void CalibrateAndFinish(SpectralCalibrationFilter? calibration, Span<float> hit, DiffusionConditioning conditioning,
                                          double sampleRateHz, float maxPeak)
    {
        calibration?.Apply(hit, conditioning.ClassId, conditioning.Velocity);
        float floorDb = calibration?.FinishFloorDb(conditioning.ClassId) ?? OneShotTail.DefaultFloorDb;
        OneShotTail.Finish(hit, sampleRateHz, floorDb, maxPeak);
    }
}

/// <summary>Options of every command that runs reverse diffusion itself.</summary>
public class SamplingSettings : OutputSettings
{
    public static readonly string[] Samplers = ["euler", "heun", "ddim", "dpmpp_2m"];
    public static readonly string[] Schedules = ["karras", "vp"];

    [CommandOption("--seed <N>")]
    [Description("Base seed (file i uses seed + i). Default: a random seed, printed and put in every file name")]
    public ulong? Seed { get; init; }

    [CommandOption("--velocity <1-127>")]
    [Description("How hard the hit is played (MIDI velocity)")]
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
    [Description("Classifier-free guidance scale, 1 = conditional only (default: the model's)")]
    public float? Guidance { get; init; }

    [CommandOption("--guidance-max-sigma <SIGMA>")]
    [Description("Guidance only at noise levels σ up to this, the conditional model alone above (default: the model's; 0 = every step)")]
    public float? GuidanceMaxSigma { get; init; }

    [CommandOption("--eta <ETA>")]
    [Description("DDIM eta (0 = deterministic)")]
    public float? Eta { get; init; }

    [CommandOption("--batch <N>")]
    [Description("Hits per denoiser call")]
    [DefaultValue(4)]
    public int Batch { get; init; } = 4;

    public override ValidationResult Validate()
    {
        var b = base.Validate();
        if (!b.Successful) return b;
        if (Velocity is < 1 or > 127) return ValidationResult.Error($"--velocity: {Velocity} is outside 1..127");
        if (Steps is { } s && (s < 1 || s > 1000)) return ValidationResult.Error($"--steps: {s} is outside 1..1000");
        if (Sampler is { } n && !Samplers.Contains(n.ToLowerInvariant()))
            return ValidationResult.Error($"--sampler: unknown sampler '{n}' (one of {string.Join(", ", Samplers)})");
        if (Schedule is { } sc && !Schedules.Contains(sc.ToLowerInvariant()))
            return ValidationResult.Error($"--schedule: unknown schedule '{sc}' (one of {string.Join(", ", Schedules)})");
        if (Guidance is { } g && (!float.IsFinite(g) || g < 0 || g > 50)) return ValidationResult.Error($"--guidance: {g} is outside 0..50");
        if (Eta is { } e && (!float.IsFinite(e) || e < 0 || e > 1)) return ValidationResult.Error($"--eta: {e} is outside 0..1");
        if (GuidanceMaxSigma is { } gm && (!float.IsFinite(gm) || gm < 0))
            return ValidationResult.Error($"--guidance-max-sigma: {gm} must be 0 (every step) or a positive noise level");
        if (Batch is < 1 or > 256) return ValidationResult.Error($"--batch: {Batch} is outside 1..256");
        return ValidationResult.Success();
    }

    /// <summary>The sampling options: the model's defaults overridden by what was given.</summary>
    public SamplingOptions ResolveSampling(SamplingOptions modelDefaults) => modelDefaults with
    {
        Sampler = Sampler?.ToLowerInvariant() ?? modelDefaults.Sampler,
        Schedule = Schedule?.ToLowerInvariant() ?? modelDefaults.Schedule,
        Steps = Steps ?? modelDefaults.Steps,
        Guidance = Guidance ?? modelDefaults.Guidance,
        Eta = Eta ?? modelDefaults.Eta,
        GuidanceMaxSigma = GuidanceMaxSigma switch { null => modelDefaults.GuidanceMaxSigma, 0f => float.PositiveInfinity, { } g => g },
    };

    /// <summary>A seed when none was given: random, so every run of the endless pack is new, yet printed and kept in the names.</summary>
    public ulong ResolveSeed() => Seed ?? (ulong)Random.Shared.NextInt64(0, 1L << 31);
}

/// <summary>Options of the commands that transform one input WAV.</summary>
public class SourceSettings : SamplingSettings
{
    [CommandArgument(0, "<IN.wav>")]
    [Description("The sound to start from (any rate: resampled to the model rate; stereo is mixed to mono)")]
    public string Input { get; init; } = "";

    [CommandOption("--count <N>")]
    [Description("How many results")]
    [DefaultValue(1)]
    public int Count { get; init; } = 1;

    [CommandOption("--first-index <N>")]
    [Description("Index of the first result (redo result i alone with --first-index i --count 1)")]
    [DefaultValue(0)]
    public int FirstIndex { get; init; }

    [CommandOption("--out <DIR>")]
    [Description("Output folder (default: the input's folder)")]
    public string? Out { get; init; }

    public override ValidationResult Validate()
    {
        var b = base.Validate();
        if (!b.Successful) return b;
        if (Count is < 1 or > 100000) return ValidationResult.Error($"--count: {Count} is outside 1..100000");
        if (FirstIndex < 0) return ValidationResult.Error($"--first-index: {FirstIndex} is negative");
        return ValidationResult.Success();
    }
}
