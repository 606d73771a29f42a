using DiffusionPlugin.Engine.Diffusion;

namespace DiffusionPlugin.Engine.Tests.Diffusion;

/// <summary>Where the committed test models are, and small fakes.</summary>
internal static class TestModels
{
    public const float Mu = 0.1f, SigmaData = 0.5f;

    /// <summary>models/test/analytic-gaussian/manifest.json, found upwards from the test binaries.</summary>
    public static string AnalyticManifest { get; } = FindUp(Path.Combine("models", "test", "analytic-gaussian", "manifest.json"));

    public static string AnalyticDirectory => Path.GetDirectoryName(AnalyticManifest)!;

    public static ExecutionOptions Cpu { get; } = new() { Device = ExecutionDevice.Cpu, IntraOpThreads = 1 };

    public static OnnxDenoiser LoadAnalyticOnnx() => DiffusionModel.LoadDenoiser(AnalyticManifest, Cpu);

    public static AnalyticGaussianDenoiser Analytic() => new(Mu, SigmaData);

    public static string FindUp(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, relative);
            if (File.Exists(candidate)) return candidate;
        }
        throw new FileNotFoundException($"{relative} not found above {AppContext.BaseDirectory}");
    }

    /// <summary>A fresh temporary folder holding a copy of the analytic model, for tests that break it.</summary>
    public static string CopyAnalyticToTemp() => CopyToTemp(AnalyticDirectory);

    /// <summary>A fresh temporary folder holding a copy of the files of <paramref name="modelDirectory"/>.</summary>
    public static string CopyToTemp(string modelDirectory)
    {
        var dir = Path.Combine(Path.GetTempPath(), "diffusionplugin-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        foreach (var f in Directory.GetFiles(modelDirectory)) File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
        return dir;
    }

    public static ulong[] Seeds(int count, ulong first = 1)
    {
        var s = new ulong[count];
        for (int i = 0; i < count; i++) s[i] = first + (ulong)i;
        return s;
    }

    public static DiffusionConditioning[] Conditions(int count, int classId = 0, float velocity = 1f)
        => Enumerable.Repeat(new DiffusionConditioning(classId, velocity), count).ToArray();
}

/// <summary>
/// A Gaussian whose mean depends on the class: the ideal denoiser for x0 ~ N(μ_c, σd²) with μ_c = classMeans[c],
/// and μ = unconditionalMean for the null class. Records the batch sizes and conditionings it is called with.
/// </summary>
internal sealed class ClassGaussianDenoiser(float[] classMeans, float unconditionalMean, float sigmaData = 0.5f) : IDenoiser
{
    public List<int> BatchSizes { get; } = new();
    public List<DiffusionConditioning[]> Calls { get; } = new();
    public bool Record { get; set; } = true;

    public int SampleRateHz => 44100;
    public int ClipSamples => 1024;
    public int LengthMultiple => 1;
    public IReadOnlyList<string> ClassNames => classMeans.Select((_, i) => $"class{i}").ToArray();
    public float SigmaMin => 0.002f;
    public float SigmaMax => 80f;
    public float SigmaData => sigmaData;

    public void Denoise(ReadOnlySpan<float> x, ReadOnlySpan<float> sigma, ReadOnlySpan<DiffusionConditioning> conditioning,
                        int batch, int length, Span<float> denoised)
    {
        if (Record)
        {
            BatchSizes.Add(batch);
            Calls.Add(conditioning[..batch].ToArray());
        }
        float sd2 = sigmaData * sigmaData;
        for (int b = 0; b < batch; b++)
        {
            float mu = conditioning[b].ClassId == DiffusionConditioning.Unconditional ? unconditionalMean : classMeans[conditioning[b].ClassId];
            float s2 = sigma[b] * sigma[b];
            for (int t = 0; t < length; t++)
                denoised[b * length + t] = (sd2 * x[b * length + t] + s2 * mu) / (sd2 + s2);
        }
    }

    public void Dispose() { }
}
