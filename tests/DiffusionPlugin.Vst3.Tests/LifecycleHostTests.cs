using DiffusionPlugin.Vst3.Tests.Host;

namespace DiffusionPlugin.Vst3.Tests;

/// <summary>What hosts do that is easy to get wrong: repeated lifecycles, odd block sizes, other threads.</summary>
public class LifecycleHostTests
{
    private readonly PluginModule _module = PluginModule.Shared;

    [Theory]
    [InlineData(Signals.Drums)]
    [InlineData(Signals.Widener)]
    public void Terminate_and_initialize_can_loop_and_each_round_still_makes_sound(string className)
    {
        using var p = _module.Create(className);
        for (int round = 0; round < 12; round++)
        {
            p.Start(round % 2 == 0 ? 44100 : 96000, 64 << (round % 4));
            // Enough blocks to get past the latency; a note in the first one for the drums.
            int latency = (int)p.LatencySamples;
            var out0 = new[] { new float[4096], new float[4096] };
            for (int done = 0; done <= latency; done += 4096)
            {
                using var events = new HostEventList();
                if (done == 0) events.NoteOn(0, 36, 1f);
                var input = new[] { Signals.Noise(4096, round), Signals.Noise(4096, round + 100) };
                Assert.Equal(0, p.Process(className == Signals.Widener ? input : null, out0, 4096, events));
            }
            Assert.True(Signals.Rms(out0[0]) > 1e-3, $"round {round} is silent (latency {latency})");
            Assert.True(Signals.AllFinite(out0[0]) && Signals.AllFinite(out0[1]));
            p.Stop();
        }
    }

    [Theory]
    [InlineData(Signals.Drums, 1)]
    [InlineData(Signals.Widener, 2)]
    public void Random_block_sizes_from_0_to_8191_stay_finite_and_keep_time(string className, int seed)
    {
        using var p = _module.Create(className);
        p.Start(48000, 8192);
        var rng = new Random(seed);
        var outL = new float[8192];
        var outR = new float[8192];
        var inL = new float[8192];
        long total = 0;
        int audibleBlocks = 0;
        for (int i = 0; i < 250; i++)
        {
            int n = i % 25 == 0 ? 0 : rng.Next(0, 8192);
            for (int k = 0; k < n; k++) inL[k] = (float)(rng.NextDouble() - 0.5);
            using var events = new HostEventList();
            if (n > 0) events.NoteOn(rng.Next(0, n), 35 + rng.Next(0, 47), (float)rng.NextDouble());
            Array.Fill(outL, float.NaN, 0, n);
            Assert.Equal(0, p.Process(className == Signals.Widener ? [inL] : null, [outL, outR], n, events));
            for (int k = 0; k < n; k++) Assert.True(float.IsFinite(outL[k]) && float.IsFinite(outR[k]), $"block {i} ({n} frames) sample {k}");
            if (n > 0 && Signals.Rms(outL.AsSpan(0, n)) > 1e-4) audibleBlocks++;
            total += n;
        }
        Assert.True(total > 0);
        Assert.True(audibleBlocks > 150, $"only {audibleBlocks} blocks made sound");
        p.Stop();
    }

    [Fact]
    public void Blocks_longer_than_the_announced_maximum_are_still_rendered()
    {
        using var p = _module.Create(Signals.Drums);
        p.Start(48000, 128);
        var (left, _) = Signals.RenderNotes(p, [(1500, 36, 1f)], 4096, 4096);
        Assert.True(Signals.Rms(left.AsSpan(1500, 1000)) > 1e-3);
        Assert.True(left.Take(1500).All(v => v == 0));
        p.Stop();
    }

    [Theory]
    [InlineData(Signals.Drums)]
    [InlineData(Signals.Widener)]
    public void Processing_runs_on_its_own_thread_while_the_ui_thread_edits_and_saves(string className)
    {
        using var p = _module.Create(className);
        p.Start(48000, 256);
        var ids = p.Parameters().Where(x => !x.ReadOnly && x.Title != "Bypass").Select(x => x.Id).ToArray();
        Exception? failure = null;
        int blocks = 0;
        var audio = new Thread(() =>
        {
            try
            {
                var rng = new Random(9);
                var outs = new[] { new float[256], new float[256] };
                var ins = new[] { Signals.Noise(256, 1) };
                for (int i = 0; i < 600; i++)
                {
                    using var events = new HostEventList();
                    events.NoteOn(rng.Next(0, 256), 36 + rng.Next(0, 10), 0.9f);
                    using var changes = new HostParameterChanges();
                    changes.Set(ids[rng.Next(ids.Length)], rng.NextDouble());
                    if (p.Process(className == Signals.Widener ? ins : null, outs, 256, events, changes) != 0) throw new Exception("process failed");
                    if (!Signals.AllFinite(outs[0]) || !Signals.AllFinite(outs[1])) throw new Exception("non-finite output");
                    blocks++;
                }
            }
            catch (Exception e) { failure = e; }
        });
        audio.Start();
        var ui = new Random(4);
        while (audio.IsAlive)
        {
            p.SetNormalized(ids[ui.Next(ids.Length)], ui.NextDouble());
            foreach (var id in ids) Assert.True(double.IsFinite(p.GetNormalized(id)));
            using var s = new HostStream();
            Assert.Equal(0, p.GetState(s));
            Thread.Sleep(1);
        }
        audio.Join();
        Assert.Null(failure);
        Assert.Equal(600, blocks);
        p.Stop();
    }

    [Fact]
    public void Process_before_activation_returns_silence_instead_of_failing()
    {
        using var p = _module.Create(Signals.Drums);
        Assert.Equal(0, p.Initialize());
        var outs = new[] { Enumerable.Repeat(1f, 64).ToArray(), Enumerable.Repeat(1f, 64).ToArray() };
        Assert.Equal(0, p.Process(null, outs, 64));
        Assert.All(outs[0], v => Assert.Equal(0f, v));
        Assert.Equal(0, p.Terminate());
    }

    [Fact]
    public void A_sample_rate_the_engine_cannot_run_still_activates_and_the_widener_passes_audio_through()
    {
        using var p = _module.Create(Signals.Widener);
        Assert.Equal(0, p.Initialize());
        Assert.Equal(0, p.SetupProcessing(1234.5678, 512));
        Assert.Equal(0, p.SetActive(true));
        var x = Signals.Noise(512, 21);
        var outs = new[] { new float[512], new float[512] };
        Assert.Equal(0, p.Process([x, x], outs, 512));
        Assert.Equal(x, outs[0]);
        Assert.Equal(x, outs[1]);
        Assert.Equal(0u, p.LatencySamples);
        Assert.Equal(0, p.SetActive(false));
        Assert.Equal(0, p.SetupProcessing(48000, 512)); // and it recovers at a normal rate
        Assert.Equal(0, p.SetActive(true));
        Assert.Equal(0, p.Process([x, x], outs, 512));
        Assert.True(Signals.AllFinite(outs[0]));
        p.Stop();
    }
}
