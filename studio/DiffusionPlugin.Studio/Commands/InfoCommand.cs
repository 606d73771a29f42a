using DiffusionPlugin.Studio.Backend;
using Spectre.Console;
using Spectre.Console.Cli;

namespace DiffusionPlugin.Studio.Commands;

public sealed class InfoSettings : StudioSettings { }

/// <summary>info: what model would run, from where, on which execution provider and why.</summary>
public sealed class InfoCommand(StudioContext context) : StudioCommand<InfoSettings>(context)
{
    protected override int Run(InfoSettings s, CancellationToken cancellation)
    {
        using LoadedModel model = LoadModel(s);
        var den = model.Denoiser;
        var m = model.Manifest;
        var rows = new List<(string key, string value)>();
        void Row(string key, string value) => rows.Add((key, value));
        Row("model", m.Name + (m.IsAnalytic ? " (closed-form test model)" : ""));
        Row("manifest", model.ManifestPath);
        if (m.ModelFile is { } f) Row("onnx", Path.Combine(Path.GetDirectoryName(model.ManifestPath)!, f));
        Row("execution provider", model.ExecutionProvider);
        Row("why", model.ExecutionReason);
        Row("sample rate", $"{den.SampleRateHz} Hz");
        Row("clip", $"{den.ClipSamples} samples ({(double)den.ClipSamples / den.SampleRateHz:0.000} s), lengths a multiple of {den.LengthMultiple}");
        Row("classes", den.ClassNames.Count == 0 ? "(unconditional)" : string.Join(", ", den.ClassNames));
        Row("noise levels", $"σ {F(den.SigmaMin)} … {F(den.SigmaMax)}, σ_data {F(den.SigmaData)}");
        if (m.Parameterization is { } p) Row("parameterization", p);
        Row("defaults", $"{m.Defaults.Sampler}, {m.Defaults.Schedule} schedule, {m.Defaults.Steps} steps, guidance {F(m.Defaults.Guidance)}"
                        + (float.IsFinite(m.Defaults.GuidanceMaxSigma) ? $" at σ ≤ {F(m.Defaults.GuidanceMaxSigma)}" : ""));
        if (m.Guide is { } g)
            Row("autoguidance", g.Weight == 1f ? $"off (weight 1; guide {g.Model} not loaded)"
                : $"weight {F(g.Weight)} above σ {F(g.MinSigma)}, guide {g.Model}" + (g.TrainingSteps is { } n ? $" ({n} training steps)" : ""));
        if (den.Calibration is { } c)
            Row("calibration", $"{c.FilePath}: per-class EQ for {string.Join(", ", den.ClassNames.Where(c.Covers))}");
        else if (den is DiffusionPlugin.Engine.Diffusion.OnnxDenoiser { CalibrationProblem: { } problem })
            Row("calibration", $"not used ({problem})");
        if (m.TrainingData is { } t) Row("training data", t);
        int width = rows.Max(r => r.key.Length);
        foreach (var (key, value) in rows) Context.Console.WriteLine($"{key.PadRight(width)}  {value}");
        return StudioExitCodes.Success;
    }
}
