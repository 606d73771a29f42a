using System.Text.Json;
using DiffusionPlugin.Engine.Diffusion;

namespace DiffusionPlugin.Studio.Backend;

/// <summary>
/// What the studio shows and uses from a manifest.json beyond what the denoiser exposes: the model's name,
/// its ONNX file, its recommended sampling defaults and where its training data came from (docs/model-contract.md).
/// The engine validates the manifest when loading; this reader is lenient and only fills what it finds.
/// </summary>
public sealed record ManifestInfo
{
    public string Name { get; init; } = "(unnamed)";
    public string? ModelFile { get; init; }
    public int? SampleRateHz { get; init; }
    public IReadOnlyList<string> Classes { get; init; } = [];
    public string? Parameterization { get; init; }
    public SamplingOptions Defaults { get; init; } = new();
    public string? TrainingData { get; init; }
    public bool IsAnalytic { get; init; }
    /// <summary>The autoguidance guide (docs/model-contract.md), null when the manifest has none.</summary>
    public ManifestGuide? Guide { get; init; }

    /// <summary>Reads <paramref name="manifestPath"/>; throws <see cref="ModelLoadException"/> when it is missing or not JSON.</summary>
    public static ManifestInfo Read(string manifestPath)
    {
        if (!File.Exists(manifestPath)) throw new ModelLoadException(manifestPath, "manifest not found");
        JsonDocument doc;
        try { doc = JsonDocument.Parse(File.ReadAllBytes(manifestPath)); }
        catch (JsonException e) { throw new ModelLoadException(manifestPath, $"not valid JSON ({e.Message})", e); }
        catch (IOException e) { throw new ModelLoadException(manifestPath, $"cannot read ({e.Message})", e); }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new ModelLoadException(manifestPath, "manifest is not a JSON object");
            var defaults = new SamplingOptions();
            if (root.TryGetProperty("defaults", out var d) && d.ValueKind == JsonValueKind.Object)
            {
                // The engine's own reader of the block, so both agree on names and on what an absent field means;
                // lenient here: a block it cannot read leaves the studio's defaults, the engine reports it on load.
                try
                {
                    var read = ManifestDefaults.FromJson(d);
                    defaults = (read.GuidanceMaxSigma is > 0 ? read : read with { GuidanceMaxSigma = null }).ToSamplingOptions();
                }
                catch (JsonException) { }
            }
            ManifestGuide? guide = null;
            if (root.TryGetProperty("guide", out var g) && g.ValueKind == JsonValueKind.Object)
            {
                try { guide = ManifestGuide.FromJson(g); }
                catch (JsonException) { }
            }
            string? training = null;
            if (root.TryGetProperty("training", out var t) && t.ValueKind == JsonValueKind.Object) training = Str(t, "data");
            return new ManifestInfo
            {
                Name = Str(root, "name") ?? "(unnamed)",
                ModelFile = Str(root, "model"),
                SampleRateHz = root.TryGetProperty("sampleRateHz", out var r) && r.TryGetInt32(out int rate) ? rate : null,
                Classes = root.TryGetProperty("classes", out var c) && c.ValueKind == JsonValueKind.Array
                    ? c.EnumerateArray().Where(e => e.ValueKind == JsonValueKind.String).Select(e => e.GetString()!).ToArray()
                    : [],
                Parameterization = Str(root, "parameterization"),
                Defaults = defaults,
                TrainingData = training,
                IsAnalytic = root.TryGetProperty("analytic", out var a) && a.ValueKind == JsonValueKind.Object,
                Guide = guide,
            };
        }
    }

    /// <summary>What the studio shows of a manifest the engine has loaded and validated.</summary>
    public static ManifestInfo From(ModelManifest m) => new()
    {
        Name = m.Name,
        ModelFile = m.Model,
        SampleRateHz = m.SampleRateHz,
        Classes = m.Classes,
        Parameterization = m.Parameterization,
        Defaults = m.Defaults.ToSamplingOptions(),
        TrainingData = m.Training is { ValueKind: JsonValueKind.Object } t ? Str(t, "data") : null,
        IsAnalytic = m.Analytic is not null,
        Guide = m.Guide,
    };

    static string? Str(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
}
