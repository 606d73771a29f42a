using DiffusionPlugin.Engine.Diffusion;

namespace DiffusionPlugin.Engine.Tests.Diffusion;

public class ManifestTests
{
    [Fact]
    public void The_committed_test_manifest_reads_every_field()
    {
        var m = ModelManifest.Load(TestModels.AnalyticManifest);
        Assert.Equal(1, m.FormatVersion);
        Assert.Equal("model.onnx", m.Model);
        Assert.Equal(44100, m.SampleRateHz);
        Assert.Equal(["gaussian"], m.Classes);
        Assert.Equal("edm", m.Parameterization);
        Assert.Equal("class_id", m.Inputs.ClassId);
        Assert.Equal("denoised", m.Outputs.Denoised);
        Assert.NotNull(m.Analytic);
        Assert.Equal(0.1f, m.Analytic!.Mu);
        Assert.Equal(0.5f, m.Analytic.SigmaData);
        Assert.True(m.Training.HasValue);
        Assert.Equal(Path.Combine(TestModels.AnalyticDirectory, "model.onnx"), m.ModelPath);
    }

    [Fact]
    public void The_guidance_sigma_limit_is_read_from_the_defaults_and_absent_means_every_step()
    {
        var text = File.ReadAllText(TestModels.AnalyticManifest);
        var without = ModelManifest.Parse(System.Text.Encoding.UTF8.GetBytes(text), TestModels.AnalyticManifest);
        Assert.Equal(float.PositiveInfinity, without.Defaults.ToSamplingOptions().GuidanceMaxSigma);

        var node = System.Text.Json.Nodes.JsonNode.Parse(text)!.AsObject();
        node["defaults"] = new System.Text.Json.Nodes.JsonObject { ["steps"] = 6, ["guidance"] = 2.0, ["guidanceMaxSigma"] = 1.0 };
        var with = ModelManifest.Parse(System.Text.Encoding.UTF8.GetBytes(node.ToJsonString()), TestModels.AnalyticManifest);
        var tuned = with.Defaults.ToSamplingOptions();
        Assert.Equal(1f, tuned.GuidanceMaxSigma);
        Assert.Equal(6, tuned.Steps);
        Assert.Equal(2f, tuned.Guidance);
        Assert.Equal("dpmpp_2m", tuned.Sampler);   // left out of the block: the default, not empty
        Assert.Equal("karras", tuned.Schedule);
    }

    [Fact]
    public void A_class_conditioned_manifest_whose_null_class_is_one_of_its_classes_is_refused_by_name()
    {
        var node = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(TestModels.AnalyticManifest))!.AsObject();
        node["classes"] = new System.Text.Json.Nodes.JsonArray("kick", "snare");
        node["conditioning"] = new System.Text.Json.Nodes.JsonObject { ["class"] = true, ["velocity"] = false };
        node.Remove("nullClassId");   // left out: reads as 0, the kick
        var e = Assert.Throws<ModelLoadException>(() =>
            ModelManifest.Parse(System.Text.Encoding.UTF8.GetBytes(node.ToJsonString()), TestModels.AnalyticManifest));
        Assert.Contains("nullClassId 0 is the class 'kick'", e.Message);

        node["nullClassId"] = 2;
        Assert.Equal(2, ModelManifest.Parse(System.Text.Encoding.UTF8.GetBytes(node.ToJsonString()), TestModels.AnalyticManifest).NullClassId);
    }

    [Fact]
    public void A_defaults_block_read_on_its_own_keeps_the_defaults_of_the_fields_it_leaves_out()
    {
        var partial = ManifestDefaults.FromJson(System.Text.Json.JsonDocument.Parse("""{ "steps": 6, "guidanceMaxSigma": 1.0 }""").RootElement);
        Assert.Equal(new ManifestDefaults { Steps = 6, GuidanceMaxSigma = 1f }, partial);
        Assert.Equal(new ManifestDefaults(), ManifestDefaults.FromJson(System.Text.Json.JsonDocument.Parse("{}").RootElement));
        Assert.Equal(float.PositiveInfinity, new ManifestDefaults().ToSamplingOptions().GuidanceMaxSigma);
        Assert.Throws<System.Text.Json.JsonException>(() =>
            ManifestDefaults.FromJson(System.Text.Json.JsonDocument.Parse("""{ "steps": "many" }""").RootElement));
    }

    [Fact]
    public void A_manifest_folder_may_stand_for_its_manifest_file()
    {
        var m = ModelManifest.Load(TestModels.AnalyticDirectory);
        Assert.Equal("analytic-gaussian", m.Name);
    }

    [Fact]
    public void The_locator_prefers_the_environment_variable()
    {
        var old = Environment.GetEnvironmentVariable(ModelLocator.EnvironmentVariable);
        try
        {
            Environment.SetEnvironmentVariable(ModelLocator.EnvironmentVariable, TestModels.AnalyticDirectory);
            Assert.Equal(TestModels.AnalyticManifest, ModelLocator.FindDefaultManifest());
            Assert.Equal("/x/y/manifest.json", ModelLocator.ResolveOrThrow("/x/y/manifest.json"));
        }
        finally { Environment.SetEnvironmentVariable(ModelLocator.EnvironmentVariable, old); }
    }

    [Fact]
    public void The_locator_searches_upwards_for_models_drums()
    {
        var root = Path.Combine(Path.GetTempPath(), "diffusionplugin-tests", Guid.NewGuid().ToString("N"));
        var deep = Path.Combine(root, "a", "b", "c");
        Directory.CreateDirectory(deep);
        Directory.CreateDirectory(Path.Combine(root, "models", "drums"));
        var manifest = Path.Combine(root, "models", "drums", "manifest.json");
        File.WriteAllText(manifest, "{}");
        var old = Environment.GetEnvironmentVariable(ModelLocator.EnvironmentVariable);
        try
        {
            Environment.SetEnvironmentVariable(ModelLocator.EnvironmentVariable, null);
            Assert.Equal(manifest, ModelLocator.FindDefaultManifest(deep));
        }
        finally { Environment.SetEnvironmentVariable(ModelLocator.EnvironmentVariable, old); }
    }
}

public class ScheduleTests
{
    [Theory]
    [InlineData("karras")]
    [InlineData("vp")]
    public void A_schedule_runs_from_sigma_max_down_to_sigma_min_then_zero(string name)
    {
        var s = new float[33];
        NoiseSchedules.Build(name, s, 0.002f, 80f);
        Assert.Equal(80f, s[0], 3);
        Assert.Equal(0.002f, s[31], 5);
        Assert.Equal(0f, s[32]);
        for (int i = 0; i < 32; i++) Assert.True(s[i] > s[i + 1], $"{name} not decreasing at {i}");
    }

    [Fact]
    public void Karras_spacing_follows_rho_seven()
    {
        var s = new float[3];
        NoiseSchedules.Karras(s, 0.002f, 80f);
        double mid = Math.Pow((Math.Pow(80, 1 / 7.0) + Math.Pow(0.002, 1 / 7.0)) / 2, 7);
        Assert.Equal(80f, s[0], 3);
        Assert.Equal(0.002f, s[1], 5);
        var s3 = new float[4];
        NoiseSchedules.Karras(s3, 0.002f, 80f);
        Assert.Equal(mid, s3[1], 3);
        Assert.Equal(mid, NoiseSchedules.SigmaAt("karras", 0.5f, 0.002f, 80f), 3);
    }

    [Fact]
    public void Unknown_samplers_and_schedules_are_refused_by_name()
    {
        Assert.Contains("unknown sampler 'lms'", Assert.Throws<ArgumentException>(() => Samplers.Get("lms")).Message);
        Assert.Contains("unknown schedule 'linear'", Assert.Throws<ArgumentException>(() => NoiseSchedules.Build("linear", new float[3], 0.1f, 1f)).Message);
    }
}
