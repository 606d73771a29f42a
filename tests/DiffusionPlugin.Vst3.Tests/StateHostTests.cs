using DiffusionPlugin.Vst3.Tests.Host;

namespace DiffusionPlugin.Vst3.Tests;

/// <summary>getState / setState through IBStream, as a DAW saves and reopens a project.</summary>
public class StateHostTests
{
    private readonly PluginModule _module = PluginModule.Shared;

    private static Dictionary<uint, double> Writable(PluginInstance p)
        => p.Parameters().Where(x => !x.ReadOnly).ToDictionary(x => x.Id, x => p.GetNormalized(x.Id));

    private static Dictionary<uint, double> Defaults(PluginInstance p)
        => p.Parameters().Where(x => !x.ReadOnly).ToDictionary(x => x.Id, x => x.Default);

    private static byte[] SaveWithChangedParameters(PluginInstance p, int seed)
    {
        var rng = new Random(seed);
        foreach (var param in p.Parameters().Where(x => !x.ReadOnly))
            Assert.Equal(0, p.SetNormalized(param.Id, param.StepCount > 0 ? Math.Round(rng.NextDouble() * param.StepCount) / param.StepCount : rng.NextDouble()));
        using var stream = new HostStream();
        Assert.Equal(0, p.GetState(stream));
        return stream.Bytes.ToArray();
    }

    [Theory]
    [InlineData(Signals.Drums)]
    [InlineData(Signals.Widener)]
    public void Saved_state_reopens_with_every_parameter_and_the_kit_seed(string className)
    {
        Dictionary<uint, double> saved;
        byte[] blob;
        using (var a = _module.Create(className))
        {
            Assert.Equal(0, a.Initialize());
            blob = SaveWithChangedParameters(a, 42);
            saved = Writable(a);
            Assert.NotEqual(Defaults(a), saved);
            Assert.Equal(0, a.Terminate());
        }
        using var b = _module.Create(className);
        Assert.Equal(0, b.Initialize());
        using var stream = new HostStream(blob);
        Assert.Equal(0, b.SetState(stream));
        var restored = Writable(b);
        foreach (var (id, value) in saved) Assert.Equal(value, restored[id], 9);
        using var again = new HostStream();
        Assert.Equal(0, b.GetState(again));
        Assert.Equal(blob, again.Bytes.ToArray());
        Assert.Equal(0, b.Terminate());
    }

    [Fact]
    public void A_truncated_state_blob_leaves_defaults_and_a_log_line()
    {
        using var p = _module.Create(Signals.Drums);
        Assert.Equal(0, p.Initialize());
        var blob = SaveWithChangedParameters(p, 7);
        using var truncated = new HostStream(blob[..(blob.Length / 2)]);
        Assert.Equal(0, p.SetState(truncated)); // the host is not failed; the plugin keeps working on defaults
        Assert.Equal(Defaults(p), Writable(p));
        var logs = Directory.GetFiles(_module.LogDirectory, "*.log");
        Assert.NotEmpty(logs);
        string text = string.Concat(logs.Select(f => { using var s = new FileStream(f, FileMode.Open, FileAccess.Read, FileShare.ReadWrite); return new StreamReader(s).ReadToEnd(); }));
        Assert.Contains("Diffusion Drums: state not loaded (truncated", text);
        Assert.Equal(0, p.Terminate());
    }

    [Fact]
    public void A_foreign_blob_or_the_other_classs_state_leaves_defaults()
    {
        byte[] widenerBlob;
        using (var w = _module.Create(Signals.Widener))
        {
            Assert.Equal(0, w.Initialize());
            widenerBlob = SaveWithChangedParameters(w, 3);
            Assert.Equal(0, w.Terminate());
        }
        using var p = _module.Create(Signals.Drums);
        Assert.Equal(0, p.Initialize());
        foreach (var blob in new[] { widenerBlob, Enumerable.Range(0, 300).Select(i => (byte)(i * 37)).ToArray(), Array.Empty<byte>() })
        {
            SaveWithChangedParameters(p, blob.Length);
            using var stream = new HostStream(blob);
            Assert.Equal(0, p.SetState(stream));
            Assert.Equal(Defaults(p), Writable(p));
        }
        Assert.Equal(0, p.Terminate());
    }

    [Fact]
    public void The_same_state_renders_the_same_kit()
    {
        byte[] blob;
        float[] first;
        using (var a = _module.Create(Signals.Drums))
        {
            Assert.Equal(0, a.Initialize());
            Assert.Equal(0, a.SetNormalized(Signals.ParameterId(a, "Humanize"), 0));
            Assert.Equal(0, a.SetNormalized(Signals.ParameterId(a, "Kit Seed"), 0.1234));
            using var s = new HostStream();
            Assert.Equal(0, a.GetState(s));
            blob = s.Bytes.ToArray();
            Assert.Equal(0, a.SetupProcessing(48000, 512, offline: true));
            Assert.Equal(0, a.SetActive(true));
            DrumsHostTests.SettledStatus(a, 512);
            first = Signals.RenderNotes(a, [(10, 38, 0.8f)], 12_000, 512).Left;
            a.Stop();
        }
        using var b = _module.Create(Signals.Drums);
        Assert.Equal(0, b.Initialize());
        using (var s = new HostStream(blob)) Assert.Equal(0, b.SetState(s));
        Assert.Equal(0, b.SetupProcessing(48000, 512, offline: true));
        Assert.Equal(0, b.SetActive(true));
        DrumsHostTests.SettledStatus(b, 512);
        var second = Signals.RenderNotes(b, [(10, 38, 0.8f)], 12_000, 512).Left;
        Assert.True(Signals.Rms(first) > 1e-3);
        double diff = Signals.Rms(first.Zip(second, (x, y) => x - y).ToArray());
        Assert.True(diff < 0.05 * Signals.Rms(first), $"reopened kit differs: {diff}");
        b.Stop();
    }
}
