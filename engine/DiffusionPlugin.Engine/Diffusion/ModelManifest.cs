using System.Text.Json;
using System.Text.Json.Serialization;

namespace DiffusionPlugin.Engine.Diffusion;

/// <summary>
/// manifest.json beside a model's ONNX graph (docs/model-contract.md). Read with a source-generated
/// System.Text.Json context, so it works trimmed and under NativeAOT. Immutable after load; any thread.
/// </summary>
public sealed record ModelManifest
{
    /// <summary>The only format version this engine reads.</summary>
    public const int SupportedFormatVersion = 1;

    public int FormatVersion { get; init; }
    public string Name { get; init; } = "";
    /// <summary>ONNX file, relative to the manifest's folder.</summary>
    public string Model { get; init; } = "";
    public int SampleRateHz { get; init; }
    public int ClipSamples { get; init; }
    public int LengthMultiple { get; init; } = 1;
    public string[] Classes { get; init; } = [];
    /// <summary>class_id fed to the graph for the unconditional (CFG) branch.</summary>
    public int NullClassId { get; init; }
    public ManifestConditioning Conditioning { get; init; } = new();
    /// <summary>"edm" (output is D), "eps" (output is ε̂) or "v" (output is v̂).</summary>
    public string Parameterization { get; init; } = "edm";
    public float SigmaData { get; init; } = 0.5f;
    public float SigmaMin { get; init; } = 0.002f;
    public float SigmaMax { get; init; } = 80f;
    public ManifestInputs Inputs { get; init; } = new();
    public ManifestOutputs Outputs { get; init; } = new();
    public ManifestDefaults Defaults { get; init; } = new();
    /// <summary>Where the training data came from; free-form, kept as JSON.</summary>
    public JsonElement? Training { get; init; }
    /// <summary>Set only for the closed-form Gaussian test graph.</summary>
    public ManifestAnalytic? Analytic { get; init; }
    /// <summary>Optional autoguidance: a weaker model with the same contract that the denoiser extrapolates away from.</summary>
    public ManifestGuide? Guide { get; init; }
    /// <summary>Optional spectral calibration file (<see cref="SpectralCalibration"/>), relative to the manifest's folder.</summary>
    public string? Calibration { get; init; }
    /// <summary>With timbre conditioning (<see cref="ManifestConditioning.Descriptors"/>): each class's timbres (<see cref="TimbrePrior"/>).</summary>
    public Dictionary<string, ManifestTimbrePrior>? DescriptorPrior { get; init; }

    /// <summary>Folder the manifest was read from (not part of the JSON).</summary>
    [JsonIgnore] public string Directory { get; init; } = "";
    /// <summary>Absolute path of the manifest file (not part of the JSON).</summary>
    [JsonIgnore] public string ManifestPath { get; init; } = "";
    /// <summary>Absolute path of the ONNX graph.</summary>
    [JsonIgnore] public string ModelPath => Path.GetFullPath(Path.Combine(Directory, Model));
    /// <summary>Absolute path of the guide's ONNX graph; null without a guide.</summary>
    [JsonIgnore] public string? GuideModelPath => Guide is { } g ? Path.GetFullPath(Path.Combine(Directory, g.Model)) : null;
    /// <summary>Absolute path of the calibration file; null without one.</summary>
    [JsonIgnore] public string? CalibrationPath => string.IsNullOrWhiteSpace(Calibration) ? null : Path.GetFullPath(Path.Combine(Directory, Calibration));

    /// <summary>
    /// Reads and validates a manifest. Throws <see cref="ModelLoadException"/> (one line: file and problem) for a missing
    /// or unreadable file, malformed JSON, an unknown formatVersion or a field out of range. Any non-audio thread.
    /// </summary>
    public static ModelManifest Load(string manifestPath)
    {
        ArgumentNullException.ThrowIfNull(manifestPath);
        var full = Path.GetFullPath(manifestPath);
        if (System.IO.Directory.Exists(full)) full = Path.Combine(full, "manifest.json");
        return Parse(ReadFile(full, "manifest"), full);
    }

    /// <summary>
    /// The bytes of a model's JSON file (<paramref name="what"/>: "manifest", "calibration"), or a
    /// <see cref="ModelLoadException"/> naming it: "… file not found" or "… cannot be read (reason)".
    /// </summary>
    internal static byte[] ReadFile(string fullPath, string what)
    {
        if (!File.Exists(fullPath)) throw new ModelLoadException(fullPath, $"{what} file not found");
        try { return File.ReadAllBytes(fullPath); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelLoadException(fullPath, $"{what} cannot be read ({OneLine(e.Message)})", e);
        }
    }

    /// <summary>Parses and validates manifest JSON; <paramref name="manifestPath"/> names it in errors and anchors relative paths.</summary>
    public static ModelManifest Parse(ReadOnlySpan<byte> utf8Json, string manifestPath)
    {
        // The version is read first and on its own, so a future format with a different shape is reported as
        // "unknown formatVersion" rather than as whatever field happens not to parse.
        int version;
        try
        {
            var reader = new Utf8JsonReader(utf8Json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            using var doc = JsonDocument.ParseValue(ref reader);
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new ModelLoadException(manifestPath, "manifest is not a JSON object");
            if (!doc.RootElement.TryGetProperty("formatVersion", out var v))
                throw new ModelLoadException(manifestPath, "manifest has no formatVersion");
            if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out version))
                throw new ModelLoadException(manifestPath, $"formatVersion is not an integer ({OneLine(v.GetRawText())})");
        }
        catch (JsonException e)
        {
            throw new ModelLoadException(manifestPath, $"manifest is not valid JSON ({OneLine(e.Message)})", e);
        }
        if (version != SupportedFormatVersion)
            throw new ModelLoadException(manifestPath, $"unknown formatVersion {version} (this engine reads {SupportedFormatVersion})");

        ModelManifest? m;
        try { m = JsonSerializer.Deserialize(utf8Json, ManifestJsonContext.Default.ModelManifest); }
        catch (JsonException e)
        {
            throw new ModelLoadException(manifestPath, $"manifest does not match the format ({OneLine(e.Message)})", e);
        }
        if (m is null) throw new ModelLoadException(manifestPath, "manifest is empty");
        // An explicit null for a block means "absent"; the checks below then name what is missing.
        m = m with
        {
            ManifestPath = manifestPath,
            Directory = Path.GetDirectoryName(manifestPath) ?? ".",
            Classes = m.Classes ?? [],
            Conditioning = m.Conditioning ?? new ManifestConditioning(),
            Inputs = m.Inputs ?? new ManifestInputs { X = "", Sigma = "" },
            Outputs = m.Outputs ?? new ManifestOutputs { Denoised = "" },
            Defaults = m.Defaults ?? new ManifestDefaults(),
            Model = m.Model ?? "",
            Name = m.Name ?? "",
            Parameterization = m.Parameterization ?? "",
        };
        m.Validate();
        return m;
    }

    /// <summary>Checks every field's range; throws <see cref="ModelLoadException"/> naming the first bad one.</summary>
    public void Validate()
    {
        void Fail(string problem) => throw new ModelLoadException(ManifestPath, problem);
        if (string.IsNullOrWhiteSpace(Model)) Fail("manifest field 'model' (the ONNX file) is missing");
        if (SampleRateHz is < 8000 or > 384000) Fail($"sampleRateHz {SampleRateHz} is out of range 8000..384000");
        if (LengthMultiple < 1) Fail($"lengthMultiple {LengthMultiple} must be at least 1");
        if (ClipSamples < 1 || ClipSamples % LengthMultiple != 0)
            Fail($"clipSamples {ClipSamples} must be positive and a multiple of lengthMultiple {LengthMultiple}");
        if (Classes is null || Classes.Length == 0) Fail("manifest lists no classes");
        if (NullClassId < 0) Fail($"nullClassId {NullClassId} is negative");
        // A left-out nullClassId reads as 0; with class conditioning that would make guidance's unconditional branch
        // play the first class (a kick), so it is refused rather than guessed.
        if (Conditioning.Class && Classes is { Length: > 0 } && NullClassId < Classes.Length)
            Fail($"nullClassId {NullClassId} is the class '{Classes[NullClassId]}': the unconditional (null) class must come after the {Classes.Length} classes");
        if (Parameterization is not ("edm" or "eps" or "v"))
            Fail($"unknown parameterization '{Parameterization}' (expected edm, eps or v)");
        if (!(SigmaData > 0) || !float.IsFinite(SigmaData)) Fail($"sigmaData {SigmaData} must be positive");
        if (!(SigmaMin > 0) || !(SigmaMax > SigmaMin) || !float.IsFinite(SigmaMax))
            Fail($"sigma range [{SigmaMin}, {SigmaMax}] is invalid (need 0 < sigmaMin < sigmaMax)");
        if (Defaults.GuidanceMaxSigma is { } limit && !(limit > 0))
            Fail($"defaults.guidanceMaxSigma {limit} must be positive (leave it out for guidance at every step)");
        if (string.IsNullOrWhiteSpace(Inputs?.X) || string.IsNullOrWhiteSpace(Inputs.Sigma))
            Fail("manifest inputs must name 'x' and 'sigma'");
        if (string.IsNullOrWhiteSpace(Outputs?.Denoised)) Fail("manifest outputs must name 'denoised'");
        if (Conditioning.Class && string.IsNullOrWhiteSpace(Inputs!.ClassId)) Fail("conditioning.class is true but inputs.classId is not named");
        if (Conditioning.Velocity && string.IsNullOrWhiteSpace(Inputs!.Velocity)) Fail("conditioning.velocity is true but inputs.velocity is not named");
        if (Conditioning.Descriptors is { Length: > 0 } names)
        {
            if (!names.SequenceEqual(TimbrePrior.Names))
                Fail($"conditioning.descriptors [{string.Join(", ", names)}] is not [{string.Join(", ", TimbrePrior.Names)}], the descriptors this engine knows");
            if (string.IsNullOrWhiteSpace(Inputs!.Descriptor)) Fail("conditioning.descriptors is set but inputs.descriptor is not named");
            if (DescriptorPrior is not { Count: > 0 }) Fail("conditioning.descriptors is set but descriptorPrior is missing");
            foreach (var (name, entry) in DescriptorPrior!)
            {
                if (!Classes!.Contains(name)) Fail($"descriptorPrior names '{name}', which is not one of the classes");
                string problem = entry?.Problem() ?? "is null";
                if (problem.Length > 0) Fail($"descriptorPrior '{name}': {problem}");
            }
        }
        if (Guide is { } guide)
        {
            if (string.IsNullOrWhiteSpace(guide.Model)) Fail("guide.model (the guide's ONNX file) is missing");
            if (!(guide.Weight >= 0) || !float.IsFinite(guide.Weight)) Fail($"guide.weight {guide.Weight} must be finite and not negative");
            if (!(guide.MinSigma >= 0) || !float.IsFinite(guide.MinSigma)) Fail($"guide.minSigma {guide.MinSigma} must be finite and not negative");
        }
        if (Analytic is { } a && (!(a.SigmaData > 0) || !float.IsFinite(a.Mu)))
            Fail("analytic block needs a finite mu and a positive sigmaData");
    }

    internal static string OneLine(string s)
    {
        var line = s.ReplaceLineEndings(" ").Trim();
        return line.Length > 300 ? line[..300] + "…" : line;
    }
}

/// <summary>Which conditioning inputs the graph actually uses.</summary>
public sealed record ManifestConditioning
{
    public bool Class { get; init; }
    public bool Velocity { get; init; }
    /// <summary>Timbre descriptors the graph takes (<see cref="TimbrePrior.Names"/>, in that order); null or empty = none.</summary>
    public string[]? Descriptors { get; init; }
}

/// <summary>One class's timbres in a manifest's <c>descriptorPrior</c>: mean + slope·velocity + chol·z, z ~ N(0, I).</summary>
public sealed record ManifestTimbrePrior
{
    public float[]? Mean { get; init; }
    public float[]? Slope { get; init; }
    /// <summary>Lower-triangular Cholesky factor, <see cref="TimbrePrior.Count"/> rows of as many values.</summary>
    public float[][]? Chol { get; init; }

    /// <summary>What is wrong with this entry (one phrase), or "" when it is usable.</summary>
    internal string Problem()
    {
        static bool Finite(float[]? a) => a is { Length: TimbrePrior.Count } && a.All(float.IsFinite);
        if (!Finite(Mean)) return $"mean must be {TimbrePrior.Count} finite numbers";
        if (!Finite(Slope)) return $"slope must be {TimbrePrior.Count} finite numbers";
        if (Chol is not { Length: TimbrePrior.Count } || !Chol.All(Finite)) return $"chol must be {TimbrePrior.Count} rows of {TimbrePrior.Count} finite numbers";
        return "";
    }
}

/// <summary>Graph input names.</summary>
public sealed record ManifestInputs
{
    public string X { get; init; } = "x";
    public string Sigma { get; init; } = "sigma";
    public string? ClassId { get; init; } = "class_id";
    public string? Velocity { get; init; } = "velocity";
    /// <summary>The [batch, descriptors + 1] timbre input of a graph with timbre conditioning (last column: given or not).</summary>
    public string? Descriptor { get; init; }
}

/// <summary>Graph output names.</summary>
public sealed record ManifestOutputs
{
    public string Denoised { get; init; } = "denoised";
}

/// <summary>The sampling the model was tuned for. Every field may be left out of a manifest; it then keeps the value here.</summary>
/// <remarks>
/// Settable, not init-only, on purpose: the source-generated JSON reader fills init-only properties through one object
/// initialiser and so sets every absent one to 0 or null (a manifest with <c>"defaults": { "steps": 6 }</c> came out with
/// no sampler and guidance 0); with setters it constructs the record first, so the initialisers below stand.
/// </remarks>
public sealed record ManifestDefaults
{
    public string Sampler { get; set; } = "dpmpp_2m";
    public string Schedule { get; set; } = "karras";
    public int Steps { get; set; } = 8;
    public float Guidance { get; set; } = 1f;
    /// <summary>See <see cref="SamplingOptions.GuidanceMaxSigma"/>; absent (null) = guidance at every step.</summary>
    public float? GuidanceMaxSigma { get; set; }

    /// <summary>
    /// Reads a manifest's <c>defaults</c> object on its own, as the full manifest reader does (absent fields keep their
    /// defaults). Throws <see cref="JsonException"/> when a field has the wrong type. Any thread.
    /// </summary>
    public static ManifestDefaults FromJson(JsonElement defaults) =>
        defaults.Deserialize(ManifestJsonContext.Default.ManifestDefaults) ?? new ManifestDefaults();

    /// <summary>These defaults as <see cref="SamplingOptions"/>.</summary>
    public SamplingOptions ToSamplingOptions() => new()
    {
        Sampler = Sampler, Schedule = Schedule, Steps = Steps, Guidance = Guidance,
        GuidanceMaxSigma = GuidanceMaxSigma ?? float.PositiveInfinity,
    };
}

/// <summary>
/// Autoguidance (Karras et al. 2024, "Guiding a Diffusion Model with a Bad Version of Itself", eq. 2): at noise levels
/// above <see cref="MinSigma"/> the denoiser returns D_guide + <see cref="Weight"/>·(D − D_guide), where the guide
/// <see cref="Model"/> is a weaker model (smaller, trained for less time) with the same inputs, outputs and classes.
/// Settable for the reason given on <see cref="ManifestDefaults"/>: left-out fields keep the values here.
/// </summary>
public sealed record ManifestGuide
{
    /// <summary>The guide's ONNX file, relative to the manifest's folder.</summary>
    public string Model { get; set; } = "";
    /// <summary>Extrapolation weight w; 1 = the model alone (the guide is then never run).</summary>
    public float Weight { get; set; } = 1f;
    /// <summary>Autoguidance acts only where σ is above this (0 = at every σ).</summary>
    public float MinSigma { get; set; }
    /// <summary>How many training steps the guide had (information only).</summary>
    public int? TrainingSteps { get; set; }

    /// <summary>Reads a manifest's <c>guide</c> object on its own, as the full manifest reader does. Throws
    /// <see cref="JsonException"/> when a field has the wrong type. Any thread.</summary>
    public static ManifestGuide FromJson(JsonElement guide) =>
        guide.Deserialize(ManifestJsonContext.Default.ManifestGuide) ?? new ManifestGuide();
}

/// <summary>Parameters of the closed-form Gaussian test graph: data ~ N(mu, sigmaData²).</summary>
public sealed record ManifestAnalytic
{
    public float Mu { get; init; }
    public float SigmaData { get; init; }
}

/// <summary>Source-generated (reflection-free) JSON metadata for the manifest: trim- and NativeAOT-safe.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    ReadCommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true,
    NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals, WriteIndented = true)]
[JsonSerializable(typeof(ModelManifest))]
internal sealed partial class ManifestJsonContext : JsonSerializerContext;
