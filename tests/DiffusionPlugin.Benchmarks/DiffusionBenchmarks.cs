using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using DiffusionPlugin.Engine.Diffusion;

namespace DiffusionPlugin.Benchmarks;

/// <summary>
/// The model the diffusion benchmarks run: the shipped one (models/drums/manifest.json, or $DIFFUSIONPLUGIN_MODEL) when it
/// exists, else the closed-form Gaussian test graph, so the harness itself is always measurable.
/// Device: $DIFFUSIONPLUGIN_DEVICE = auto|cpu|cuda (default cpu, the target); threads: ORT default (cores − 1).
/// </summary>
public static class BenchmarkModel
{
    public static string ManifestPath { get; } =
        ModelLocator.FindDefaultManifest() ?? FindUp(Path.Combine("models", "test", "analytic-gaussian", "manifest.json"));

    public static ExecutionOptions Execution { get; } = new()
    {
        Device = (Environment.GetEnvironmentVariable("DIFFUSIONPLUGIN_DEVICE") ?? "cpu").ToLowerInvariant() switch
        {
            "auto" => ExecutionDevice.Auto,
            "cuda" => ExecutionDevice.Cuda,
            _ => ExecutionDevice.Cpu,
        },
    };

    /// <summary>Samples in one hit: the clip length, at least 0.5 s, rounded up to the model's length multiple.</summary>
    public static int HitSamples(IDenoiser d)
    {
        int half = (d.SampleRateHz + 1) / 2;
        int n = Math.Max(d.ClipSamples, half);
        return (n + d.LengthMultiple - 1) / d.LengthMultiple * d.LengthMultiple;
    }

    public static string FindUp(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, relative);
            if (File.Exists(candidate)) return candidate;
        }
        throw new FileNotFoundException($"{relative} not found above {AppContext.BaseDirectory}");
    }
}

/// <summary>Milliseconds per denoiser call (one ONNX Runtime run) at batch 1, 4, 16.</summary>
public class DenoiserCallBenchmarks
{
    private OnnxDenoiser _denoiser = null!;
    private float[] _x = [], _d = [], _sigma = [];
    private DiffusionConditioning[] _cond = [];
    private int _length;

    [Params(1, 4, 8, 16)] public int Batch { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _denoiser = DiffusionModel.LoadDenoiser(BenchmarkModel.ManifestPath, BenchmarkModel.Execution);
        Console.WriteLine($"// model {_denoiser.Manifest.Name} ({BenchmarkModel.ManifestPath}) on {_denoiser.ActiveDevice}, {_denoiser.IntraOpThreads} threads");
        _length = BenchmarkModel.HitSamples(_denoiser);
        _x = new float[Batch * _length];
        _d = new float[Batch * _length];
        new NoiseGenerator(1).FillGaussian(_x);
        _sigma = Enumerable.Repeat(1f, Batch).ToArray();
        _cond = Enumerable.Repeat(new DiffusionConditioning(0, 1f), Batch).ToArray();
        _denoiser.Denoise(_x, _sigma, _cond, Batch, _length, _d);
    }

    [Benchmark]
    public void DenoiserCall() => _denoiser.Denoise(_x, _sigma, _cond, Batch, _length, _d);

    [GlobalCleanup]
    public void Cleanup() => _denoiser.Dispose();
}

/// <summary>
/// Fresh hits per second: one Generate of <see cref="Batch"/> hits at 8, 16, 32 steps with the model's default sampler
/// and guidance (guidance ≠ 1 doubles the batch the denoiser sees). The Hits/s column is Batch / Mean.
/// </summary>
[Config(typeof(HitsConfig))]
public class GenerationBenchmarks
{
    private IDiffusionOperations _ops = null!;
    private SamplingOptions _options = null!;
    private DiffusionConditioning[] _cond = [];
    private ulong[] _seeds = [];
    private float[] _out = [];
    private int _length;

    [Params(6, 8, 16)] public int Steps { get; set; }
    [Params(1, 4, 8, 16)] public int Batch { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _ops = DiffusionModel.Load(BenchmarkModel.ManifestPath, BenchmarkModel.Execution);
        var manifest = ((OnnxDenoiser)_ops.Denoiser).Manifest;
        _options = manifest.Defaults.ToSamplingOptions() with { Steps = Steps };
        _length = BenchmarkModel.HitSamples(_ops.Denoiser);
        _cond = Enumerable.Range(0, Batch).Select(i => new DiffusionConditioning(i % manifest.Classes.Length, 0.8f)).ToArray();
        _seeds = Enumerable.Range(1, Batch).Select(i => (ulong)i).ToArray();
        _out = new float[Batch * _length];
        Console.WriteLine($"// model {manifest.Name}: {_options} length {_length}");
        _ops.Generate(_cond, _seeds, _length, _options, _out);
    }

    [Benchmark]
    public void Generate() => _ops.Generate(_cond, _seeds, _length, _options, _out);

    [GlobalCleanup]
    public void Cleanup() => _ops.Dispose();
}

/// <summary>
/// Managed bytes allocated per sampler step (MemoryDiagnoser; Allocated is per step through OperationsPerInvoke):
/// a warm 8-step generation of one hit through the ONNX path, for every sampler. The target is 0 B.
/// </summary>
[MemoryDiagnoser]
public class SamplerStepAllocationBenchmarks
{
    private const int Steps = 8;
    private IDiffusionOperations _ops = null!;
    private SamplingOptions _options = null!;
    private readonly DiffusionConditioning[] _cond = [new(0, 1f)];
    private readonly ulong[] _seeds = [7];
    private float[] _out = [];
    private int _length;

    [Params("euler", "heun", "ddim", "dpmpp_2m")] public string Sampler { get; set; } = "euler";
    [Params(1f, 2f)] public float Guidance { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _ops = DiffusionModel.Load(BenchmarkModel.ManifestPath, BenchmarkModel.Execution);
        _options = new SamplingOptions { Sampler = Sampler, Steps = Steps, Guidance = Guidance, Eta = Sampler == "ddim" ? 1f : 0f };
        _length = Math.Min(BenchmarkModel.HitSamples(_ops.Denoiser), 4096 / _ops.Denoiser.LengthMultiple * _ops.Denoiser.LengthMultiple);
        _out = new float[_length];
        _ops.Generate(_cond, _seeds, _length, _options, _out);
    }

    [Benchmark(OperationsPerInvoke = Steps)]
    public void SamplerStep() => _ops.Generate(_cond, _seeds, _length, _options, _out);

    [GlobalCleanup]
    public void Cleanup() => _ops.Dispose();
}

/// <summary>Adds the Hits/s column to <see cref="GenerationBenchmarks"/>.</summary>
public sealed class HitsConfig : ManualConfig
{
    public HitsConfig() => AddColumn(new HitsPerSecondColumn());
}

/// <summary>Batch / mean time: generated hits per second.</summary>
public sealed class HitsPerSecondColumn : IColumn
{
    public string Id => nameof(HitsPerSecondColumn);
    public string ColumnName => "Hits/s";
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => 0;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => "Fresh hits generated per second (Batch / Mean)";
    public bool IsAvailable(Summary summary) => true;
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style) => GetValue(summary, benchmarkCase);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase)
    {
        var mean = summary[benchmarkCase]?.ResultStatistics?.Mean;
        var batch = benchmarkCase.Parameters.Items.FirstOrDefault(p => p.Name == "Batch")?.Value;
        if (mean is not > 0 || batch is not int b) return "-";
        return (b / (mean.Value / 1e9)).ToString("F1");
    }
}
