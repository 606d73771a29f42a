using DiffusionPlugin.Engine.Diffusion;
using DiffusionPlugin.Engine.Realtime;
using static DiffusionPlugin.Engine.Tests.Realtime.RealtimeTestKit;

namespace DiffusionPlugin.Engine.Tests.Realtime;

public class DrumInstrumentTests
{
    private const double Rate = 48000;

    private static float[] OfflineRender(Action<DrumInstrument>? configure, IEnumerable<Hit> hits, long frames, bool model = true, int block = 512)
    {
        using var drums = Drums(model ? new FakeDiffusionOperations() : null);
        configure?.Invoke(drums);
        drums.Activate(Rate, block, offline: true);
        return Render(drums, hits, frames, block);
    }

    private static void Humanised(DrumInstrument d)
    {
        d.Humanize = 0.4f; d.VelocityJitter = 0.1f; d.TimingJitterMs = 5f; d.Stamina = 0.5f; d.KitSeed = 1234;
    }

    [Fact]
    public void Two_offline_renders_of_the_same_groove_are_bit_identical()
    {
        var groove = Groove(Rate, bars: 2);
        long frames = (long)(Rate * 4.5);
        var a = OfflineRender(Humanised, groove, frames);
        var b = OfflineRender(Humanised, groove, frames, block: 333); // block size must not matter either
        Assert.True(Rms(a) > 1e-3, "the render is silent");
        Assert.Equal(a.Select(BitConverter.SingleToInt32Bits), b.Select(BitConverter.SingleToInt32Bits));

        var otherKit = OfflineRender(d => { Humanised(d); d.KitSeed = 999; }, groove, frames);
        Assert.NotEqual(a, otherKit);
    }

    [Fact]
    public void Offline_renders_without_a_model_are_bit_identical_too()
    {
        var groove = Groove(Rate, bars: 1);
        var a = OfflineRender(Humanised, groove, (long)Rate * 3, model: false);
        var b = OfflineRender(Humanised, groove, (long)Rate * 3, model: false);
        Assert.True(Rms(a) > 1e-3);
        Assert.Equal(a, b);
    }

    [Fact]
    public void Humanize_zero_plays_the_anchor_every_time_and_one_varies_every_hit()
    {
        Hit[] hits = [new(0, 38, 1f), new(30000, 38, 1f)];
        var same = OfflineRender(d => d.Humanize = 0f, hits, 60000);
        Assert.Equal(same.AsSpan(0, 30000).ToArray(), same.AsSpan(30000, 30000).ToArray());
        Assert.True(Rms(same.AsSpan(0, 30000)) > 1e-3);

        var varied = OfflineRender(d => d.Humanize = 1f, hits, 60000);
        Assert.NotEqual(varied.AsSpan(0, 30000).ToArray(), varied.AsSpan(30000, 30000).ToArray());
    }

    [Fact]
    public void A_hit_starts_exactly_at_its_sample_offset()
    {
        var y = OfflineRender(d => d.Humanize = 0f, [new Hit(700, 36, 1f)], 2048);
        Assert.All(y.AsSpan(0, 700).ToArray(), v => Assert.Equal(0f, v));
        Assert.True(Rms(y.AsSpan(700, 64)) > 1e-4);
    }

    [Fact]
    public void Velocity_sets_the_level_as_its_square()
    {
        var loud = OfflineRender(d => d.Humanize = 0f, [new Hit(0, 38, 1f)], 8192);
        var soft = OfflineRender(d => d.Humanize = 0f, [new Hit(0, 38, 0.5f)], 8192);
        for (int i = 0; i < loud.Length; i++) Assert.Equal(loud[i] * 0.25f, soft[i]);
    }

    [Fact]
    public void A_hit_still_ringing_where_the_generated_clip_ends_fades_out_instead_of_clicking()
    {
        // The fake crash decays with τ = 0.23 s: about −19 dB where its 0.51 s clip stops.
        var y = OfflineRender(d => d.Humanize = 0f, [new Hit(0, 49, 1f)], 48000);
        int last = Array.FindLastIndex(y, v => v != 0f);
        Assert.InRange(last, 20000, 30000);
        double before = Rms(y.AsSpan(last - 2000, 1000));
        Assert.True(before > 1e-3, "the crash is silent before its end");
        Assert.True(MathF.Abs(y[last]) < 0.01 * before, $"last sample {y[last]} vs {before} rms just before: a click");
    }

    [Fact]
    public void Hits_are_sampled_with_the_models_guidance_interval_and_the_players_steps_and_guidance()
    {
        var ops = new FakeDiffusionOperations(tunedSampling: new() { Steps = 6, Guidance = 2f, GuidanceMaxSigma = 1f });
        using var drums = Drums(ops);
        drums.Steps = 9; drums.Guidance = 3f; drums.Humanize = 0.5f;
        drums.Activate(Rate, 512, offline: true);
        Render(drums, [new Hit(0, 38, 1f)], 4096, 512);
        Assert.Equal(new SamplingOptions { Steps = 9, Guidance = 3f, GuidanceMaxSigma = 1f }, ops.LastOptions);
    }

    /// <summary>A snare-only calibration with one row of two bands at every frame (<paramref name="extra"/>: more JSON fields).</summary>
    private static SpectralCalibration SnareCalibration(double gainDb, string extra = "") =>
        SpectralCalibration.Parse(System.Text.Encoding.UTF8.GetBytes(
            "{\"formatVersion\": 1, \"fftSize\": 1024, \"hopSamples\": 256, \"bandEdges\": [0, 100, 513], \"velocityNodes\": [0.5], " +
            extra + $"\"gainsDb\": {{\"snare\": [[[{gainDb.ToString(System.Globalization.CultureInfo.InvariantCulture)}, {gainDb.ToString(System.Globalization.CultureInfo.InvariantCulture)}]]]}}}}"), "test-calibration.json");

    /// <summary>One note at full velocity, rendered offline through a model with <paramref name="calibration"/>.</summary>
    private static float[] PlayOneNote(SpectralCalibration? calibration, int note, float humanize, int frames)
    {
        using var drums = Drums(new FakeDiffusionOperations(calibration: calibration));
        drums.Humanize = humanize;
        drums.Activate(Rate, 512, offline: true);
        return Render(drums, [new Hit(0, note, 1f)], frames, 512);
    }

    [Fact]
    public void Hits_of_a_class_the_models_calibration_covers_play_through_it_and_others_do_not()
    {
        var calibration = SnareCalibration(-12); // snares down 12 dB everywhere, no table for kicks
        float[] Play(SpectralCalibration? c, int note) => PlayOneNote(c, note, humanize: 0.5f, frames: 9600);
        double snareDb = 20 * Math.Log10(Rms(Play(calibration, 38)) / Rms(Play(null, 38)));
        Assert.InRange(snareDb, -12.5, -11.5);
        Assert.Equal(Play(null, 36), Play(calibration, 36));
    }

    [Fact]
    public void A_calibrated_hit_keeps_its_decay_down_to_the_calibrations_tail_floor()
    {
        // A 0 dB table (the sound unchanged) for snares whose file lets tails ring 90 dB under the peak.
        var calibration = SnareCalibration(0, extra: "\"tailFloorDb\": -90, ");
        // Humanize 0: the generated anchor itself, a plain exponential decay.
        float[] Play(SpectralCalibration? c, int note) => PlayOneNote(c, note, humanize: 0f, frames: 36000);
        static int Sounding(float[] x) => Array.FindLastIndex(x, v => v != 0f) + 1;
        int snareDefault = Sounding(Play(null, 38)), snareCalibrated = Sounding(Play(calibration, 38));
        Assert.True(snareDefault > 0);
        Assert.True(snareCalibrated > snareDefault + Rate / 100, $"{snareCalibrated} vs {snareDefault} samples");
        Assert.Equal(Play(null, 36), Play(calibration, 36)); // kicks: no table, the default floor
    }

    [Fact]
    public void With_a_timbre_model_each_note_keeps_the_timbre_its_kit_seed_draws_read_at_each_hits_velocity()
    {
        var spread = new ManifestTimbrePrior { Mean = [0f, 0f, 0f], Slope = [1f, 0f, 0f], Chol = [[0.5f, 0f, 0f], [0f, 0.5f, 0f], [0f, 0f, 0.5f]] };
        var prior = new TimbrePrior(new Dictionary<string, ManifestTimbrePrior> { ["snare"] = spread, ["kick"] = spread },
                                    FakeDiffusionOperations.StandardClasses);
        var ops = new FakeDiffusionOperations(timbrePrior: prior);
        using var drums = Drums(ops);
        drums.Humanize = 0.5f; drums.KitSeed = 77;
        drums.Activate(Rate, 512, offline: true);
        Render(drums, [new Hit(0, 38, 1f), new Hit(20000, 38, 0.5f), new Hit(40000, 40, 1f), new Hit(60000, 36, 1f)], 80000, 512);
        int snare = Array.IndexOf(FakeDiffusionOperations.StandardClasses, "snare");
        int kick = Array.IndexOf(FakeDiffusionOperations.StandardClasses, "kick");
        var seen = ops.Conditionings.ToArray();
        TimbreDescriptors Expected(int classId, float velocity, int note) =>
            prior.Draw(classId, velocity, AudioMath.Seed(77, (ulong)note))!.Value;
        // Each note's anchor (Generate, velocity 0.8) and hits (Vary, at the played velocity) carry the same draw.
        Assert.Contains((true, new DiffusionConditioning(snare, 0.8f, Expected(snare, 0.8f, 38))), seen);
        Assert.Contains((false, new DiffusionConditioning(snare, 1f, Expected(snare, 1f, 38))), seen);
        Assert.Contains(seen, s => !s.Generate && s.Conditioning.ClassId == snare && s.Conditioning.Velocity < 1f
                                    && s.Conditioning.Timbre == Expected(snare, s.Conditioning.Velocity, 38));
        Assert.Contains((false, new DiffusionConditioning(kick, 1f, Expected(kick, 1f, 36))), seen);
        Assert.All(seen.Where(s => s.Conditioning.ClassId == snare || s.Conditioning.ClassId == kick), s => Assert.NotNull(s.Conditioning.Timbre));
        Assert.Contains(seen, s => s.Conditioning.ClassId == 10 && s.Conditioning.Timbre is null); // the warm-up's "general": no prior
        // Another snare note of the kit (40, electric snare) has a timbre of its own.
        Assert.Contains((false, new DiffusionConditioning(snare, 1f, Expected(snare, 1f, 40))), seen);
        Assert.NotEqual(Expected(snare, 1f, 38), Expected(snare, 1f, 40));
    }

    [Fact]
    public void The_closed_and_pedal_hats_choke_the_open_hat()
    {
        const int chokeAt = 4800, fade = 480; // 10 ms at 48 kHz
        var openOnly = OfflineRender(null, [new Hit(0, 46, 1f)], 14400);
        var both = OfflineRender(null, [new Hit(0, 46, 1f), new Hit(chokeAt, 42, 1f)], 14400);
        var closedOnly = OfflineRender(null, [new Hit(chokeAt, 42, 1f)], 14400);
        // Before the closed hat: the open hat as it is. After its fade: only the closed hat.
        Assert.Equal(openOnly.AsSpan(0, chokeAt).ToArray(), both.AsSpan(0, chokeAt).ToArray());
        Assert.Equal(closedOnly.AsSpan(chokeAt + fade).ToArray(), both.AsSpan(chokeAt + fade).ToArray());
        Assert.True(Rms(openOnly.AsSpan(chokeAt + fade, 2000)) > 1e-3, "the open hat would still ring without the choke");

        var pedal = OfflineRender(null, [new Hit(0, 46, 1f), new Hit(chokeAt, 44, 1f)], 14400);
        var pedalOnly = OfflineRender(null, [new Hit(chokeAt, 44, 1f)], 14400);
        Assert.Equal(pedalOnly.AsSpan(chokeAt + fade).ToArray(), pedal.AsSpan(chokeAt + fade).ToArray());
    }

    [Fact]
    public void Past_the_polyphony_limit_the_oldest_voice_is_stolen_with_a_short_fade()
    {
        const int fade = 240; // 5 ms at 48 kHz
        Hit[] three = [new(0, 36, 1f), new(1000, 38, 1f), new(2000, 45, 1f)];
        var stolen = OfflineRender(d => d.MaxVoices = 2, three, 12000);
        var withoutFirst = OfflineRender(d => d.MaxVoices = 2, three[1..], 12000);
        var firstAlone = OfflineRender(d => d.MaxVoices = 2, three[..1], 12000);
        Assert.Equal(withoutFirst.AsSpan(2000 + fade).ToArray(), stolen.AsSpan(2000 + fade).ToArray());
        Assert.True(Rms(firstAlone.AsSpan(2000 + fade, 1000)) > 1e-3, "the kick would still sound without stealing");
        // Within the fade the kick is still there, fading: never a hard cut.
        Assert.NotEqual(withoutFirst.AsSpan(2000, fade).ToArray(), stolen.AsSpan(2000, fade).ToArray());
    }

    [Fact]
    public void Late_only_timing_jitter_never_plays_a_hit_early()
    {
        const int spacing = 24000;
        var hits = Enumerable.Range(0, 40).Select(i => new Hit((long)i * spacing, 36, 1f)).ToArray();
        var y = OfflineRender(d => { d.Humanize = 0f; d.TimingJitterMs = 5f; }, hits, 40L * spacing);
        int maxLate = (int)(4 * 5 * Rate / 1000) + 1, late = 0;
        foreach (var h in hits)
        {
            int onset = -1;
            for (int i = (int)h.At - 200; i < h.At + maxLate + 10; i++)
                if (i >= 0 && y[i] != 0f) { onset = i; break; }
            Assert.True(onset >= h.At, $"hit at {h.At} started early ({onset})");
            Assert.True(onset <= h.At + maxLate, $"hit at {h.At} started too late ({onset})");
            if (onset > h.At + 2) late++;
        }
        Assert.True(late > 20, "jitter had no effect");
    }

    [Fact]
    public void Fast_repeats_come_out_weaker_with_stamina()
    {
        float PeakOfSecond(float stamina, bool withFirst)
        {
            Hit[] hits = withFirst ? [new(0, 38, 1f), new(2400, 38, 1f)] : [new(2400, 38, 1f)];
            var y = OfflineRender(d => { d.Humanize = 0f; d.MaxVoices = 1; d.Stamina = stamina; }, hits, 9600);
            return y.AsSpan(2400 + 240).ToArray().Max(MathF.Abs);
        }
        Assert.True(PeakOfSecond(1f, true) < 0.9f * PeakOfSecond(1f, false));
        Assert.Equal(PeakOfSecond(0f, false), PeakOfSecond(0f, true));
    }

    [Fact]
    public void Gaussian_velocity_jitter_varies_levels_around_the_played_velocity()
    {
        var hits = Enumerable.Range(0, 30).Select(i => new Hit(i * 12000L, 38, 0.6f)).ToArray();
        var y = OfflineRender(d => { d.Humanize = 0f; d.VelocityJitter = 0.1f; }, hits, 30 * 12000L);
        var peaks = hits.Select(h => y.AsSpan((int)h.At, 4000).ToArray().Max(MathF.Abs)).ToArray();
        Assert.True(peaks.Distinct().Count() > 20, "levels do not vary");
        var reference = OfflineRender(d => d.Humanize = 0f, hits[..1], 12000).AsSpan(0, 4000).ToArray().Max(MathF.Abs);
        double meanRatio = peaks.Average(p => Math.Sqrt(p / reference)); // level ∝ velocity²
        Assert.InRange(meanRatio, 0.9, 1.1);
    }

    [Fact]
    public void Every_mapped_General_MIDI_note_sounds_and_unmapped_notes_are_silent()
    {
        for (int note = DrumMap.FirstGmNote; note <= DrumMap.LastGmNote; note++)
        {
            var y = OfflineRender(null, [new Hit(0, note, 1f)], 4096);
            Assert.True(Rms(y) > 1e-4, $"note {note} is silent");
        }
        Assert.True(Rms(OfflineRender(null, [new Hit(0, 20, 1f)], 4096)) == 0);
        Assert.True(Rms(OfflineRender(null, [new Hit(0, 100, 1f)], 4096)) == 0);
    }

    [Fact]
    public void The_General_MIDI_map_is_the_default_and_replaceable_per_note()
    {
        using var d = Drums(null);
        Assert.Equal(DrumClass.Kick, d.GetNoteClass(35));
        Assert.Equal(DrumClass.Kick, d.GetNoteClass(36));
        Assert.Equal(DrumClass.Rim, d.GetNoteClass(37));
        Assert.Equal(DrumClass.Snare, d.GetNoteClass(40));
        Assert.Equal(DrumClass.Clap, d.GetNoteClass(39));
        foreach (var n in new[] { 41, 43, 45, 47, 48, 50 }) Assert.Equal(DrumClass.Tom, d.GetNoteClass(n));
        Assert.Equal(DrumClass.HihatClosed, d.GetNoteClass(44));
        Assert.Equal(DrumClass.HihatOpen, d.GetNoteClass(46));
        foreach (var n in new[] { 49, 52, 55, 57 }) Assert.Equal(DrumClass.Crash, d.GetNoteClass(n));
        foreach (var n in new[] { 51, 53, 59 }) Assert.Equal(DrumClass.Ride, d.GetNoteClass(n));
        Assert.Equal(DrumClass.Percussion, d.GetNoteClass(60));
        Assert.Equal(DrumClass.None, d.GetNoteClass(34));

        var kick = OfflineRender(d => d.Humanize = 0f, [new Hit(0, 36, 1f)], 8192);
        var asHat = OfflineRender(d => { d.Humanize = 0f; d.SetNoteClass(36, DrumClass.HihatClosed); }, [new Hit(0, 36, 1f)], 8192);
        var off = OfflineRender(d => d.SetNoteClass(36, DrumClass.None), [new Hit(0, 36, 1f)], 8192);
        Assert.NotEqual(kick, asHat);
        Assert.Equal(0, Rms(off));
    }

    [Fact]
    public void A_note_played_before_anything_is_generated_sounds_the_fallback_at_once()
    {
        var ops = new FakeDiffusionOperations { Gate = new ManualResetEventSlim(false) };
        using var drums = Drums(ops);
        try
        {
            drums.Activate(Rate, 256, offline: false);
            var y = Render(drums, [new Hit(10, 38, 1f)], 4096, 256);
            Assert.True(Rms(y) > 1e-3, "the first hit was silent");
            Assert.Equal(1, drums.FallbackHits);
        }
        finally { ops.Gate.Set(); }
    }

    [Fact]
    public void An_exhausted_pool_replays_earlier_variations_and_never_leaves_a_note_silent()
    {
        var ops = new FakeDiffusionOperations { Gate = new ManualResetEventSlim(true) };
        using var drums = Drums(ops);
        try
        {
            drums.Humanize = 0.5f;
            drums.Activate(Rate, 256, offline: false);
            var l = new float[256]; var r = new float[256];
            WaitUntil(() => { drums.Process(l, r, 256); return drums.ReadyVariations(38) == drums.PoolSize; }, "a full snare pool");
            ops.Gate.Reset(); // the model now cannot deliver anything
            const int hitsToPlay = 40;
            for (int h = 0; h < hitsToPlay; h++)
            {
                drums.NoteOn(0, 38, 1f);
                double energy = 0;
                for (int b = 0; b < 8; b++) { drums.Process(l, r, 256); energy += Rms(l); }
                Assert.True(energy > 1e-3, $"hit {h} was silent");
            }
            Assert.Equal(drums.PoolSize, drums.FreshHits);
            Assert.Equal(hitsToPlay - drums.PoolSize, drums.ReusedHits);
            Assert.Equal(0, drums.FallbackHits); // generated variations were replayed, not the fallback
        }
        finally { ops.Gate.Set(); }
    }

    /// <summary>Plays one note <paramref name="hits"/> times, each in its own window (humanize off); returns the windows.</summary>
    private static float[][] PlayRepeatedHits(DrumInstrument drums, int note, int hits)
    {
        var l = new float[256]; var r = new float[256];
        var windows = new float[hits][];
        for (int h = 0; h < hits; h++)
        {
            drums.NoteOn(0, note, 1f);
            windows[h] = new float[8 * 256];
            for (int b = 0; b < 8; b++) { drums.Process(l, r, 256); l.CopyTo(windows[h], b * 256); }
            for (int b = 0; b < 40; b++) drums.Process(l, r, 256); // let the hit ring out
        }
        return windows;
    }

    private static void AssertConsecutiveHitsDiffer(float[][] windows, string what)
    {
        for (int h = 1; h < windows.Length; h++)
        {
            var diff = windows[h].Zip(windows[h - 1], (a, b) => a - b).ToArray();
            double relative = Rms(diff) / Rms(windows[h]);
            Assert.True(Rms(windows[h]) > 1e-3, $"{what}: hit {h} was silent");
            Assert.True(relative > 0.1, $"{what}: hit {h} repeats hit {h - 1} (relative difference {relative:F5})");
        }
    }

    [Fact]
    public void While_nothing_is_generated_consecutive_fallback_hits_still_differ()
    {
        var ops = new FakeDiffusionOperations { Gate = new ManualResetEventSlim(false) };
        using var drums = Drums(ops);
        try
        {
            drums.Humanize = 0f;
            drums.Activate(Rate, 256, offline: false);
            var windows = PlayRepeatedHits(drums, 36, 6);
            Assert.Equal(6, drums.FallbackHits);
            AssertConsecutiveHitsDiffer(windows, "fallback");
        }
        finally { ops.Gate.Set(); }
    }

    [Fact]
    public void When_the_worker_is_behind_a_note_with_one_generated_hit_never_replays_it_bit_identically()
    {
        // Humanize 0: every generated kick is the anchor itself, so only how a replay is played can tell two hits apart.
        // Once the anchor exists the worker makes kicks without calling the model, so stalling the model at some moment
        // would leave an unknown number of fresh, identical kicks: the model is let through call by call instead, and
        // the worker stops waiting at a known call right after the first kick was delivered.
        var gate = new ModelCallGate();
        var ops = new FakeDiffusionOperations { CallGate = gate };
        using var drums = Drums(ops);
        try
        {
            drums.Humanize = 0f;
            drums.Activate(Rate, 256, offline: false);
            var l = new float[256]; var r = new float[256];
            for (int calls = 1; drums.ReadyVariations(36) == 0; calls++)
            {
                Assert.True(calls <= 8, "no kick after 8 model calls");
                gate.Allow(1);
                gate.WaitUntilParked(); // waiting with its next model call: everything before it has been delivered
                drums.Process(l, r, 256);
            }
            // The worker is behind (it waits at the model) and this note has exactly one generated hit.
            Assert.Equal(1, drums.ReadyVariations(36));
            var windows = PlayRepeatedHits(drums, 36, drums.PoolSize + 4);
            Assert.Equal(1, drums.FreshHits);
            Assert.Equal(drums.PoolSize + 3, drums.ReusedHits);
            Assert.Equal(0, drums.FallbackHits);
            AssertConsecutiveHitsDiffer(windows, "reused");
        }
        finally { gate.Open(); }
    }

    [Fact]
    public void Activations_from_two_host_threads_never_run_the_model_on_two_threads_at_once()
    {
        // Ardour 7.3 activates from its main thread, then again from a process thread: two workers must never overlap.
        var ops = new FakeDiffusionOperations { DelayMs = 1 };
        using var drums = Drums(ops);
        using var go = new ManualResetEventSlim(false);
        Exception? failure = null;
        var threads = Enumerable.Range(0, 2).Select(t => new Thread(() =>
        {
            try
            {
                go.Wait();
                for (int i = 0; i < 60; i++)
                {
                    drums.Activate(t == 0 ? Rate : 48000, 256 << t, offline: false);
                    Thread.Sleep(2);
                    if (i % 3 == 2) drums.Deactivate();
                }
            }
            catch (Exception e) { failure = e; }
        })).ToArray();
        foreach (var t in threads) t.Start();
        go.Set();
        foreach (var t in threads) t.Join();
        drums.Deactivate();
        Assert.Null(failure);
        Assert.True(ops.Calls > 0, "the model was never called");
        Assert.Equal(1, ops.MaxConcurrentCalls);
    }

    [Fact]
    public void When_the_worker_keeps_up_hits_are_fresh_and_the_counters_say_so()
    {
        using var drums = Drums(new FakeDiffusionOperations());
        drums.Activate(Rate, 512, offline: false);
        var l = new float[512]; var r = new float[512];
        WaitUntil(() => { drums.Process(l, r, 512); return drums.ReadyVariations(36) == drums.PoolSize; }, "a full kick pool");
        for (int h = 0; h < 20; h++)
        {
            drums.NoteOn(0, 36, 1f);
            drums.Process(l, r, 512);
            // Give the worker time to refill, as real time would.
            WaitUntil(() => { drums.Process(l, r, 512); return drums.ReadyVariations(36) >= drums.PoolSize - 1; }, "refill");
        }
        Assert.Equal(20, drums.FreshHits);
        Assert.Equal(0, drums.ReusedHits);
    }

    [Fact]
    public void A_freewheeling_render_of_a_real_time_activation_makes_every_hit_fresh_on_one_model_thread()
    {
        // Ardour's export: activated for real time, then offline blocks as fast as the CPU goes, from the first block
        // (the model still loading), with a roll far beyond what the pools hold or the worker makes in real time.
        var ops = new FakeDiffusionOperations { DelayMs = 3 };
        using var drums = Drums(ops);
        drums.Activate(Rate, 512, offline: false);
        var l = new float[512]; var r = new float[512];
        int hits = 0;
        for (int block = 0; block < 200; block++)
        {
            if (block % 2 == 0) { drums.NoteOn(10, 36, 0.9f); drums.NoteOn(300, 42, 0.7f); hits += 2; }
            drums.SetRenderingOffline(true);
            drums.Process(l, r, 512);
        }
        Assert.Equal(hits, drums.FreshHits);
        Assert.Equal(0, drums.ReusedHits);
        Assert.Equal(1, ops.MaxConcurrentCalls); // the worker was paused while the render generated
        // Real-time blocks again: the worker resumes refilling.
        long steps = drums.WorkerSteps;
        WaitUntil(() => { drums.SetRenderingOffline(false); drums.Process(l, r, 512); return drums.WorkerSteps > steps; }, "the worker resuming");
    }

    [Fact]
    public void A_note_just_played_is_refilled_before_idle_notes_get_their_spare_variations()
    {
        var ops = new FakeDiffusionOperations { DelayMs = 2 };
        using var drums = Drums(ops);
        drums.Activate(Rate, 512, offline: false);
        var l = new float[512]; var r = new float[512];
        const int crash = 49; // not in the core kit filled first, so it starts as idle as every other note
        WaitUntil(() => { drums.Process(l, r, 512); return drums.ReadyVariations(36) == drums.PoolSize && drums.ReadyVariations(crash) >= 1; },
                  "the core kit full and a first crash variation");
        drums.NoteOn(0, crash, 1f);
        drums.Process(l, r, 512);
        WaitUntil(() => { drums.Process(l, r, 512); return drums.ReadyVariations(crash) == drums.PoolSize - 1; }, "the crash pool refilled (less the kept replay candidate)");
        int[] core = [35, 36, 38, 40, 42, 44, 46, crash];
        for (int n = 0; n < DrumInstrument.NoteCount; n++)
        {
            if (drums.GetNoteClass(n) == DrumClass.None || core.Contains(n)) continue;
            Assert.True(drums.ReadyVariations(n) <= drums.PoolSize / 2,
                        $"idle note {n} had {drums.ReadyVariations(n)} ready before the played crash was refilled");
        }
    }

    [Fact]
    public void A_warm_up_that_fails_once_reloads_the_model_instead_of_falling_back()
    {
        var broken = new FakeDiffusionOperations { FailAfterCalls = 0 };
        var healthy = new FakeDiffusionOperations();
        int loads = 0;
        using var drums = RealtimeEngines.CreateDrums(new EngineOptions(), () => Interlocked.Increment(ref loads) == 1 ? broken : healthy);
        drums.Activate(Rate, 512, offline: false);
        var l = new float[512]; var r = new float[512];
        WaitUntil(() => { drums.Process(l, r, 512); return drums.ReadyVariations(36) == drums.PoolSize; }, "a full kick pool from the reloaded model");
        Assert.Equal(2, loads);
        Assert.True(broken.Disposed, "the broken session was not disposed");
        Assert.Equal(ModelStatus.ReadyCpu, drums.Status);
    }

    [Fact]
    public void A_loaded_model_reports_ready_and_a_missing_one_reports_fallback_and_still_plays()
    {
        using (var ok = Drums(new FakeDiffusionOperations()))
        {
            ok.Activate(Rate, 512, offline: false);
            WaitUntil(() => ok.Status == ModelStatus.ReadyCpu, "ready");
        }
        using var missing = Drums(null);
        missing.Activate(Rate, 512, offline: false);
        WaitUntil(() => missing.Status == ModelStatus.Fallback, "fallback");
        Assert.Contains("/nowhere/manifest.json", missing.StatusMessage);
        var y = Render(missing, [new Hit(0, 36, 1f), new Hit(6000, 38, 1f)], 12000);
        Assert.True(Rms(y.AsSpan(0, 6000)) > 1e-3 && Rms(y.AsSpan(6000)) > 1e-3);
    }

    [Fact]
    public void A_model_that_fails_mid_session_switches_to_the_fallback_and_keeps_playing()
    {
        var ops = new FakeDiffusionOperations { FailAfterCalls = 4 };
        using var drums = Drums(ops);
        drums.Activate(Rate, 512, offline: false);
        WaitUntil(() => drums.Status == ModelStatus.Fallback, "fallback after the failure");
        Assert.Contains("fake model failure", drums.StatusMessage);
        Assert.True(ops.Disposed, "the failed model was not released");
        var hits = Enumerable.Range(0, 20).Select(i => new Hit(i * 4800L, 36 + (i % 12), 1f)).ToArray();
        var y = Render(drums, hits, 20 * 4800L);
        foreach (var h in hits) Assert.True(Rms(y.AsSpan((int)h.At, 2400)) > 1e-4, $"hit at {h.At} silent");
    }

    [Fact]
    public void An_offline_render_whose_model_fails_falls_back_and_completes()
    {
        var ops = new FakeDiffusionOperations { FailAfterCalls = 3 };
        using var drums = Drums(ops);
        drums.Activate(Rate, 512, offline: true);
        var hits = Enumerable.Range(0, 10).Select(i => new Hit(i * 4800L, 38, 1f)).ToArray();
        var y = Render(drums, hits, 10 * 4800L);
        Assert.Equal(ModelStatus.Fallback, drums.Status);
        foreach (var h in hits) Assert.True(Rms(y.AsSpan((int)h.At, 2400)) > 1e-4, $"hit at {h.At} silent");
    }

    [Fact]
    public void Process_allocates_nothing_across_ten_thousand_calls_with_notes_sounding()
    {
        using var drums = Drums(new FakeDiffusionOperations());
        drums.VelocityJitter = 0.1f; drums.TimingJitterMs = 3f; drums.Stamina = 0.5f; drums.Humanize = 0.3f;
        drums.Activate(Rate, 512, offline: false);
        var l = new float[512]; var r = new float[512];
        int[] notes = [36, 38, 42, 46, 45, 49, 51, 39];
        WaitUntil(() => { drums.Process(l, r, 512); return drums.ReadyVariations(36) > 0; }, "pools");
        int maxVoices = 0;
        void Block(int i)
        {
            if (i % 3 == 0) drums.NoteOn(i % 512, notes[i % notes.Length], 0.4f + (i % 7) * 0.08f);
            if (i % 11 == 0) drums.NoteOn((i * 7) % 512, notes[(i / 11) % notes.Length], 0.9f);
            drums.Process(l, r, 512);
            maxVoices = Math.Max(maxVoices, drums.ActiveVoices);
        }
        for (int i = 0; i < 500; i++) Block(i);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10_000; i++) Block(i);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
        Assert.True(maxVoices >= 4, $"only {maxVoices} voices sounded");
        Assert.True(drums.FreshHits + drums.ReusedHits > 3000); // far faster than real time: most hits reuse, none is lost
    }

    [Fact]
    public void A_thousand_note_ons_a_second_are_all_played_and_the_output_stays_finite()
    {
        using var drums = Drums(new FakeDiffusionOperations());
        drums.Activate(Rate, 48, offline: false);
        var l = new float[48]; var r = new float[48];
        var rng = new Random(5);
        for (int block = 0; block < 5000; block++) // 5 s of audio, one note-on per millisecond
        {
            drums.NoteOn(rng.Next(48), rng.Next(DrumMap.FirstGmNote, DrumMap.LastGmNote + 1), (float)rng.NextDouble() * 0.9f + 0.1f);
            drums.Process(l, r, 48);
            for (int i = 0; i < 48; i++) Assert.True(float.IsFinite(l[i]));
            Assert.True(drums.ActiveVoices <= DrumInstrument.VoiceCapacity);
        }
        Assert.Equal(5000, drums.FreshHits + drums.ReusedHits);
        Assert.Equal(0, drums.DroppedEvents);
    }

    [Fact]
    public void A_flood_beyond_the_event_queue_is_counted_and_dropped_not_crashed()
    {
        using var drums = Drums(new FakeDiffusionOperations());
        drums.Activate(Rate, 512, offline: false);
        var l = new float[512]; var r = new float[512];
        for (int i = 0; i < DrumInstrument.EventCapacity + 500; i++) drums.NoteOn(i % 512, 36 + i % 40, 1f);
        drums.Process(l, r, 512);
        Assert.Equal(500, drums.DroppedEvents);
        Assert.All(l, v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void Bad_values_never_reach_the_output()
    {
        using var drums = Drums(new FakeDiffusionOperations());
        drums.Activate(Rate, 512, offline: true);
        drums.OutputGainDb = float.NaN; drums.Humanize = float.PositiveInfinity; drums.VelocityJitter = float.NaN;
        drums.SetClassLevel(0, float.NaN); drums.Guidance = float.NegativeInfinity;
        drums.NoteOn(0, 36, float.NaN);      // ignored
        drums.NoteOn(-5, 36, 1f);            // clamped to the block start
        drums.NoteOn(1_000_000, 38, 5f);     // clamped to the block end, velocity to 1
        drums.NoteOn(0, 200, 1f);            // not a MIDI note: ignored
        drums.NoteOn(0, -1, 1f);
        var l = new float[512]; var r = new float[512];
        drums.Process(l, r, 512);
        Assert.All(l, v => Assert.True(float.IsFinite(v)));
        Assert.Equal(2, drums.FreshHits + drums.ReusedHits);
        drums.Process(l, r, 0);
        drums.Process(Span<float>.Empty, Span<float>.Empty, 512); // frames larger than the buffers: clamped
    }

    [Theory]
    [InlineData(22050)]
    [InlineData(44100)]
    [InlineData(88200)]
    [InlineData(96000)]
    [InlineData(192000)]
    public void Odd_rates_and_block_sizes_changing_every_call_play_finite_audio(int rateHz)
    {
        foreach (bool offline in new[] { false, true })
        {
            using var drums = Drums(new FakeDiffusionOperations());
            drums.Activate(rateHz, 512, offline);
            var rng = new Random(rateHz);
            var l = new float[8192]; var r = new float[8192];
            double energy = 0;
            for (int call = 0; call < 60; call++)
            {
                int frames = call % 7 == 0 ? 0 : rng.Next(1, 8193);
                if (call % 2 == 0) drums.NoteOn(frames == 0 ? 0 : rng.Next(frames), 36 + call % 12, 1f);
                drums.Process(l, r, frames);
                for (int i = 0; i < frames; i++) Assert.True(float.IsFinite(l[i]) && l[i] == r[i]);
                energy += Rms(l.AsSpan(0, frames));
            }
            Assert.True(energy > 1e-2, $"silent at {rateHz} Hz (offline {offline})");
        }
    }

    [Fact]
    public void Deactivate_stops_the_worker_and_a_second_activation_plays_again()
    {
        var ops = new FakeDiffusionOperations();
        using var drums = Drums(ops);
        drums.Activate(Rate, 512, offline: false);
        WaitUntil(() => ops.VaryCalls > 3, "some generation");
        drums.Deactivate();
        int calls = ops.Calls;
        Thread.Sleep(50);
        Assert.Equal(calls, ops.Calls);
        var l = new float[512]; var r = new float[512];
        drums.NoteOn(0, 36, 1f);
        drums.Process(l, r, 512);
        Assert.All(l, v => Assert.Equal(0f, v)); // inactive: silence, not a crash
        drums.Activate(44100, 256, offline: false);
        Assert.True(Rms(Render(drums, [new Hit(0, 36, 1f)], 2048, 256)) > 1e-3);
        Assert.False(ops.Disposed);
        drums.Dispose();
        Assert.True(ops.Disposed);
    }

    [Fact]
    public void Changing_the_kit_seed_refills_the_pools_with_the_new_kit()
    {
        using var drums = Drums(new FakeDiffusionOperations());
        drums.Humanize = 0f; // every variation is the anchor itself: the kit's sound, exactly
        drums.Activate(Rate, 512, offline: false);
        var l = new float[512]; var r = new float[512];
        float[] PlayOne()
        {
            // A full pool, less the one most recently played variation it keeps for replay.
            WaitUntil(() => { drums.Process(l, r, 512); return drums.ReadyVariations(36) >= drums.PoolSize - 1; }, "a full kick pool");
            drums.NoteOn(0, 36, 1f);
            drums.Process(l, r, 512);
            var block = (float[])l.Clone();
            for (int i = 0; i < 60; i++) drums.Process(l, r, 512); // let it ring out
            return block;
        }
        var first = PlayOne();
        var again = PlayOne();
        Assert.Equal(first, again); // humanize 0: the same anchor every time
        drums.KitSeed = drums.KitSeed + 1;
        drums.Process(l, r, 512);
        Assert.Equal(0, drums.ReadyVariations(36)); // old-kit variations went back to be remade
        var newKit = PlayOne();
        Assert.NotEqual(first, newKit);
        Assert.True(Rms(newKit) > 1e-3);
    }
}
