using DiffusionPlugin.Engine.Realtime;
using static DiffusionPlugin.Engine.Tests.Realtime.RealtimeTestKit;

namespace DiffusionPlugin.Engine.Tests.Realtime;

public class StereoWidenerTests
{
    private const double Rate = 48000;

    /// <summary>A test signal with some body: two detuned tones plus seeded noise, enveloped.</summary>
    private static float[] Signal(int frames, double rateHz, int seed = 3)
    {
        var rng = new Random(seed);
        var x = new float[frames];
        for (int i = 0; i < frames; i++)
        {
            double t = i / rateHz;
            x[i] = (float)(0.3 * Math.Sin(2 * Math.PI * 220 * t) + 0.2 * Math.Sin(2 * Math.PI * 331 * t)
                           + 0.1 * (rng.NextDouble() * 2 - 1)) * (float)(0.6 + 0.4 * Math.Sin(2 * Math.PI * 1.5 * t));
        }
        return x;
    }

    /// <summary>Feeds x (mono, or stereo when xr is given) through Process in blocks (sizes from blockSize).</summary>
    private static (float[] L, float[] R) Run(StereoWidener w, float[] x, float[]? xr = null, Func<int, int>? blockSize = null, bool realTimePacing = false)
    {
        int n = x.Length;
        var outL = new float[n]; var outR = new float[n];
        var bl = new float[8192]; var br = new float[8192]; var il = new float[8192]; var ir = new float[8192];
        int call = 0;
        for (int pos = 0; pos < n;)
        {
            int frames = Math.Min(blockSize?.Invoke(call++) ?? 512, n - pos);
            Array.Copy(x, pos, il, 0, frames);
            if (xr != null) Array.Copy(xr, pos, ir, 0, frames);
            if (xr == null) w.Process(il.AsSpan(0, frames), il.AsSpan(0, frames), bl, br, frames);
            else w.Process(il.AsSpan(0, frames), ir.AsSpan(0, frames), bl, br, frames);
            Array.Copy(bl, 0, outL, pos, frames); Array.Copy(br, 0, outR, pos, frames);
            pos += frames;
            if (realTimePacing) Thread.Sleep(0);
        }
        return (outL, outR);
    }

    /// <summary>Error of (L+R)/2 against the input delayed by the latency, in dB relative to the input.</summary>
    private static double MonoSumErrorDb(float[] x, float[] l, float[] r, int latency)
    {
        double err = 0, sig = 0;
        for (int i = latency; i < x.Length; i++)
        {
            double mono = 0.5 * (l[i] + (double)r[i]);
            double e = mono - x[i - latency];
            err += e * e; sig += x[i - latency] * (double)x[i - latency];
        }
        return 10 * Math.Log10(Math.Max(err, 1e-30) / sig);
    }

    private static double SideLevelDb(float[] l, float[] r, int from)
    {
        double side = 0, mid = 0;
        for (int i = from; i < l.Length; i++) { double s = 0.5 * (l[i] - r[i]), m = 0.5 * (l[i] + r[i]); side += s * s; mid += m * m; }
        return 10 * Math.Log10(Math.Max(side, 1e-30) / mid);
    }

    [Fact]
    public void The_mono_sum_equals_the_delayed_input_within_minus_90_dB_offline_and_online()
    {
        foreach (bool offline in new[] { true, false })
        {
            using var w = Widener(new FakeDiffusionOperations());
            w.Width = 1.5f; w.VariationStrength = 0.5f;
            w.Activate(Rate, 512, offline);
            var x = Signal((int)Rate * 2, Rate);
            var (l, r) = Run(w, x);
            double errDb = MonoSumErrorDb(x, l, r, w.LatencySamples);
            Assert.True(errDb < -90, $"mono sum error {errDb:F1} dB (offline {offline})");
            Assert.True(SideLevelDb(l, r, w.LatencySamples) > -40, "the output is not wider than the input");
        }
    }

    [Fact]
    public void Offline_the_side_comes_from_the_model_and_two_renders_are_bit_identical()
    {
        float[] RenderOnce(out long fallback, out long diffusion)
        {
            using var w = Widener(new FakeDiffusionOperations());
            w.VariationStrength = 0.4f;
            w.Activate(Rate, 256, offline: true);
            var (l, r) = Run(w, Signal((int)Rate, Rate), blockSize: c => c % 3 == 0 ? 1000 : 77);
            fallback = w.FallbackWindows; diffusion = w.DiffusionWindows;
            return l.Concat(r).ToArray();
        }
        var a = RenderOnce(out long fa, out long da);
        var b = RenderOnce(out _, out _);
        Assert.Equal(a, b);
        Assert.Equal(0, fa);
        Assert.True(da > 10);
    }

    [Fact]
    public void Latency_is_constant_and_at_most_8192_samples_at_48_kHz_for_blocks_up_to_4096()
    {
        using var w = Widener(new FakeDiffusionOperations());
        foreach (int block in new[] { 0, 32, 512, 2048, 4096, 8192 })
        {
            w.Activate(Rate, block, offline: false);
            // Window 4,096 + block + as much of one 3,072 hop of slack as fits in 8,192; never below window + block.
            int expected = 4096 + block + Math.Clamp(8192 - 4096 - block, 0, 3072);
            Assert.Equal(expected, w.LatencySamples);
            if (block <= 4096) Assert.InRange(w.LatencySamples, 1, 8192);
            int first = w.LatencySamples;
            var l = new float[8192]; var r = new float[8192];
            var rng = new Random(block);
            for (int call = 0; call < 20; call++) { int n = rng.Next(0, 8193); w.Process(l.AsSpan(0, n), l.AsSpan(0, n), l, r, n); }
            Assert.Equal(first, w.LatencySamples);
        }
        w.Activate(Rate, 512, offline: false);
        Assert.Equal(7680, w.LatencySamples); // window 4096 + block 512 + hop 3072
    }

    /// <summary>Two tones: band-limited to 331 Hz, so its side signal's slope is bounded by its level (Bernstein).</summary>
    private static float[] Tones(int frames, double rateHz)
    {
        var x = new float[frames];
        for (int i = 0; i < frames; i++)
        {
            double t = i / rateHz;
            x[i] = (float)(0.3 * Math.Sin(2 * Math.PI * 220 * t) + 0.2 * Math.Sin(2 * Math.PI * 331 * t + 1));
        }
        return x;
    }

    /// <summary>
    /// Largest sample-to-sample step of the side signal (L − R)/2 from <paramref name="from"/> on, as a multiple of what a
    /// signal band-limited to <paramref name="maxHz"/> may do at its local peak level (Bernstein: |s′| ≤ 2πf·max|s|).
    /// Without a click it stays near or below 1.
    /// </summary>
    private static double WorstStepRatio(float[] l, float[] r, int from, double maxHz, out int at)
    {
        int n = l.Length;
        var s = new double[n];
        for (int i = 0; i < n; i++) s[i] = 0.5 * (l[i] - (double)r[i]);
        double slope = 2 * Math.PI * maxHz / Rate, worst = 0;
        at = -1;
        const int span = 1024;
        for (int i = Math.Max(from, span); i + 1 < n - span; i++)
        {
            double peak = 0;
            for (int j = i - span; j <= i + span; j += 1) peak = Math.Max(peak, Math.Abs(s[j]));
            double ratio = Math.Abs(s[i + 1] - s[i]) / (slope * peak + 1e-9);
            if (ratio > worst) { worst = ratio; at = i; }
        }
        return worst;
    }

    /// <summary>Runs blocks through a real-time widener; after each block where <paramref name="waitFor"/> says so, waits until the worker has caught up.</summary>
    private static (float[] L, float[] R) RunCaughtUp(StereoWidener w, float[] x, int block, Func<int, bool> waitFor)
    {
        int n = x.Length;
        var outL = new float[n]; var outR = new float[n];
        var bl = new float[block]; var br = new float[block]; var il = new float[block];
        for (int pos = 0, call = 0; pos < n; pos += block, call++)
        {
            int frames = Math.Min(block, n - pos);
            Array.Copy(x, pos, il, 0, frames);
            w.Process(il.AsSpan(0, frames), il.AsSpan(0, frames), bl, br, frames);
            Array.Copy(bl, 0, outL, pos, frames); Array.Copy(br, 0, outR, pos, frames);
            if (waitFor(pos + frames)) WaitUntil(() => w.PendingWindows == 0, "the worker to catch up");
        }
        return (outL, outR);
    }

    [Fact]
    public void The_side_signal_has_no_click_when_the_worker_stalls_and_when_it_catches_up()
    {
        var ops = new FakeDiffusionOperations { SmoothVariation = true, Gate = new ManualResetEventSlim(true) };
        using var w = Widener(ops);
        try
        {
            w.VariationStrength = 0.3f;
            w.Activate(Rate, 512, offline: false);
            WaitUntil(() => ops.VaryCalls > 0, "warm-up");
            var x = Tones((int)Rate * 4, Rate);
            int stallAt = (int)(1.3 * Rate), resumeAt = (int)(2.4 * Rate);
            long fallbackAtResume = -1, diffusionAtResume = -1;
            var (l, r) = RunCaughtUp(w, x, 512, written =>
            {
                if (written >= stallAt && written < resumeAt) { ops.Gate.Reset(); return false; } // the model stalls
                if (!ops.Gate.IsSet) { ops.Gate.Set(); fallbackAtResume = w.FallbackWindows; diffusionAtResume = w.DiffusionWindows; }
                return true;
            });
            Assert.True(fallbackAtResume >= 10, $"the stall should have put the widener on the decorrelator ({fallbackAtResume} hops)");
            Assert.True(w.DiffusionWindows - diffusionAtResume >= 10, "the diffusion side should come back after the stall");
            Assert.True(MonoSumErrorDb(x, l, r, w.LatencySamples) < -90);
            double worst = WorstStepRatio(l, r, w.LatencySamples + 1200, 331, out int at); // after the tones' own onset has left the decorrelator
            Assert.True(worst < 2.0, $"side signal step {worst:F2}× the band-limited bound at output sample {at} (a click)");
        }
        finally { ops.Gate.Set(); }
    }

    [Fact]
    public void A_model_that_fails_mid_stream_hands_over_to_the_decorrelator_without_a_click()
    {
        var ops = new FakeDiffusionOperations { SmoothVariation = true, FailAfterCalls = 10 };
        using var w = Widener(ops);
        w.VariationStrength = 0.3f;
        w.Activate(Rate, 512, offline: true);
        var x = Tones((int)Rate * 2, Rate);
        var (l, r) = Run(w, x);
        Assert.True(w.DiffusionWindows > 3 && w.FallbackWindows > 3);
        double worst = WorstStepRatio(l, r, w.LatencySamples + 1200, 331, out int at); // after the tones' own onset has left the decorrelator
        Assert.True(worst < 2.0, $"side signal step {worst:F2}× the band-limited bound at output sample {at} (a click)");
    }

    [Theory]
    [InlineData(48000, 512)]
    [InlineData(48000, 2048)]
    [InlineData(48000, 4096)]
    [InlineData(48000, 8192)]
    [InlineData(44100, 2048)]
    public void With_a_fast_model_the_diffusion_path_keeps_up_at_any_block_size(int rateHz, int block)
    {
        var ops = new FakeDiffusionOperations();
        using var w = Widener(ops);
        w.Width = 1f; w.VariationStrength = 0.3f;
        w.Activate(rateHz, block, offline: false);
        WaitUntil(() => ops.VaryCalls > 0, "warm-up");
        var x = Signal(rateHz * 3, rateHz);
        var (l, r) = RunCaughtUp(w, x, block, _ => true);
        Assert.Equal(0, w.FallbackWindows);
        Assert.True(w.DiffusionWindows >= (x.Length - w.LatencySamples) / w.HopSamples, $"only {w.DiffusionWindows} diffusion hops");
        Assert.True(MonoSumErrorDb(x, l, r, w.LatencySamples) < -90);
        Assert.True(SideLevelDb(l, r, w.LatencySamples) > -40);
        if (block <= 4096) Assert.InRange(w.LatencySamples, 1, (int)Math.Round(8192 * rateHz / 48000.0));
    }

    [Fact]
    public void Large_blocks_are_varied_in_batches_of_several_windows_with_their_shapes_warmed_up_on_the_general_class()
    {
        var ops = new FakeDiffusionOperations();
        using var w = Widener(ops);
        w.Activate(Rate, 4096, offline: false);
        WaitUntil(() => ops.VaryCalls > 0, "warm-up");
        Assert.True(w.MaxBatchWindows >= 2);
        var shapes = ops.WarmUps.ToArray();
        for (int b = 1; b <= w.MaxBatchWindows; b++) Assert.Contains(shapes, s => s.Batch == b);
        int length = shapes[0].Length;
        Assert.All(shapes, s => Assert.Equal(length, s.Length));
        Assert.True(length % 256 == 0 && length >= 4096 * 44100 / 48000, $"model length {length}");
        int callsBefore = ops.VaryCalls;
        int frames = (int)Rate * 2, blocks = (frames + 4095) / 4096;
        RunCaughtUp(w, Signal(frames, Rate), 4096, _ => true);
        long windows = w.DiffusionWindows;
        Assert.True(windows > blocks, $"{windows} windows in {blocks} blocks");
        Assert.True(ops.MaxVaryBatch >= 2, "a 4,096-frame block often completes two windows: one call should vary both");
        Assert.True(ops.VaryCalls - callsBefore <= blocks, $"{ops.VaryCalls - callsBefore} calls for {windows} windows in {blocks} blocks");
        Assert.Equal(Array.IndexOf(FakeDiffusionOperations.StandardClasses, "general"), ops.LastVaryClassId);
    }

    [Fact]
    public void Width_zero_and_bypass_output_exactly_the_delayed_input()
    {
        var x = Signal((int)Rate, Rate);
        foreach (var setup in new Action<StereoWidener>[] { w => w.Width = 0f, w => w.Bypass = true, w => w.Mix = 0f })
        {
            using var w = Widener(new FakeDiffusionOperations());
            setup(w);
            w.Activate(Rate, 512, offline: true);
            var (l, r) = Run(w, x);
            int d = w.LatencySamples;
            for (int i = 0; i < x.Length; i++)
            {
                float expected = i >= d ? x[i - d] : 0f;
                Assert.Equal(expected, l[i]);
                Assert.Equal(expected, r[i]);
            }
        }
    }

    [Fact]
    public void Stereo_input_has_its_mid_widened_and_its_own_side_kept()
    {
        var xl = Signal((int)Rate, Rate, seed: 1);
        var xr = Signal((int)Rate, Rate, seed: 2);
        using (var dry = Widener(new FakeDiffusionOperations()))
        {
            dry.Width = 0f;
            dry.Activate(Rate, 512, offline: true);
            var (l, r) = Run(dry, xl, xr);
            int d = dry.LatencySamples;
            for (int i = d; i < xl.Length; i++)
            {
                Assert.Equal(xl[i - d], l[i], 1e-6f);
                Assert.Equal(xr[i - d], r[i], 1e-6f);
            }
        }
        using var wet = Widener(new FakeDiffusionOperations());
        wet.Width = 1f; wet.VariationStrength = 0.5f;
        wet.Activate(Rate, 512, offline: true);
        var (wl, wr) = Run(wet, xl, xr);
        int lat = wet.LatencySamples;
        double sumErr = 0, added = 0;
        for (int i = lat; i < xl.Length; i++)
        {
            double mid = 0.5 * (xl[i - lat] + xr[i - lat]), side = 0.5 * (xl[i - lat] - xr[i - lat]);
            sumErr += Math.Pow(0.5 * (wl[i] + wr[i]) - mid, 2);
            added += Math.Pow(0.5 * (wl[i] - wr[i]) - side, 2);
        }
        Assert.True(sumErr < 1e-9 * xl.Length, "the mid changed");
        Assert.True(added > 1e-6 * xl.Length, "no side was added");
    }

    [Fact]
    public void NaN_and_infinite_input_give_finite_output()
    {
        foreach (bool offline in new[] { true, false })
        {
            using var w = Widener(new FakeDiffusionOperations());
            w.Activate(Rate, 512, offline);
            var x = Signal((int)Rate, Rate);
            for (int i = 0; i < x.Length; i += 97) x[i] = i % 3 == 0 ? float.NaN : i % 3 == 1 ? float.PositiveInfinity : float.NegativeInfinity;
            var (l, r) = Run(w, x);
            Assert.All(l, v => Assert.True(float.IsFinite(v)));
            Assert.All(r, v => Assert.True(float.IsFinite(v)));
            Assert.True(Rms(l) > 1e-3);
        }
    }

    [Fact]
    public void A_freewheeling_render_of_a_real_time_activation_widens_every_window_by_diffusion()
    {
        // Ardour's export: activated for real time, offline blocks as fast as the CPU goes from the first one, with a
        // model too slow for that pace: every window must still come from the model, on one model thread at a time.
        var ops = new FakeDiffusionOperations { DelayMs = 5 };
        using var w = Widener(ops);
        w.VariationStrength = 0.5f;
        w.Activate(Rate, 512, offline: false);
        var x = Signal((int)Rate * 2, Rate);
        var l = new float[x.Length]; var r = new float[x.Length];
        for (int start = 0; start < x.Length; start += 512)
        {
            int n = Math.Min(512, x.Length - start);
            w.SetRenderingOffline(true);
            w.Process(x.AsSpan(start, n), x.AsSpan(start, n), l.AsSpan(start, n), r.AsSpan(start, n), n);
        }
        int d = w.LatencySamples;
        Assert.Equal(0, w.FallbackWindows);
        Assert.True(w.DiffusionWindows >= (x.Length - d) / w.HopSamples - 1, $"only {w.DiffusionWindows} diffusion windows");
        Assert.Equal(1, ops.MaxConcurrentCalls);
        Assert.True(MonoSumErrorDb(x, l, r, d) < -90);
    }

    [Fact]
    public void When_the_worker_is_late_a_decorrelator_supplies_the_side_and_is_counted()
    {
        var ops = new FakeDiffusionOperations { Gate = new ManualResetEventSlim(true) };
        using var w = Widener(ops);
        try
        {
            w.VariationStrength = 0.5f;
            w.Activate(Rate, 512, offline: false);
            WaitUntil(() => ops.VaryCalls > 0, "warm-up");
            ops.Gate.Reset(); // the model stalls: nothing more arrives
            var x = Signal((int)Rate * 2, Rate);
            var (l, r) = Run(w, x);
            int d = w.LatencySamples;
            Assert.True(w.FallbackWindows >= (x.Length - d) / w.HopSamples - 2, $"only {w.FallbackWindows} fallback windows counted");
            Assert.True(MonoSumErrorDb(x, l, r, d) < -90);
            Assert.True(SideLevelDb(l, r, d + 2048) > -40, "no side while the worker is late");
        }
        finally { ops.Gate.Set(); }
    }

    [Fact]
    public void Without_a_model_the_widener_reports_fallback_and_still_widens()
    {
        using var w = Widener(null);
        w.Activate(Rate, 512, offline: false);
        WaitUntil(() => w.Status == ModelStatus.Fallback, "fallback status");
        Assert.Contains("/nowhere/manifest.json", w.StatusMessage);
        var x = Signal((int)Rate, Rate);
        var (l, r) = Run(w, x);
        Assert.True(MonoSumErrorDb(x, l, r, w.LatencySamples) < -90);
        Assert.True(SideLevelDb(l, r, w.LatencySamples) > -40);
        Assert.True(w.FallbackWindows > 0);
    }

    [Theory]
    [InlineData(22050)]
    [InlineData(44100)]
    [InlineData(96000)]
    [InlineData(192000)]
    public void Odd_rates_and_changing_block_sizes_keep_the_mono_sum_exact(int rateHz)
    {
        foreach (bool offline in new[] { true, false })
        {
            using var w = Widener(new FakeDiffusionOperations());
            w.Activate(rateHz, 1024, offline);
            Assert.InRange(w.LatencySamples, 1, (int)Math.Ceiling(8192 * rateHz / 48000.0) + 1);
            var rng = new Random(rateHz);
            var x = Signal(rateHz, rateHz);
            var (l, r) = Run(w, x, blockSize: c => c % 5 == 0 ? 0 : rng.Next(1, 8193));
            Assert.True(MonoSumErrorDb(x, l, r, w.LatencySamples) < -90, $"{rateHz} Hz offline {offline}");
            Assert.All(l, v => Assert.True(float.IsFinite(v)));
        }
    }

    [Fact]
    public void Process_allocates_nothing_across_ten_thousand_calls_while_widening()
    {
        using var w = Widener(new FakeDiffusionOperations());
        w.Width = 1f; w.VariationStrength = 0.3f;
        w.Activate(Rate, 512, offline: false);
        var x = Signal(512 * 16, Rate);
        var il = new float[512]; var ir = new float[512]; var ol = new float[512]; var or = new float[512];
        void Block(int i)
        {
            Array.Copy(x, (i % 16) * 512, il, 0, 512);
            Array.Copy(x, ((i + 5) % 16) * 512, ir, 0, 512);
            if (i % 2 == 0) w.Process(il, il, ol, or, 512); else w.Process(il, ir, ol, or, 512);
        }
        for (int i = 0; i < 500; i++) Block(i);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10_000; i++) Block(i);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.True(w.FallbackWindows + w.DiffusionWindows > 1000);
    }

    [Fact]
    public void Outputs_may_alias_the_inputs()
    {
        var x = Signal(48000, Rate);
        using var a = Widener(new FakeDiffusionOperations());
        using var b = Widener(new FakeDiffusionOperations());
        a.Activate(Rate, 512, offline: true);
        b.Activate(Rate, 512, offline: true);
        var (el, er) = Run(a, x);
        var l = (float[])x.Clone(); var r = (float[])x.Clone();
        for (int pos = 0; pos < x.Length; pos += 512)
        {
            int n = Math.Min(512, x.Length - pos);
            b.Process(l.AsSpan(pos, n), r.AsSpan(pos, n), l.AsSpan(pos, n), r.AsSpan(pos, n), n);
        }
        Assert.Equal(el, l);
        Assert.Equal(er, r);
    }

    [Fact]
    public void A_model_that_fails_mid_stream_hands_over_to_the_decorrelator_without_a_dropout()
    {
        var ops = new FakeDiffusionOperations { FailAfterCalls = 6 };
        using var w = Widener(ops);
        w.VariationStrength = 0.5f;
        w.Activate(Rate, 512, offline: true);
        var x = Signal((int)Rate * 2, Rate);
        var (l, r) = Run(w, x);
        Assert.Equal(ModelStatus.Fallback, w.Status);
        Assert.Contains("fake model failure", w.StatusMessage);
        Assert.True(ops.Disposed);
        Assert.True(w.DiffusionWindows > 0 && w.FallbackWindows > 0);
        Assert.True(MonoSumErrorDb(x, l, r, w.LatencySamples) < -90);
        int lastSecond = l.Length - (int)Rate;
        Assert.True(SideLevelDb(l[lastSecond..], r[lastSecond..], 0) > -40, "the side vanished after the failure");
    }
}
