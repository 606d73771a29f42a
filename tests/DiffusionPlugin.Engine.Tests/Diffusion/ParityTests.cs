using System.Text.Json;
using DiffusionPlugin.Engine.Diffusion;

namespace DiffusionPlugin.Engine.Tests.Diffusion;

/// <summary>Runs only where the shipped model and its PyTorch fixture exist (models/drums/parity.json, written by onnx-export).</summary>
public sealed class RequiresShippedModelFactAttribute : FactAttribute
{
    public RequiresShippedModelFactAttribute()
    {
        if (ParityTests.FixturePath is null) Skip = "models/drums/parity.json is not present (the shipped model is exported by onnx-export)";
    }
}

public class ParityTests
{
    /// <summary>models/drums/parity.json beside the default manifest (honours DIFFUSIONPLUGIN_MODEL), or null.</summary>
    public static string? FixturePath
    {
        get
        {
            var manifest = ModelLocator.FindDefaultManifest();
            if (manifest is null) return null;
            var fixture = Path.Combine(Path.GetDirectoryName(manifest)!, "parity.json");
            return File.Exists(fixture) ? fixture : null;
        }
    }

    [RequiresShippedModelFact]
    public void ONNX_Runtime_reproduces_the_PyTorch_denoiser_on_the_shipped_model()
    {
        var fixturePath = FixturePath!;
        using var doc = JsonDocument.Parse(File.ReadAllBytes(fixturePath));
        var root = doc.RootElement;
        int batch = root.GetProperty("batch").GetInt32(), length = root.GetProperty("length").GetInt32();
        float[] Floats(string name) => root.GetProperty(name).EnumerateArray().Select(e => e.GetSingle()).ToArray();
        var x = Floats("x");
        var sigma = Floats("sigma");
        var velocity = Floats("velocity");
        var expected = Floats("denoised");
        var classIds = root.GetProperty("class_id").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        double tolerance = root.TryGetProperty("tolerance", out var tol) ? tol.GetDouble() : 1e-4;

        using var denoiser = DiffusionModel.LoadDenoiser(Path.Combine(Path.GetDirectoryName(fixturePath)!, "manifest.json"), TestModels.Cpu);
        // A model with timbre conditioning: [batch, 4] descriptors, the last column saying whether they are given.
        var descriptor = root.TryGetProperty("descriptor", out _) ? Floats("descriptor") : null;
        var cond = new DiffusionConditioning[batch];
        for (int b = 0; b < batch; b++)
        {
            int id = classIds[b] == denoiser.Manifest.NullClassId ? DiffusionConditioning.Unconditional : classIds[b];
            TimbreDescriptors? timbre = descriptor is not null && descriptor[b * 4 + 3] == 1f
                ? new TimbreDescriptors(descriptor[b * 4], descriptor[b * 4 + 1], descriptor[b * 4 + 2]) : null;
            cond[b] = new DiffusionConditioning(id, velocity[b], timbre);
        }
        var actual = new float[batch * length];
        denoiser.Denoise(x, sigma, cond, batch, length, actual);
        double worst = 0;
        for (int i = 0; i < actual.Length; i++) worst = Math.Max(worst, Math.Abs(actual[i] - expected[i]));
        Assert.True(worst <= tolerance, $"largest difference {worst:E2} > {tolerance:E0}");
    }
}
