using DiffusionPlugin.Engine.Diffusion;

namespace DiffusionPlugin.Engine.Tests.Diffusion;

public class DeterminismTests
{
    private const int Length = 512;

    [Theory]
    [InlineData("euler", 0f)]
    [InlineData("heun", 0f)]
    [InlineData("ddim", 1f)]
    [InlineData("dpmpp_2m", 0f)]
    public void The_same_seed_gives_the_same_audio_and_another_seed_does_not(string sampler, float eta)
    {
        using var ops = DiffusionModel.Load(TestModels.AnalyticManifest, TestModels.Cpu);
        var options = new SamplingOptions { Sampler = sampler, Steps = 8, Eta = eta };
        var first = new float[2 * Length];
        var again = new float[2 * Length];
        ops.Generate(TestModels.Conditions(2), [42UL, 43UL], Length, options, first);
        ops.Generate(TestModels.Conditions(2), [42UL, 43UL], Length, options, again);
        Assert.Equal(first, again);
        Assert.NotEqual(first.AsSpan(0, Length).ToArray(), first.AsSpan(Length, Length).ToArray());
    }

    [Fact]
    public void A_hit_depends_on_its_seed_only_not_on_its_batch()
    {
        using var ops = new DiffusionOperations(TestModels.Analytic());
        var options = new SamplingOptions { Sampler = "ddim", Steps = 8, Eta = 1f };
        var alone = new float[Length];
        var inBatch = new float[4 * Length];
        ops.Generate(TestModels.Conditions(1), [77UL], Length, options, alone);
        ops.Generate(TestModels.Conditions(4), [5UL, 6UL, 77UL, 8UL], Length, options, inBatch);
        Assert.Equal(alone, inBatch.AsSpan(2 * Length, Length).ToArray());
    }

    [Fact]
    public void The_noise_generator_is_seeded_standard_normal()
    {
        var a = new float[100_000];
        var b = new float[100_000];
        new NoiseGenerator(1234).FillGaussian(a);
        new NoiseGenerator(1234).FillGaussian(b);
        Assert.Equal(a, b);
        double mean = a.Average(v => (double)v);
        double var = a.Sum(v => (v - mean) * (v - mean)) / a.Length;
        Assert.InRange(mean, -0.01, 0.01);
        Assert.InRange(var, 0.98, 1.02);
        var c = new float[16];
        new NoiseGenerator(1235).FillGaussian(c);
        Assert.NotEqual(a.AsSpan(0, 16).ToArray(), c);
    }

    [Fact]
    public void Guidance_runs_conditional_and_unconditional_halves_in_one_call()
    {
        // Class 0 wants +1, the unconditional branch wants 0: with scale w the guided estimate is 0 + w·(1 − 0) = w.
        var denoiser = new ClassGaussianDenoiser([1f], 0f, sigmaData: 1e-3f);
        using var ops = new DiffusionOperations(denoiser);
        var output = new float[3 * 64];
        ops.Generate(TestModels.Conditions(3), [1UL, 2UL, 3UL], 64, new SamplingOptions { Sampler = "euler", Steps = 4, Guidance = 2.5f }, output);
        Assert.Equal(4, denoiser.BatchSizes.Count);
        Assert.All(denoiser.BatchSizes, n => Assert.Equal(6, n));
        Assert.All(denoiser.Calls, c =>
        {
            Assert.All(c.Take(3), x => Assert.Equal(0, x.ClassId));
            Assert.All(c.Skip(3), x => Assert.Equal(DiffusionConditioning.Unconditional, x.ClassId));
        });
        Assert.All(output, v => Assert.InRange(v, 2.45f, 2.55f));
    }

    [Fact]
    public void Guidance_limited_to_low_noise_runs_the_high_noise_steps_conditional_only()
    {
        // Karras over σ 0.002…80, 6 steps: 80, 24.3, 5.8 lie above the limit of 1; 0.96, 0.085, 0.002 below it.
        var denoiser = new ClassGaussianDenoiser([1f], 0f, sigmaData: 1e-3f);
        using var ops = new DiffusionOperations(denoiser);
        var output = new float[2 * 64];
        var options = new SamplingOptions { Sampler = "dpmpp_2m", Steps = 6, Guidance = 2f, GuidanceMaxSigma = 1f };
        ops.Generate(TestModels.Conditions(2), [1UL, 2UL], 64, options, output);
        Assert.Equal([2, 2, 2, 4, 4, 4], denoiser.BatchSizes);
        Assert.All(denoiser.Calls.Take(3), c => Assert.All(c, x => Assert.Equal(0, x.ClassId)));
        // The last steps are guided: 0 + 2·(1 − 0) = 2, as with guidance at every step.
        Assert.All(output, v => Assert.InRange(v, 1.95f, 2.05f));
    }

    [Theory]
    [InlineData(0f)]
    [InlineData(-1f)]
    [InlineData(float.NaN)]
    public void A_guidance_sigma_limit_that_is_not_positive_is_refused(float limit)
    {
        using var ops = new DiffusionOperations(new ClassGaussianDenoiser([1f], 0f));
        var options = new SamplingOptions { Steps = 2, Guidance = 2f, GuidanceMaxSigma = limit };
        Assert.Throws<ArgumentOutOfRangeException>(() => ops.Generate(TestModels.Conditions(1), [1UL], 64, options, new float[64]));
    }

    [Fact]
    public void After_warm_up_sampling_with_a_guidance_interval_allocates_nothing_managed()
    {
        // Guidance at σ ≤ 1 runs batch-4 and batch-8 calls of the ONNX graph and an 8-step schedule: warm-up must
        // bind both shapes and size the schedule.
        using var ops = DiffusionModel.Load(TestModels.AnalyticManifest, TestModels.Cpu);
        var options = new SamplingOptions { Steps = 8, Guidance = 2f, GuidanceMaxSigma = 1f };
        var output = new float[4 * Length];
        var cond = TestModels.Conditions(4);
        ulong[] seeds = [1, 2, 3, 4];
        ops.WarmUp(4, Length, options);
        long before = GC.GetAllocatedBytesForCurrentThread();
        ops.Generate(cond, seeds, Length, options, output);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Without_guidance_each_step_is_one_call_of_batch_B()
    {
        var denoiser = new ClassGaussianDenoiser([1f], 0f);
        using var ops = new DiffusionOperations(denoiser);
        var output = new float[2 * 64];
        ops.Generate(TestModels.Conditions(2), [1UL, 2UL], 64, new SamplingOptions { Sampler = "dpmpp_2m", Steps = 6, Guidance = 1f }, output);
        Assert.Equal([2, 2, 2, 2, 2, 2], denoiser.BatchSizes);
    }

    [Theory]
    [InlineData("euler")]
    [InlineData("heun")]
    [InlineData("ddim")]
    [InlineData("dpmpp_2m")]
    public void After_warm_up_sampling_allocates_nothing_managed(string sampler)
    {
        using var ops = new DiffusionOperations(TestModels.Analytic());
        var options = new SamplingOptions { Sampler = sampler, Steps = 16, Eta = sampler == "ddim" ? 1f : 0f, Guidance = 1.5f };
        var cond = TestModels.Conditions(4);
        ulong[] seeds = [1, 2, 3, 4];
        var output = new float[4 * Length];
        ops.Generate(cond, seeds, Length, options, output);
        long before = GC.GetAllocatedBytesForCurrentThread();
        ops.Generate(cond, seeds, Length, options, output);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void After_warm_up_the_ONNX_denoiser_call_allocates_nothing_managed()
    {
        using var onnx = TestModels.LoadAnalyticOnnx();
        var x = new float[4 * Length];
        var d = new float[4 * Length];
        float[] sigma = [1f, 2f, 3f, 4f];
        var cond = TestModels.Conditions(4);
        onnx.Denoise(x, sigma, cond, 4, Length, d);
        onnx.Denoise(x, sigma, cond, 4, Length, d);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10; i++) onnx.Denoise(x, sigma, cond, 4, Length, d);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void After_WarmUp_the_first_generation_of_that_shape_allocates_nothing_managed()
    {
        using var ops = DiffusionModel.Load(TestModels.AnalyticManifest, TestModels.Cpu);
        var options = new SamplingOptions { Sampler = "heun", Steps = 8, Guidance = 2f };
        ops.WarmUp(3, Length, options);
        var cond = TestModels.Conditions(3);
        ulong[] seeds = [1, 2, 3];
        var output = new float[3 * Length];
        ops.Generate(cond, seeds, 16, options, new float[3 * 16]); // JIT the path on another shape first
        long before = GC.GetAllocatedBytesForCurrentThread();
        ops.Generate(cond, seeds, Length, options, output);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
