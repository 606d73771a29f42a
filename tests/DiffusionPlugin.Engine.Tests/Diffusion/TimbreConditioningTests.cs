using System.Text;
using System.Text.Json.Nodes;
using DiffusionPlugin.Engine.Diffusion;

namespace DiffusionPlugin.Engine.Tests.Diffusion;

/// <summary>
/// models/test/analytic-gaussian-timbre takes timbre descriptors: it is the Gaussian denoiser for mean 0.1 + brightness
/// (brightness 0 when none is given), with a descriptorPrior for its one class and a guide (mean −0.3, weight 2 above
/// σ 1) whose graph has no descriptor input, as a guide trained without descriptors has none.
/// </summary>
public class TimbreConditioningTests
{
    private static string TimbreManifest => Path.Combine(Path.GetDirectoryName(TestModels.AnalyticDirectory)!, "analytic-gaussian-timbre", "manifest.json");

    [Fact]
    public void A_given_brightness_moves_the_hit_and_neither_a_hit_without_one_nor_the_unconditional_branch_sees_one()
    {
        using var onnx = DiffusionModel.LoadDenoiser(TimbreManifest, TestModels.Cpu);
        Assert.NotNull(onnx.Guide);
        Assert.NotNull(onnx.TimbrePrior);
        const int length = 64, batch = 3;
        var bright = new TimbreDescriptors(0.4f, 0f, 0f);
        DiffusionConditioning[] cond = [new(0, 1f, bright), new(0, 1f), new(DiffusionConditioning.Unconditional, 1f, bright)];
        var x = new float[batch * length];
        var d = new float[batch * length];
        onnx.Denoise(x, [0.5f, 0.5f, 0.5f], cond, batch, length, d); // σ 0.5: below the guide's σ, the model alone
        // D(0, σ) = σ²μ / (σd² + σ²) = μ / 2 at σ = σd = 0.5
        float[] expected = [(0.1f + 0.4f) / 2, 0.1f / 2, 0.1f / 2];
        for (int b = 0; b < batch; b++)
            Assert.All(d.AsSpan(b * length, length).ToArray(), v => Assert.Equal(expected[b], v, 5));
    }

    [Fact]
    public void The_prior_draws_one_timbre_per_seed_moves_it_along_the_velocity_line_and_spreads_as_its_cholesky_factor_says()
    {
        using var onnx = DiffusionModel.LoadDenoiser(TimbreManifest, TestModels.Cpu);
        var prior = onnx.TimbrePrior!;
        Assert.Equal(prior.Draw(0, 0.5f, 42), prior.Draw(0, 0.5f, 42));
        Assert.NotEqual(prior.Draw(0, 0.5f, 42), prior.Draw(0, 0.5f, 43));
        var soft = prior.Draw(0, 0f, 42)!.Value;
        var hard = prior.Draw(0, 1f, 42)!.Value;
        Assert.Equal(0.2f, hard.Brightness - soft.Brightness, 5);   // the manifest's slope: 0.2, 0, −0.1
        Assert.Equal(0f, hard.Noisiness - soft.Noisiness, 5);
        Assert.Equal(-0.1f, hard.Decay - soft.Decay, 5);
        Assert.Null(prior.Draw(1, 0.5f, 42)); // no such class
        Assert.Null(prior.Draw(DiffusionConditioning.Unconditional, 0.5f, 42));

        const int n = 20000;
        var draws = new double[n, 3];
        for (int i = 0; i < n; i++)
        {
            var t = prior.Draw(0, 0.5f, (ulong)i * 7919UL)!.Value;
            draws[i, 0] = t.Brightness; draws[i, 1] = t.Noisiness; draws[i, 2] = t.Decay;
        }
        double[] mean = [0.5 + 0.2 * 0.5, -1.0, 0.25 - 0.1 * 0.5];
        double[,] chol = { { 0.1, 0, 0 }, { 0.05, 0.2, 0 }, { 0, 0, 0.3 } };
        for (int j = 0; j < 3; j++)
        {
            double m = 0;
            for (int i = 0; i < n; i++) m += draws[i, j];
            Assert.Equal(mean[j], m / n, 2);
            for (int k = 0; k < 3; k++)
            {
                double cov = 0, want = 0, mk = 0;
                for (int i = 0; i < n; i++) mk += draws[i, k];
                mk /= n;
                for (int i = 0; i < n; i++) cov += (draws[i, j] - m / n) * (draws[i, k] - mk);
                for (int q = 0; q < 3; q++) want += chol[j, q] * chol[k, q];
                Assert.True(Math.Abs(cov / (n - 1) - want) < 0.004, $"covariance [{j},{k}] {cov / (n - 1):F4}, expected {want:F4}");
            }
        }
    }

    [Fact]
    public void A_fresh_hit_without_a_timbre_gets_the_one_its_seed_draws_and_a_brighter_timbre_makes_another_hit()
    {
        using var onnx = DiffusionModel.LoadDenoiser(TimbreManifest, TestModels.Cpu);
        using var ops = new DiffusionOperations(onnx);
        var prior = onnx.TimbrePrior!;
        var options = new SamplingOptions { Steps = 12 };
        const int length = 256;
        ulong[] seeds = [7, 8];
        var drawn = new float[2 * length];
        ops.Generate([new(0, 0.9f), new(0, 0.3f)], seeds, length, options, drawn);
        var told = new float[2 * length];
        ops.Generate([new(0, 0.9f, prior.Draw(0, 0.9f, 7)), new(0, 0.3f, prior.Draw(0, 0.3f, 8))], seeds, length, options, told);
        Assert.Equal(told, drawn);

        var high = new float[length];
        var low = new float[length];
        ops.Generate([new(0, 0.9f, new TimbreDescriptors(2f, 0f, 0f))], [7UL], length, options, high);
        ops.Generate([new(0, 0.9f, new TimbreDescriptors(-2f, 0f, 0f))], [7UL], length, options, low);
        Assert.True(high.Average() > low.Average() + 1f, $"mean {high.Average():F3} with brightness 2, {low.Average():F3} with −2");
    }

    [Theory]
    [InlineData("descriptors", "conditioning.descriptors [brightness, decay] is not [brightness, noisiness, decay], the descriptors this engine knows")]
    [InlineData("input", "conditioning.descriptors is set but inputs.descriptor is not named")]
    [InlineData("prior", "conditioning.descriptors is set but descriptorPrior is missing")]
    [InlineData("chol", "descriptorPrior 'gaussian': chol must be 3 rows of 3 finite numbers")]
    [InlineData("class", "descriptorPrior names 'snare', which is not one of the classes")]
    public void A_manifest_whose_timbre_fields_do_not_fit_is_refused_naming_the_field(string broken, string message)
    {
        var node = JsonNode.Parse(File.ReadAllText(TimbreManifest))!.AsObject();
        switch (broken)
        {
            case "descriptors": node["conditioning"]!["descriptors"] = new JsonArray("brightness", "decay"); break;
            case "input": node["inputs"]!.AsObject().Remove("descriptor"); break;
            case "prior": node.Remove("descriptorPrior"); break;
            case "chol": node["descriptorPrior"]!["gaussian"]!["chol"] = new JsonArray(new JsonArray(1, 0, 0), new JsonArray(0, 1, 0)); break;
            case "class": node["descriptorPrior"]!["snare"] = node["descriptorPrior"]!["gaussian"]!.DeepClone(); break;
        }
        var e = Assert.Throws<ModelLoadException>(() => ModelManifest.Parse(Encoding.UTF8.GetBytes(node.ToJsonString()), "/m/manifest.json"));
        Assert.Equal($"/m/manifest.json: {message}", e.Message);
    }

    [Fact]
    public void A_graph_without_the_descriptor_input_is_refused_when_its_manifest_says_it_takes_timbre()
    {
        var dir = TestModels.CopyToTemp(Path.GetDirectoryName(TimbreManifest)!);
        File.Copy(Path.Combine(TestModels.AnalyticDirectory, "model.onnx"), Path.Combine(dir, "model.onnx"), overwrite: true);
        var e = Assert.Throws<ModelLoadException>(() => DiffusionModel.LoadDenoiser(Path.Combine(dir, "manifest.json"), TestModels.Cpu));
        Assert.Contains("input 'descriptor' is missing", e.Message);
    }

    [Fact]
    public void A_model_without_timbre_conditioning_has_no_prior_and_ignores_a_timbre_it_is_given()
    {
        using var onnx = TestModels.LoadAnalyticOnnx();
        Assert.Null(onnx.TimbrePrior);
        var with = new float[64];
        var without = new float[64];
        onnx.Denoise(new float[64], [0.5f], [new(0, 1f, new TimbreDescriptors(3f, 3f, 3f))], 1, 64, with);
        onnx.Denoise(new float[64], [0.5f], [new(0, 1f)], 1, 64, without);
        Assert.Equal(without, with);
    }
}
