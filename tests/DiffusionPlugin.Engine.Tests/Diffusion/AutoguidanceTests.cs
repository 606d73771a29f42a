using System.Text.Json.Nodes;
using DiffusionPlugin.Engine.Diffusion;

namespace DiffusionPlugin.Engine.Tests.Diffusion;

/// <summary>
/// models/test/analytic-gaussian-autoguided pairs the Gaussian denoiser for mean 0.1 with a guide for mean −0.3
/// (weight 2 above σ 1). D_guide + w·(D − D_guide) is then the Gaussian denoiser for mean w·0.1 − (w − 1)·(−0.3) = 0.5.
/// </summary>
public class AutoguidanceTests
{
    private const float GuideMu = -0.3f, Weight = 2f, MinSigma = 1f;

    private static string GuidedManifest => Path.Combine(Path.GetDirectoryName(TestModels.AnalyticDirectory)!, "analytic-gaussian-autoguided", "manifest.json");

    private static string GuidedCopy(Action<JsonObject> edit)
    {
        var dir = TestModels.CopyToTemp(Path.GetDirectoryName(GuidedManifest)!);
        var node = JsonNode.Parse(File.ReadAllText(GuidedManifest))!.AsObject();
        edit(node);
        File.WriteAllText(Path.Combine(dir, "manifest.json"), node.ToJsonString());
        return Path.Combine(dir, "manifest.json");
    }

    [Fact]
    public void Above_the_guides_sigma_the_denoiser_extrapolates_away_from_the_guide_and_below_it_is_the_model_alone()
    {
        using var onnx = DiffusionModel.LoadDenoiser(GuidedManifest, TestModels.Cpu);
        Assert.NotNull(onnx.Guide);
        Assert.Equal(Weight, onnx.Manifest.Guide!.Weight);
        float[] sigmas = [0.002f, 0.5f, 1f, 1.5f, 5f, 80f];
        int length = 256, batch = sigmas.Length;
        var x = new float[batch * length];
        new NoiseGenerator(11).FillGaussian(x);
        var d = new float[x.Length];
        onnx.Denoise(x, sigmas, TestModels.Conditions(batch), batch, length, d);

        float expectedMu = Weight * TestModels.Mu - (Weight - 1) * GuideMu;
        var model = TestModels.Analytic();
        var guided = new AnalyticGaussianDenoiser(expectedMu, TestModels.SigmaData);
        var plain = new float[x.Length];
        var extrapolated = new float[x.Length];
        model.Denoise(x, sigmas, TestModels.Conditions(batch), batch, length, plain);
        guided.Denoise(x, sigmas, TestModels.Conditions(batch), batch, length, extrapolated);
        for (int b = 0; b < batch; b++)
        {
            var want = sigmas[b] > MinSigma ? extrapolated : plain;
            for (int t = 0; t < length; t++)
            {
                int i = b * length + t;
                Assert.True(MathF.Abs(d[i] - want[i]) <= 2e-5f * MathF.Max(1f, MathF.Abs(want[i])), $"σ {sigmas[b]}, sample {t}: {d[i]} vs {want[i]}");
            }
        }
    }

    [Fact]
    public void Under_auto_the_guide_runs_where_the_model_runs_and_a_cpu_fallback_names_the_models_reason()
    {
        using var onnx = DiffusionModel.LoadDenoiser(GuidedManifest, new ExecutionOptions { Device = ExecutionDevice.Auto, IntraOpThreads = 1 });
        var guide = onnx.Guide!;
        Assert.Equal(onnx.ActiveDevice, guide.ActiveDevice);
        if (onnx.ActiveDevice == ExecutionDevice.Cpu)
            Assert.Equal($"as the model: {onnx.DeviceReason}", guide.DeviceReason);
    }

    [Fact]
    public void A_guide_whose_weight_is_one_is_not_loaded_and_changes_nothing()
    {
        var manifest = GuidedCopy(m => m["guide"]!["weight"] = 1.0);
        using var onnx = DiffusionModel.LoadDenoiser(manifest, TestModels.Cpu);
        Assert.Null(onnx.Guide);
        float[] sigmas = [5f];
        var x = new float[256];
        new NoiseGenerator(3).FillGaussian(x);
        var d = new float[256];
        var want = new float[256];
        onnx.Denoise(x, sigmas, TestModels.Conditions(1), 1, 256, d);
        TestModels.Analytic().Denoise(x, sigmas, TestModels.Conditions(1), 1, 256, want);
        for (int i = 0; i < d.Length; i++) Assert.True(MathF.Abs(d[i] - want[i]) <= 1e-5f, $"{i}: {d[i]} vs {want[i]}");
    }

    [Fact]
    public void A_missing_guide_file_is_refused_by_name()
    {
        var manifest = GuidedCopy(m => m["guide"]!["model"] = "no-such-guide.onnx");
        var e = Assert.Throws<ModelLoadException>(() => DiffusionModel.Load(manifest, TestModels.Cpu).Dispose());
        Assert.Contains("no-such-guide.onnx", e.Message);
        Assert.Contains("guide ONNX file not found", e.Message);
    }

    [Theory]
    [InlineData("weight", -1.0, "guide.weight")]
    [InlineData("minSigma", -0.5, "guide.minSigma")]
    public void Guide_settings_out_of_range_are_refused_by_name(string field, double value, string named)
    {
        var node = JsonNode.Parse(File.ReadAllText(GuidedManifest))!.AsObject();
        node["guide"]![field] = value;
        var e = Assert.Throws<ModelLoadException>(() =>
            ModelManifest.Parse(System.Text.Encoding.UTF8.GetBytes(node.ToJsonString()), GuidedManifest));
        Assert.Contains(named, e.Message);
    }

    [Fact]
    public void A_guide_block_that_leaves_out_its_settings_keeps_their_defaults()
    {
        var node = JsonNode.Parse(File.ReadAllText(GuidedManifest))!.AsObject();
        node["guide"] = new JsonObject { ["model"] = "guide.onnx" };
        var m = ModelManifest.Parse(System.Text.Encoding.UTF8.GetBytes(node.ToJsonString()), GuidedManifest);
        Assert.Equal(1f, m.Guide!.Weight);
        Assert.Equal(0f, m.Guide.MinSigma);
    }

    [Fact]
    public void Sampling_with_the_autoguided_graph_allocates_nothing_after_the_first_call()
    {
        using var ops = DiffusionModel.Load(GuidedManifest, TestModels.Cpu);
        var options = new SamplingOptions { Sampler = "dpmpp_2m", Steps = 8 };
        var output = new float[4 * 512];
        var cond = TestModels.Conditions(4);
        var seeds = TestModels.Seeds(4);
        ops.Generate(cond, seeds, 512, options, output);
        long before = GC.GetAllocatedBytesForCurrentThread();
        ops.Generate(cond, seeds, 512, options, output);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < 4096, $"{allocated} bytes allocated by a repeated generation");
    }
}
