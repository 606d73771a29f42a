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
                if (Str(d, "sampler") is { } s) defaults = defaults with { Sampler = s };
                if (Str(d, "schedule") is { } sc) defaults = defaults with { Schedule = sc };
                if (d.TryGetProperty("steps", out var st) && st.TryGetInt32(out int steps)) defaults = defaults with { Steps = steps };
                if (d.TryGetProperty("guidance", out var g) && g.TryGetSingle(out float guidance)) defaults = defaults with { Guidance = guidance };
                if (d.TryGetProperty("guidanceMaxSigma", out var gm) && gm.TryGetSingle(out float limit) && limit > 0)
                    defaults = defaults with { GuidanceMaxSigma = limit };
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
            };
        }
    }

    static string? Str(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
}
