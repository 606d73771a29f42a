using DiffusionPlugin.Engine.Diffusion;

namespace DiffusionPlugin.Engine.Tests.Diffusion;

/// <summary>
/// For data x0 ~ N(μ, σd²) the ideal denoiser is known in closed form, so every sampler must land on N(μ, σd²).
/// 2,000 seeds × 256 i.i.d. samples each keep the statistical error far below the 3 % tolerance.
/// </summary>
public class ExactnessTests
{
    private const int SeedCount = 2000, Length = 256, Steps = 32;

    public static TheoryData<string, string, float, int> ConvergedCases => new()
    {
        // Second-order samplers are within 3 % at 32 steps.
        { "heun", "karras", 0f, 32 },
        { "heun", "vp", 0f, 32 },
        { "dpmpp_2m", "karras", 0f, 32 },
        // The rest carry a discretisation bias that is real, not a bug (the next test predicts it exactly): at 32 Karras
        // steps over σ ∈ [0.002, 80] Euler ends at a spread of 0.456, and DPM-Solver++(2M) on the cosine schedule at
        // 0.527 (its first step from σmax is a long first-order one). They reach 3 % with more steps.
        { "dpmpp_2m", "vp", 0f, 64 },
        { "euler", "karras", 0f, 128 },
        { "euler", "vp", 0f, 64 },
        { "ddim", "karras", 0f, 128 },
        { "ddim", "karras", 1f, 256 },
        { "ddim", "vp", 0.5f, 128 },
    };

    [Theory]
    [MemberData(nameof(ConvergedCases))]
    public void Every_sampler_reproduces_the_mean_and_spread_of_the_data(string sampler, string schedule, float eta, int steps)
    {
        var (mean, std) = Sample(sampler, schedule, eta, steps);
        Assert.InRange(mean, TestModels.Mu * 0.97, TestModels.Mu * 1.03);
        Assert.InRange(std, TestModels.SigmaData * 0.97, TestModels.SigmaData * 1.03);
    }

    public static TheoryData<string, string, float> SamplerCases => new()
    {
        { "euler", "karras", 0f },
        { "heun", "karras", 0f },
        { "ddim", "karras", 0f },
        { "ddim", "karras", 1f },
        { "dpmpp_2m", "karras", 0f },
        { "euler", "vp", 0f },
        { "heun", "vp", 0f },
        { "ddim", "vp", 0.5f },
        { "dpmpp_2m", "vp", 0f },
    };

    [Theory]
    [MemberData(nameof(SamplerCases))]
    public void Every_sampler_at_32_steps_lands_where_its_discretisation_predicts(string sampler, string schedule, float eta)
    {
        // For the Gaussian, D − μ = g(σ)·(x − μ) with g = σd²/(σd² + σ²), so every step maps the spread linearly and
        // the final standard deviation follows from the schedule alone: the sampler must hit it within 1 %.
        var sigmas = new float[Steps + 1];
        NoiseSchedules.Build(schedule, sigmas, 0.002f, 80f);
        double predicted = PredictedStd(sampler, sigmas, eta);
        var (mean, std) = Sample(sampler, schedule, eta, Steps);
        Assert.InRange(mean, TestModels.Mu * 0.97, TestModels.Mu * 1.03);
        Assert.InRange(std, predicted * 0.99, predicted * 1.01);
        if (sampler == "heun" || (sampler == "dpmpp_2m" && schedule == "karras")) Assert.InRange(std, TestModels.SigmaData * 0.97, TestModels.SigmaData * 1.03);
    }

    private static (double Mean, double Std) Sample(string sampler, string schedule, float eta, int steps)
    {
        // Stochastic runs draw fresh noise every step; 64 samples per seed still leave the statistical error near 0.2 %.
        int length = eta > 0 ? 64 : Length;
        using var ops = new DiffusionOperations(TestModels.Analytic());
        var output = new float[SeedCount * length];
        ops.Generate(TestModels.Conditions(SeedCount), TestModels.Seeds(SeedCount), length,
            new SamplingOptions { Sampler = sampler, Schedule = schedule, Steps = steps, Eta = eta }, output);
        double mean = output.Average(v => (double)v);
        double std = Math.Sqrt(output.Sum(v => (v - mean) * (v - mean)) / (output.Length - 1));
        return (mean, std);
    }

    /// <summary>The exact standard deviation each update rule produces on the Gaussian (double precision, no sampling).</summary>
    private static double PredictedStd(string sampler, float[] sigmas, float eta)
    {
        double sd2 = TestModels.SigmaData * TestModels.SigmaData;
        double G(double s) => sd2 / (sd2 + s * s);
        double v = (double)sigmas[0] * sigmas[0];
        double prevG = 0, hLast = 0;
        for (int i = 0; i + 1 < sigmas.Length; i++)
        {
            double s = sigmas[i], sn = sigmas[i + 1];
            switch (sampler)
            {
                case "euler":
                case "ddim":
                {
                    double e = sampler == "ddim" ? eta : 0;
                    double up = Math.Min(sn, e * Math.Sqrt(sn * sn * (s * s - sn * sn) / (s * s)));
                    double down = Math.Sqrt(sn * sn - up * up);
                    double a = G(s) + down / s * (1 - G(s));
                    v = a * a * v + up * up;
                    break;
                }
                case "heun":
                {
                    double d = (1 - G(s)) / s;               // dx/dσ per unit (x − μ)
                    double a = 1 + (sn - s) * d;
                    if (sn > 0) a = 1 + (sn - s) * 0.5 * (d + (1 - G(sn)) / sn * (1 + (sn - s) * d));
                    v = a * a * v;
                    break;
                }
                default: // dpmpp_2m: D̃ is a combination of this and the previous estimate; track the composite gain
                {
                    // x_{i+1} − μ = r·(x_i − μ) + (1 − r)·(c1·g_i·(x_i − μ) + c2·g_{i−1}·(x_{i−1} − μ)); the previous
                    // state is (x_i − μ)/a_{i−1}, so everything stays proportional to x_i − μ.
                    double r = sn / s;
                    double a;
                    if (sn == 0) a = G(s);
                    else if (i == 0) a = r + (1 - r) * G(s);
                    else
                    {
                        double h = Math.Log(s / sn), q = hLast / h;
                        a = r + (1 - r) * ((1 + 1 / (2 * q)) * G(s) - 1 / (2 * q) * prevG);
                        hLast = h;
                    }
                    if (i == 0 && sn > 0) hLast = Math.Log(s / sn);
                    prevG = G(s) / a;                         // g_i·(x_i − μ) expressed per unit (x_{i+1} − μ)
                    v = a * a * v;
                    break;
                }
            }
        }
        return Math.Sqrt(v);
    }

    [Fact]
    public void A_sampler_given_a_wrong_denoiser_misses_the_data_distribution()
    {
        // The oracle can fail: a denoiser for N(μ, (2σd)²) yields a spread twice too wide.
        using var ops = new DiffusionOperations(new AnalyticGaussianDenoiser(TestModels.Mu, 2 * TestModels.SigmaData));
        var output = new float[200 * Length];
        ops.Generate(TestModels.Conditions(200), TestModels.Seeds(200), Length, new SamplingOptions { Steps = Steps }, output);
        double mean = output.Average(v => (double)v);
        double std = Math.Sqrt(output.Sum(v => (v - mean) * (v - mean)) / (output.Length - 1));
        Assert.True(std > TestModels.SigmaData * 1.5, $"std {std}");
    }

    [Theory]
    [InlineData("euler")]
    [InlineData("heun")]
    [InlineData("ddim")]
    [InlineData("dpmpp_2m")]
    public void The_ONNX_graph_and_the_CSharp_denoiser_sample_the_same_audio(string sampler)
    {
        const int seeds = 64;
        var options = new SamplingOptions { Sampler = sampler, Steps = Steps, Eta = sampler == "ddim" ? 0.5f : 0f };
        var viaCSharp = new float[seeds * Length];
        var viaOnnx = new float[seeds * Length];
        using (var ops = new DiffusionOperations(TestModels.Analytic()))
            ops.Generate(TestModels.Conditions(seeds), TestModels.Seeds(seeds), Length, options, viaCSharp);
        using (var ops = DiffusionModel.Load(TestModels.AnalyticManifest, TestModels.Cpu))
            ops.Generate(TestModels.Conditions(seeds), TestModels.Seeds(seeds), Length, options, viaOnnx);

        float worst = 0;
        for (int i = 0; i < viaOnnx.Length; i++) worst = MathF.Max(worst, MathF.Abs(viaOnnx[i] - viaCSharp[i]));
        Assert.True(worst <= 1e-5f, $"largest difference {worst}");
    }

    [Fact]
    public void The_ONNX_graph_computes_the_closed_form_at_every_noise_level()
    {
        using var onnx = TestModels.LoadAnalyticOnnx();
        var analytic = TestModels.Analytic();
        float[] sigmas = [0.002f, 0.1f, 0.5f, 1f, 5f, 80f];
        int length = 512, batch = sigmas.Length;
        var x = new float[batch * length];
        var rng = new NoiseGenerator(7);
        rng.FillGaussian(x);
        for (int b = 0; b < batch; b++)
            for (int t = 0; t < length; t++) x[b * length + t] = TestModels.Mu + x[b * length + t] * MathF.Sqrt(0.25f + sigmas[b] * sigmas[b]);
        var cond = TestModels.Conditions(batch);
        var a = new float[x.Length];
        var o = new float[x.Length];
        analytic.Denoise(x, sigmas, cond, batch, length, a);
        onnx.Denoise(x, sigmas, cond, batch, length, o);
        for (int i = 0; i < x.Length; i++) Assert.True(MathF.Abs(a[i] - o[i]) <= 1e-5f, $"at {i}: {a[i]} vs {o[i]}");
    }

    [Theory]
    [InlineData("analytic-gaussian-eps")]
    [InlineData("analytic-gaussian-v")]
    public void Eps_and_v_parameterised_graphs_give_the_same_denoiser(string model)
    {
        var manifest = Path.Combine(Path.GetDirectoryName(TestModels.AnalyticDirectory)!, model, "manifest.json");
        using var onnx = DiffusionModel.LoadDenoiser(manifest, TestModels.Cpu);
        Assert.Equal(model[^1..] == "s" ? "eps" : "v", onnx.Manifest.Parameterization);
        var analytic = TestModels.Analytic();
        float[] sigmas = [0.002f, 0.1f, 0.5f, 1f, 5f, 80f];
        int length = 512, batch = sigmas.Length;
        var x = new float[batch * length];
        new NoiseGenerator(8).FillGaussian(x);
        for (int b = 0; b < batch; b++)
            for (int t = 0; t < length; t++) x[b * length + t] = TestModels.Mu + x[b * length + t] * MathF.Sqrt(0.25f + sigmas[b] * sigmas[b]);
        var cond = TestModels.Conditions(batch);
        var a = new float[x.Length];
        var o = new float[x.Length];
        analytic.Denoise(x, sigmas, cond, batch, length, a);
        onnx.Denoise(x, sigmas, cond, batch, length, o);
        // Converting back from ε̂ or v̂ at σ = 80 cancels two numbers near 80·n: float rounding allows about 1e-5 there.
        for (int i = 0; i < x.Length; i++) Assert.True(MathF.Abs(a[i] - o[i]) <= 1e-4f, $"at {i} (σ = {sigmas[i / length]}): {a[i]} vs {o[i]}");

        var viaGraph = new float[8 * 256];
        var viaCSharp = new float[8 * 256];
        var options = new SamplingOptions { Sampler = "dpmpp_2m", Steps = 32 };
        using (var ops = new DiffusionOperations(onnx)) ops.Generate(TestModels.Conditions(8), TestModels.Seeds(8), 256, options, viaGraph);
        using (var ops = new DiffusionOperations(analytic)) ops.Generate(TestModels.Conditions(8), TestModels.Seeds(8), 256, options, viaCSharp);
        for (int i = 0; i < viaGraph.Length; i++) Assert.True(MathF.Abs(viaGraph[i] - viaCSharp[i]) <= 1e-4f, $"sample {i}: {viaGraph[i]} vs {viaCSharp[i]}");
    }
}
