using DiffusionPlugin.Engine.Diffusion;
using DiffusionPlugin.Engine.Realtime;
using DiffusionPlugin.Engine.Tests.Diffusion;
using static DiffusionPlugin.Engine.Tests.Realtime.RealtimeTestKit;

namespace DiffusionPlugin.Engine.Tests.Realtime;

/// <summary>The real-time engines over the real diffusion core (ONNX Runtime, CPU) with the closed-form test model.</summary>
public class RealCoreIntegrationTests
{
    private static EngineOptions Analytic => new() { ManifestPath = TestModels.AnalyticManifest, Execution = TestModels.Cpu };

    [Fact]
    public void Drums_load_the_model_named_in_the_options_and_render_offline_bit_identically()
    {
        float[] RenderOnce(out ModelStatus status)
        {
            using var drums = RealtimeEngines.CreateDrums(Analytic);
            drums.Steps = 4; drums.Humanize = 0.5f;
            drums.Activate(48000, 512, offline: true);
            var y = Render(drums, [new Hit(0, 36, 1f), new Hit(3000, 38, 0.7f), new Hit(6000, 36, 1f)], 12000);
            status = drums.Status;
            return y;
        }
        var a = RenderOnce(out var status);
        var b = RenderOnce(out _);
        Assert.Equal(ModelStatus.ReadyCpu, status);
        Assert.True(Rms(a) > 1e-3);
        Assert.Equal(a, b);
    }

    [Fact]
    public void Drums_fill_their_pools_from_the_real_core_on_the_worker()
    {
        using var drums = RealtimeEngines.CreateDrums(Analytic);
        drums.Steps = 2;
        drums.Activate(44100, 256, offline: false);
        var l = new float[256]; var r = new float[256];
        WaitUntil(() => { drums.Process(l, r, 256); return drums.ReadyVariations(38) > 0; }, "a ready snare variation", 60_000);
        Assert.Equal(ModelStatus.ReadyCpu, drums.Status);
        drums.NoteOn(0, 38, 1f);
        drums.Process(l, r, 256);
        Assert.Equal(1, drums.FreshHits);
        Assert.True(Rms(l) > 1e-3);
    }

    [Fact]
    public void A_missing_manifest_leaves_the_engines_in_fallback_naming_the_file()
    {
        using var drums = RealtimeEngines.CreateDrums(new EngineOptions { ManifestPath = "/nonexistent/manifest.json" });
        drums.Activate(48000, 512, offline: true);
        Assert.Equal(ModelStatus.Fallback, drums.Status);
        Assert.Contains("/nonexistent/manifest.json", drums.StatusMessage);
        Assert.True(Rms(Render(drums, [new Hit(0, 36, 1f)], 4096)) > 1e-3);
    }

    [Fact]
    public void The_widener_over_the_real_core_keeps_the_mono_sum()
    {
        using var w = RealtimeEngines.CreateWidener(Analytic);
        w.Steps = 2; w.VariationStrength = 0.3f;
        w.Activate(48000, 512, offline: true);
        var x = new float[48000];
        for (int i = 0; i < x.Length; i++) x[i] = 0.3f * MathF.Sin(2 * MathF.PI * 330 * i / 48000f);
        var l = new float[x.Length]; var r = new float[x.Length];
        for (int pos = 0; pos < x.Length; pos += 512)
        {
            int n = Math.Min(512, x.Length - pos);
            w.Process(x.AsSpan(pos, n), x.AsSpan(pos, n), l.AsSpan(pos, n), r.AsSpan(pos, n), n);
        }
        int d = w.LatencySamples;
        double err = 0, sig = 0, side = 0;
        for (int i = d; i < x.Length; i++)
        {
            double e = 0.5 * (l[i] + r[i]) - x[i - d];
            err += e * e; sig += x[i - d] * (double)x[i - d]; side += 0.25 * (l[i] - r[i]) * (l[i] - r[i]);
        }
        Assert.True(10 * Math.Log10(err / sig + 1e-30) < -90);
        Assert.True(side > 1e-6 * x.Length, "no side signal from the model");
        Assert.Equal(0, w.FallbackWindows);
        Assert.Equal(ModelStatus.ReadyCpu, w.Status);
    }
}
