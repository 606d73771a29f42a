using DiffusionPlugin.Engine.Diffusion;

namespace DiffusionPlugin.Engine.Tests.Diffusion;

/// <summary>Each way a model can be bad gives one line naming the file and the problem.</summary>
public class ModelLoadTests
{
    private static ModelLoadException LoadFails(string manifestPath, ExecutionOptions? options = null)
    {
        var e = Assert.Throws<ModelLoadException>(() => DiffusionModel.Load(manifestPath, options ?? TestModels.Cpu).Dispose());
        Assert.DoesNotContain('\n', e.Message);
        Assert.StartsWith(e.FilePath + ": ", e.Message);
        return e;
    }

    private static void EditManifest(string dir, Func<string, string> edit)
    {
        var path = Path.Combine(dir, "manifest.json");
        File.WriteAllText(path, edit(File.ReadAllText(path)));
    }

    [Fact]
    public void A_missing_manifest_is_named_with_its_path()
    {
        var dir = TestModels.CopyAnalyticToTemp();
        var path = Path.Combine(dir, "nope.json");
        var e = LoadFails(path);
        Assert.Equal(path, e.FilePath);
        Assert.Contains("manifest file not found", e.Message);
    }

    [Fact]
    public void A_missing_onnx_file_is_named_with_its_path()
    {
        var dir = TestModels.CopyAnalyticToTemp();
        File.Delete(Path.Combine(dir, "model.onnx"));
        var e = LoadFails(Path.Combine(dir, "manifest.json"));
        Assert.Equal(Path.Combine(dir, "model.onnx"), e.FilePath);
        Assert.Contains("ONNX model file not found", e.Message);
    }

    [Fact]
    public void A_corrupt_onnx_file_is_reported_as_not_a_valid_model()
    {
        var dir = TestModels.CopyAnalyticToTemp();
        var onnx = Path.Combine(dir, "model.onnx");
        var bytes = File.ReadAllBytes(onnx);
        File.WriteAllBytes(onnx, bytes.AsSpan(0, bytes.Length / 3).ToArray().Concat("garbage"u8.ToArray()).ToArray());
        var e = LoadFails(Path.Combine(dir, "manifest.json"));
        Assert.Equal(onnx, e.FilePath);
        Assert.Contains("not a valid ONNX model", e.Message);
    }

    [Fact]
    public void A_manifest_naming_an_input_the_graph_lacks_is_a_mismatch()
    {
        var dir = TestModels.CopyAnalyticToTemp();
        EditManifest(dir, s => s.Replace("\"x\": \"x\"", "\"x\": \"audio\""));
        var e = LoadFails(Path.Combine(dir, "manifest.json"));
        Assert.Contains("graph does not match manifest.json: input 'audio' is missing", e.Message);
    }

    [Fact]
    public void A_graph_input_the_manifest_does_not_name_is_a_mismatch()
    {
        var dir = TestModels.CopyAnalyticToTemp();
        EditManifest(dir, s => s.Replace("\"velocity\": \"velocity\"", "\"velocity\": null"));
        var e = LoadFails(Path.Combine(dir, "manifest.json"));
        Assert.Contains("graph input 'velocity' is not named in the manifest", e.Message);
    }

    [Fact]
    public void A_manifest_output_the_graph_lacks_is_a_mismatch()
    {
        var dir = TestModels.CopyAnalyticToTemp();
        EditManifest(dir, s => s.Replace("\"denoised\": \"denoised\"", "\"denoised\": \"eps\""));
        var e = LoadFails(Path.Combine(dir, "manifest.json"));
        Assert.Contains("output 'eps' is missing", e.Message);
    }

    [Fact]
    public void An_unknown_format_version_is_refused()
    {
        var dir = TestModels.CopyAnalyticToTemp();
        EditManifest(dir, s => s.Replace("\"formatVersion\": 1", "\"formatVersion\": 2"));
        var e = LoadFails(Path.Combine(dir, "manifest.json"));
        Assert.Contains("unknown formatVersion 2 (this engine reads 1)", e.Message);
    }

    [Fact]
    public void Malformed_json_is_reported_as_such()
    {
        var dir = TestModels.CopyAnalyticToTemp();
        EditManifest(dir, s => s[..(s.Length / 2)]);
        var e = LoadFails(Path.Combine(dir, "manifest.json"));
        Assert.Contains("manifest is not valid JSON", e.Message);
    }

    [Fact]
    public void An_unknown_parameterization_is_refused()
    {
        var dir = TestModels.CopyAnalyticToTemp();
        EditManifest(dir, s => s.Replace("\"parameterization\": \"edm\"", "\"parameterization\": \"flow\""));
        var e = LoadFails(Path.Combine(dir, "manifest.json"));
        Assert.Contains("unknown parameterization 'flow'", e.Message);
    }

    [Fact]
    public void Auto_picks_cuda_when_it_loads_and_otherwise_falls_back_to_the_cpu_with_a_reason()
    {
        using var d = DiffusionModel.LoadDenoiser(TestModels.AnalyticManifest, new ExecutionOptions { Device = ExecutionDevice.Auto, IntraOpThreads = 1 });
        Assert.Contains(d.ActiveDevice, new[] { ExecutionDevice.Cpu, ExecutionDevice.Cuda });
        Assert.False(string.IsNullOrWhiteSpace(d.DeviceReason));
        if (d.ActiveDevice == ExecutionDevice.Cpu) Assert.Contains("CUDA", d.DeviceReason);
    }

    [Fact]
    public void Asking_for_cuda_where_it_cannot_load_fails_with_the_reason()
    {
        try
        {
            using var d = DiffusionModel.LoadDenoiser(TestModels.AnalyticManifest, new ExecutionOptions { Device = ExecutionDevice.Cuda, IntraOpThreads = 1 });
            Assert.Equal(ExecutionDevice.Cuda, d.ActiveDevice); // a machine with CUDA
        }
        catch (ModelLoadException e)
        {
            Assert.Contains("CUDA", e.Message);
            Assert.DoesNotContain('\n', e.Message);
        }
    }

    [Fact]
    public void The_default_thread_count_leaves_a_core_to_the_host()
    {
        using var d = DiffusionModel.LoadDenoiser(TestModels.AnalyticManifest, new ExecutionOptions { Device = ExecutionDevice.Cpu });
        Assert.Equal(Math.Max(1, Environment.ProcessorCount - 1), d.IntraOpThreads);
    }

    [Fact]
    public void A_manifest_with_null_blocks_names_what_is_missing()
    {
        var dir = TestModels.CopyAnalyticToTemp();
        EditManifest(dir, s => System.Text.RegularExpressions.Regex.Replace(s, "\"outputs\": \\{[^}]*\\}", "\"outputs\": null")
                                .Replace("\"conditioning\": {", "\"unused\": {"));
        var e = LoadFails(Path.Combine(dir, "manifest.json"));
        Assert.Contains("manifest outputs must name 'denoised'", e.Message);
    }
}
