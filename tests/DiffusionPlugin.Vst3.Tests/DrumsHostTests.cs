using DiffusionPlugin.Vst3.Tests.Host;

namespace DiffusionPlugin.Vst3.Tests;

/// <summary>Diffusion Drums driven through the VST3 interfaces: buses, parameters, notes in, audio out.</summary>
public class DrumsHostTests
{
    private readonly PluginModule _module = PluginModule.Shared;

    [Fact]
    public void Drums_has_one_event_input_and_one_stereo_output_and_no_audio_input()
    {
        using var p = _module.Create(Signals.Drums);
        Assert.Equal(0, p.Initialize());
        Assert.Equal(0, p.BusCount(0, 0));
        Assert.Equal(1, p.BusCount(0, 1));
        Assert.Equal(1, p.BusCount(1, 0));
        Assert.Equal(2, p.BusInfo(0, 1, 0).Channels);
        Assert.NotEqual(0, p.BusInfo(0, 1, 1).Result);
        Assert.Equal(3UL, p.BusArrangement(1, 0));
        Assert.Equal(TResult.Ok, p.SetBusArrangements([], [3UL]));
        Assert.NotEqual(TResult.Ok, p.SetBusArrangements([], [1UL << 19]));
        Assert.Equal(TResult.Ok, p.CanProcessSampleSize(0));
        Assert.NotEqual(TResult.Ok, p.CanProcessSampleSize(1));
        Assert.Equal(0, p.Terminate());
    }

    [Fact]
    public void Drums_parameters_cover_kit_humanize_quality_guidance_gain_levels_and_read_only_status()
    {
        using var p = _module.Create(Signals.Drums);
        Assert.Equal(0, p.Initialize());
        var ps = p.Parameters();
        foreach (var title in new[] { "Kit Seed", "Humanize", "Quality (steps)", "Guidance", "Output Gain", "Level kick", "Level snare", "Level hihat_closed" })
            Assert.True(ps.Single(x => x.Title == title).CanAutomate, title);
        Assert.Equal(11, ps.Count(x => x.Title.StartsWith("Level ")));
        Assert.True(ps.Single(x => x.Title == "Engine Status").ReadOnly);
        Assert.True(ps.Single(x => x.Title == "Fresh Hit Ratio").ReadOnly);
        Assert.Equal(ps.Count, ps.Select(x => x.Id).Distinct().Count());
        Assert.Equal(0, p.Terminate());
    }

    [Fact]
    public void Every_writable_parameter_reads_back_the_value_its_text_shows()
    {
        using var p = _module.Create(Signals.Drums);
        Assert.Equal(0, p.Initialize());
        foreach (var param in p.Parameters().Where(x => !x.ReadOnly))
        {
            foreach (var v in new[] { 0.0, 0.25, 0.8, 1.0 })
            {
                string text = p.ParameterText(param.Id, v);
                double back = p.ParameterFromText(param.Id, text);
                double step = param.StepCount > 0 ? 1.0 / param.StepCount : 0.01;
                Assert.True(Math.Abs(back - v) <= step, $"{param.Title}: {v} -> '{text}' -> {back}");
            }
        }
        Assert.Equal(0, p.Terminate());
    }

    [Fact]
    public void Status_says_which_engine_plays_and_why_when_it_is_the_fallback()
    {
        using var p = _module.Create(Signals.Drums);
        p.Start(48000, 512);
        uint status = Signals.ParameterId(p, "Engine Status");
        // The engine loads its model on its worker after activation: wait until it has decided.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (p.ParameterText(status, p.GetNormalized(status)).StartsWith("Loading") && DateTime.UtcNow < deadline)
        {
            Assert.Equal(0, p.Process(null, [new float[512], new float[512]], 512));
            Thread.Sleep(20);
        }
        var text = p.ParameterText(status, p.GetNormalized(status));
        Assert.Matches("^(CPU|CUDA|Fallback): .{8,}", text); // the label and a human reason
        bool modelShipped = File.Exists(Path.Combine(_module.BundlePath, "Contents", "Resources", "models", "drums", "manifest.json"));
        if (!modelShipped) Assert.StartsWith("Fallback", text);
        p.Stop();
    }

    [Fact]
    public void The_engine_status_reaches_the_host_through_output_parameter_changes_when_it_changes()
    {
        using var p = _module.Create(Signals.Drums);
        p.Start(48000, 512);
        uint status = Signals.ParameterId(p, "Engine Status");
        uint fresh = Signals.ParameterId(p, "Fresh Hit Ratio");
        var reported = new List<(uint Id, double Value)>();
        int Block()
        {
            using var output = new HostParameterChanges();
            Assert.Equal(0, p.Process(null, [new float[512], new float[512]], 512, outputChanges: output));
            foreach (var q in output.Queues) reported.AddRange(q.Points.Select(pt => (q.Id, pt.Value)));
            return output.Queues.Count;
        }
        Assert.Equal(2, Block()); // the first block tells the host both read-only values
        Assert.Contains(reported, r => r.Id == status);
        Assert.Contains(reported, r => r.Id == fresh && r.Value == p.GetNormalized(fresh));
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (p.ParameterText(status, p.GetNormalized(status)).StartsWith("Loading") && DateTime.UtcNow < deadline)
        {
            Block();
            Thread.Sleep(20);
        }
        Block(); // the block after the engine decided reports its status (if it had not already)
        Assert.Equal(p.GetNormalized(status), reported.Last(r => r.Id == status).Value);
        Assert.Equal(0, Block()); // nothing changed since: nothing is sent
        p.Stop();
    }

    [Fact]
    public void Each_note_on_starts_a_hit_at_its_sample_offset_after_silence()
    {
        using var p = _module.Create(Signals.Drums);
        p.Start(48000, 512);
        int latency = (int)p.LatencySamples;
        (int Frame, int Pitch, float Velocity)[] notes = [(1000, 36, 0.9f), (12_345, 38, 0.8f), (24_000, 42, 0.7f), (36_789, 36, 1f)];
        var (left, right) = Signals.RenderNotes(p, notes, 48_000, 512);
        Assert.True(Signals.AllFinite(left) && Signals.AllFinite(right));
        Assert.True(left.Take(1000 + latency).Concat(right.Take(1000 + latency)).All(v => Math.Abs(v) < 1e-6), "silence before the first note");
        foreach (var n in notes)
        {
            int onset = Math.Min(Signals.Onset(left, n.Frame + latency - 2, 1e-4f) is var l and >= 0 ? l : int.MaxValue,
                                 Signals.Onset(right, n.Frame + latency - 2, 1e-4f) is var r and >= 0 ? r : int.MaxValue);
            Assert.InRange(onset, n.Frame + latency - 2, n.Frame + latency + 64);
            Assert.True(Signals.Rms(left.AsSpan(n.Frame + latency, 2000)) > 1e-3, $"hit at {n.Frame} is audible");
        }
        p.Stop();
    }

    /// <summary>Waits (processing silence) until the engine's worker has loaded its model or settled on the fallback.</summary>
    internal static string SettledStatus(PluginInstance p, int block)
    {
        uint status = Signals.ParameterId(p, "Engine Status");
        var deadline = DateTime.UtcNow.AddSeconds(30);
        string text;
        while ((text = p.ParameterText(status, p.GetNormalized(status))).StartsWith("Loading") && DateTime.UtcNow < deadline)
        {
            Assert.Equal(0, p.Process(null, [new float[block], new float[block]], block));
            Thread.Sleep(20);
        }
        return text;
    }

    [Fact]
    public void Reactivation_from_another_thread_while_the_model_loads_keeps_the_model_as_in_ardour()
    {
        // Ardour 7.3's sequence: activate on the main thread, then deactivate and re-activate from one of its own
        // threads while the model is still loading, with a second instance alive and process called meanwhile.
        using var other = _module.Create(Signals.Widener);
        other.Start(48000, 1024);
        using var p = _module.Create(Signals.Drums);
        p.Start(48000, 1024);
        Exception? failure = null;
        var host = new Thread(() =>
        {
            try
            {
                Thread.Sleep(30);
                Assert.Equal(0, p.SetProcessing(false));
                Assert.Equal(0, p.SetActive(false));
                Assert.Equal(0, p.SetupProcessing(44100, 512));
                Assert.Equal(0, p.SetActive(true));
                Assert.Equal(0, p.SetProcessing(true));
                for (int i = 0; i < 20; i++) Assert.Equal(0, p.Process(null, [new float[512], new float[512]], 512));
            }
            catch (Exception e) { failure = e; }
        });
        host.Start();
        host.Join();
        Assert.Null(failure);
        string status = SettledStatus(p, 512);
        bool modelShipped = File.Exists(Path.Combine(_module.BundlePath, "Contents", "Resources", "models", "drums", "manifest.json"));
        if (modelShipped) Assert.Matches("^(CPU|CUDA): ", status);
        // Hits after the re-activation come from the model (or the fallback without one) and are audible.
        var (left, _) = Signals.RenderNotes(p, [(1000, 36, 1f), (20_000, 36, 1f)], 40_000, 512);
        Assert.True(Signals.Rms(left.AsSpan(1000, 6000)) > 1e-3 && Signals.Rms(left.AsSpan(20_000, 6000)) > 1e-3);
        p.Stop();
        other.Stop();
    }

    [Fact]
    public void Consecutive_hits_of_one_note_differ_when_the_model_plays_and_all_sound_in_fallback()
    {
        using var p = _module.Create(Signals.Drums);
        p.Start(48000, 256, offline: true); // offline: the engine may take the time to generate every hit
        string status = SettledStatus(p, 256);
        int latency = (int)p.LatencySamples;
        var frames = new[] { 2000, 26_000, 50_000, 74_000 };
        var (left, _) = Signals.RenderNotes(p, frames.Select(f => (f, 38, 0.8f)), 96_000, 256);
        var hits = frames.Select(f => left.AsSpan(f + latency, 6000).ToArray()).ToArray();
        foreach (var hit in hits) Assert.True(Signals.Rms(hit) > 1e-3, "every hit is audible");
        // Variation comes from diffusion. Hits the fallback sound played (no model in the bundle, or a model without
        // this class) are the kit's seeded sound: the fresh-hit ratio says which case this is.
        uint freshId = Signals.ParameterId(p, "Fresh Hit Ratio");
        double fresh = p.GetNormalized(freshId);
        if (status.StartsWith("Fallback") || fresh < 1) return;
        for (int i = 1; i < hits.Length; i++)
        {
            var diff = hits[i].Zip(hits[i - 1], (a, b) => a - b).ToArray();
            double relative = Signals.Rms(diff) / Math.Max(Signals.Rms(hits[i]), 1e-9);
            Assert.True(relative > 0.01, $"hit {i} equals hit {i - 1} (relative difference {relative}, status {status}, fresh {fresh})");
        }
        p.Stop();
    }

    [Fact]
    public void A_freewheeling_export_of_a_real_time_session_plays_a_fresh_hit_for_every_note_from_the_first()
    {
        // Ardour's export: activated for real time, then blocks flagged kOffline rendered as fast as the CPU goes,
        // starting right away (the model may still be loading). Every hit must still be a fresh diffusion variation.
        using var p = _module.Create(Signals.Drums);
        p.Start(48000, 1024);
        // A roll of 32 kicks and 32 hats per second: more than any pool holds or the worker makes in real time.
        var kicks = Enumerable.Range(0, 40).Select(i => (Frame: 1000 + i * 1500, Pitch: 36, Velocity: 0.9f)).ToList();
        var hats = Enumerable.Range(0, 40).Select(i => (Frame: 1750 + i * 1500, Pitch: 42, Velocity: 0.7f)).ToList();
        var (left, _) = Signals.RenderNotes(p, kicks.Concat(hats), 1000 + 40 * 1500, 1024, offlineBlocks: true);
        uint statusId = Signals.ParameterId(p, "Engine Status"), freshId = Signals.ParameterId(p, "Fresh Hit Ratio");
        string status = p.ParameterText(statusId, p.GetNormalized(statusId));
        bool modelShipped = File.Exists(Path.Combine(_module.BundlePath, "Contents", "Resources", "models", "drums", "manifest.json"));
        foreach (var k in kicks) Assert.True(Signals.Rms(left.AsSpan(k.Frame, 700)) > 1e-3, $"kick at {k.Frame} is audible");
        if (!modelShipped || status.StartsWith("Fallback")) return; // without a model there is nothing fresh to make
        Assert.Equal(1.0, p.GetNormalized(freshId), 6); // 80 of 80 hits fresh: none reused, none from the fallback sound
        for (int i = 1; i < kicks.Count; i++)
        {
            var a = left.AsSpan(kicks[i - 1].Frame, 700).ToArray();
            var b = left.AsSpan(kicks[i].Frame, 700).ToArray();
            double relative = Signals.Rms(a.Zip(b, (x, y) => x - y).ToArray()) / Math.Max(Signals.Rms(b), 1e-9);
            Assert.True(relative > 0.01, $"kick {i} equals kick {i - 1} (relative difference {relative})");
        }
        // Back to real-time blocks: the worker resumes and playing goes on.
        var (after, _) = Signals.RenderNotes(p, [(2000, 38, 1f)], 16_384, 1024);
        Assert.True(Signals.Rms(after.AsSpan(2000, 4000)) > 1e-3);
        p.Stop();
    }

    [Fact]
    public void Output_gain_automation_in_the_process_call_lowers_the_level()
    {
        double Level(double gainNormalized)
        {
            using var p = _module.Create(Signals.Drums);
            // Humanize 0 and offline: both renders play the kit's same anchor hit, whatever engine state.
            Assert.Equal(0, p.Initialize());
            Assert.Equal(0, p.SetNormalized(Signals.ParameterId(p, "Humanize"), 0));
            p.Start(48000, 512, offline: true);
            SettledStatus(p, 512);
            uint gain = Signals.ParameterId(p, "Output Gain");
            using var changes = new HostParameterChanges();
            changes.Set(gain, gainNormalized);
            Assert.Equal(0, p.Process(null, [new float[512], new float[512]], 0, changes: changes)); // a parameter-only flush
            Assert.Equal(gainNormalized, p.GetNormalized(gain), 6);
            // The engine smooths gain changes: play the note once the new gain has settled.
            var (left, _) = Signals.RenderNotes(p, [(24_000, 36, 1f)], 32_768, 512);
            p.Stop();
            return Signals.Rms(left.AsSpan(24_000));
        }
        double loud = Level(24.0 / 36.0), quiet = Level(0.0); // 0 dB and -24 dB
        Assert.InRange(quiet / loud, 0.05, 0.08); // -24 dB = 0.063
    }
}
