using DiffusionPlugin.Vst3.Tests.Host;

namespace DiffusionPlugin.Vst3.Tests;

/// <summary>Diffusion Widener driven through the VST3 interfaces.</summary>
public class WidenerHostTests
{
    private const ulong Mono = 1UL << 19, Stereo = 3;
    private readonly PluginModule _module = PluginModule.Shared;

    private PluginInstance StartMono(HostComponentHandler? handler = null, int block = 512)
    {
        var p = _module.Create(Signals.Widener);
        Assert.Equal(0, p.Initialize());
        if (handler != null) Assert.Equal(0, p.SetComponentHandler(handler));
        Assert.Equal(TResult.Ok, p.SetBusArrangements([Mono], [Stereo]));
        Assert.Equal(0, p.SetupProcessing(48000, block));
        Assert.Equal(0, p.SetActive(true));
        Assert.Equal(0, p.SetProcessing(true));
        return p;
    }

    [Fact]
    public void Widener_takes_stereo_or_mono_in_and_gives_stereo_out()
    {
        using var p = _module.Create(Signals.Widener);
        Assert.Equal(0, p.Initialize());
        Assert.Equal(1, p.BusCount(0, 0));
        Assert.Equal(1, p.BusCount(0, 1));
        Assert.Equal(0, p.BusCount(1, 0));
        Assert.Equal(Stereo, p.BusArrangement(0, 0));
        Assert.Equal(TResult.Ok, p.SetBusArrangements([Mono], [Stereo]));
        Assert.Equal(Mono, p.BusArrangement(0, 0));
        Assert.Equal(1, p.BusInfo(0, 0, 0).Channels);
        Assert.NotEqual(TResult.Ok, p.SetBusArrangements([0x3FUL], [Stereo])); // 5.1 in
        Assert.NotEqual(TResult.Ok, p.SetBusArrangements([Stereo], [Mono]));
        Assert.Equal(TResult.Ok, p.SetBusArrangements([Stereo], [Stereo]));
        Assert.Equal(2, p.BusInfo(0, 0, 0).Channels);
        var ps = p.Parameters();
        foreach (var t in new[] { "Width", "Variation Strength", "Mix", "Bypass" }) Assert.True(ps.Single(x => x.Title == t).CanAutomate, t);
        Assert.Equal(1, ps.Single(x => x.Title == "Bypass").StepCount);
        Assert.Equal(0, p.Terminate());
    }

    [Fact]
    public void A_freewheeling_export_widens_by_diffusion_from_the_first_window_and_keeps_the_mono_sum()
    {
        // Ardour's export: a real-time activation, then kOffline blocks as fast as the CPU goes.
        using var p = StartMono(block: 1024);
        int latency = (int)p.LatencySamples;
        var x = Signals.Noise(96_000, seed: 11);
        var (left, right) = Signals.RenderAudio(p, [x], 1024, offlineBlocks: true);
        double worst = 0;
        for (int i = 0; i + latency < x.Length; i++)
            worst = Math.Max(worst, Math.Abs(0.5 * (left[i + latency] + right[i + latency]) - x[i]));
        Assert.True(worst < 1e-3, $"mono sum differs from the input by up to {worst}");
        double corr = Signals.Correlation(left.AsSpan(latency), right.AsSpan(latency));
        Assert.InRange(corr, 0.2, 0.8);
        p.Stop();
    }

    [Fact]
    public void Mono_input_comes_out_wide_and_its_mono_sum_is_the_input_delayed_by_the_reported_latency()
    {
        using var p = StartMono();
        int latency = (int)p.LatencySamples;
        var x = Signals.Noise(96_000, seed: 7);
        var (left, right) = Signals.RenderAudio(p, [x], 512);
        int settle = 4800;
        double worst = 0;
        for (int i = settle; i + latency < x.Length; i++)
            worst = Math.Max(worst, Math.Abs(0.5 * (left[i + latency] + right[i + latency]) - x[i]));
        Assert.True(worst < 1e-3, $"mono sum differs from the input by up to {worst}");
        double corr = Signals.Correlation(left.AsSpan(settle + latency), right.AsSpan(settle + latency));
        Assert.InRange(corr, 0.2, 0.8);
        p.Stop();
    }

    [Fact]
    public void Width_zero_set_by_automation_gives_identical_channels()
    {
        using var p = StartMono();
        using var changes = new HostParameterChanges();
        changes.Set(Signals.ParameterId(p, "Width"), 0.0);
        var (left, right) = Signals.RenderAudio(p, [Signals.Noise(8192, 3)], 512, changes);
        for (int i = 0; i < left.Length; i++) Assert.Equal(left[i], right[i], 6);
        p.Stop();
    }

    [Fact]
    public void Bypass_passes_a_stereo_input_through_unchanged_apart_from_the_latency()
    {
        using var p = _module.Create(Signals.Widener);
        p.Start(48000, 256);
        int latency = (int)p.LatencySamples;
        using var changes = new HostParameterChanges();
        changes.Set(Signals.ParameterId(p, "Bypass"), 1.0);
        var l = Signals.Noise(16_384, 11);
        var r = Signals.Noise(16_384, 12);
        var (outL, outR) = Signals.RenderAudio(p, [l, r], 256, changes);
        for (int i = 0; i + latency < l.Length; i++)
        {
            Assert.True(Math.Abs(l[i] - outL[i + latency]) < 1e-5, $"left {i}: {l[i]} vs {outL[i + latency]}");
            Assert.True(Math.Abs(r[i] - outR[i + latency]) < 1e-5, $"right {i}: {r[i]} vs {outR[i + latency]}");
        }
        p.Stop();
    }

    [Fact]
    public void Nan_and_infinite_input_never_reach_the_output()
    {
        using var p = StartMono();
        var x = Signals.Noise(8192, 5);
        x[100] = float.NaN; x[2000] = float.PositiveInfinity; x[5000] = float.NegativeInfinity;
        var (left, right) = Signals.RenderAudio(p, [x], 512);
        Assert.True(Signals.AllFinite(left) && Signals.AllFinite(right));
        var after = Signals.RenderAudio(p, [Signals.Noise(8192, 6)], 512);
        Assert.True(Signals.Rms(after.Left) > 0.01, "the widener keeps playing after bad input");
        p.Stop();
    }

    [Fact]
    public void A_latency_the_host_has_not_seen_is_announced_with_restart_component()
    {
        using var handler = new HostComponentHandler();
        using var p = StartMono(handler);
        bool announced = handler.RestartFlags.Any(f => (f & 8) != 0);
        Assert.Equal(p.LatencySamples > 0, announced);
        p.Stop();
        Assert.Equal(1, handler.RefCount); // the plugin released the handler it held
    }
}
