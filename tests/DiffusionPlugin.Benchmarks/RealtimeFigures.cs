using System.Diagnostics;
using DiffusionPlugin.Engine.Diffusion;
using DiffusionPlugin.Engine.Realtime;

namespace DiffusionPlugin.Benchmarks;

/// <summary>
/// Figures for issue 3 that BenchmarkDotNet does not give directly: process() median / p99.9 while the worker
/// generates, the widener's real-time factor, and the fresh-hit ratio of a 120 bpm 16th-note groove played in real time.
/// Run: <c>dotnet run -c Release --project tests/DiffusionPlugin.Benchmarks -- realtime-figures [--cost-ms 5]
/// [--model path/to/manifest.json] [--calls 30000] [--speed 8] [--bars 8] [--only drums,widener,rtf,stream,fresh]
/// [--stream-seconds 10]</c>. Without --model a fake core burns --cost-ms of CPU per generated item on the worker thread.
/// "stream" plays the widener in real time at 512-, 2,048- and 4,096-frame blocks and counts decorrelator hops.
/// </summary>
public static class RealtimeFigures
{
    private const double Rate = 48000;
    private const int Block = 512;

    public static void Run(string[] args)
    {
        double costMs = Arg(args, "--cost-ms", 5.0);
        int calls = (int)Arg(args, "--calls", 30000.0);
        Speed = Arg(args, "--speed", 8.0);
        int bars = (int)Arg(args, "--bars", 8.0);
        string? model = ArgString(args, "--model");
        Func<IDiffusionOperations>? Loader(double cost) => model == null ? () => new RealtimeFakeModel { CostMsPerItem = cost } : null;
        var options = new EngineOptions { ManifestPath = model };
        Console.WriteLine($"core: {(model == null ? $"fake, {costMs} ms CPU per generated item" : model)}; {Environment.ProcessorCount} cores; 48 kHz, {Block}-frame blocks; process() paced at {Speed}x real time");

        string only = ArgString(args, "--only") ?? "drums,widener,rtf,stream,fresh";
        bool Wants(string section) => only.Split(',').Contains(section);
        if (Wants("drums")) DrumsProcessTimes(options, Loader(costMs), calls);
        if (Wants("widener")) WidenerProcessTimes(options, Loader(costMs), calls);
        if (Wants("rtf")) WidenerRealTimeFactor(options, Loader(costMs), model == null ? Loader(0) : null);
        if (Wants("stream"))
            foreach (int block in new[] { 512, 2048, 4096 })
                WidenerStreaming(options, Loader(costMs), block, Arg(args, "--stream-seconds", 10.0));
        if (Wants("fresh")) FreshHitRatio(options, Loader(costMs), bars);
        if (Wants("vary") && model != null) VaryTimes(options);
    }

    /// <summary>Median time of one widener-shaped Vary call (strength 0.3, window at the model rate) per batch size and step count.</summary>
    private static void VaryTimes(EngineOptions options)
    {
        using var ops = DiffusionModel.Load(ModelLocator.ResolveOrThrow(options.ManifestPath), options.Execution);
        var d = ops.Denoiser;
        int length = (Resampler.ScaledLength(4096, Rate, d.SampleRateHz) + d.LengthMultiple - 1) / d.LengthMultiple * d.LengthMultiple;
        int general = Math.Max(0, d.ClassNames.ToList().IndexOf("general"));
        foreach (int steps in new[] { 3, 4 })
        foreach (int batch in new[] { 1, 2, 3 })
        {
            var opts = new SamplingOptions { Steps = steps };
            ops.WarmUp(batch, length, opts);
            var x = Noise(batch * length); var y = new float[batch * length];
            var cond = Enumerable.Repeat(new DiffusionConditioning(general, 0.8f), batch).ToArray();
            var seeds = Enumerable.Range(1, batch).Select(i => (ulong)i).ToArray();
            ops.Vary(x, cond, seeds, length, 0.3f, opts, y);
            var times = new double[15];
            for (int i = 0; i < times.Length; i++)
            {
                long t0 = Stopwatch.GetTimestamp();
                ops.Vary(x, cond, seeds, length, 0.3f, opts, y);
                times[i] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
            }
            Array.Sort(times);
            Console.WriteLine($"vary strength 0.3, steps {steps} (runs {Math.Ceiling(0.3 * steps)}), batch {batch} × {length}: median {times[times.Length / 2]:F2} ms, min {times[0]:F2} ms ({times[times.Length / 2] / batch:F2} ms per window)");
        }
    }

    /// <summary>
    /// The widener played in real time (one block per block period) at a host block size, after a second of warm-up:
    /// how many hops the diffusion side covered and how many fell to the decorrelator.
    /// </summary>
    private static void WidenerStreaming(EngineOptions options, Func<IDiffusionOperations>? loader, int block, double seconds)
    {
        using var w = RealtimeEngines.CreateWidener(options, loader);
        w.Width = 1f; w.VariationStrength = 0.3f;
        w.Activate(Rate, block, offline: false);
        var input = Noise((int)Rate * 4);
        var l = new float[block]; var r = new float[block];
        var wait = Stopwatch.StartNew();
        while (w.Status == ModelStatus.Loading && wait.ElapsedMilliseconds < 60_000) Thread.Sleep(10);
        Thread.Sleep(1000); // warm-up of every batch shape
        long total = (long)(seconds * Rate), warmFrames = (long)Rate;
        long fallback0 = 0, diffusion0 = 0;
        long start = Stopwatch.GetTimestamp();
        for (long pos = 0; pos < total; pos += block)
        {
            if (pos <= warmFrames && pos + block > warmFrames) { fallback0 = w.FallbackWindows; diffusion0 = w.DiffusionWindows; }
            int at = (int)(pos % (input.Length - block));
            w.Process(input.AsSpan(at, block), input.AsSpan(at, block), l, r, block);
            long due = start + (long)((pos + block) / Rate * Stopwatch.Frequency);
            while (Stopwatch.GetTimestamp() < due) Thread.Sleep(1);
        }
        Console.WriteLine($"widener streamed in real time, {block}-frame blocks, {seconds:F0} s: after the first second " +
                          $"{w.DiffusionWindows - diffusion0} diffusion hops, {w.FallbackWindows - fallback0} decorrelator hops " +
                          $"[latency {w.LatencySamples} samples, batch ≤ {w.MaxBatchWindows}, status {w.Status}]");
    }

    private static void DrumsProcessTimes(EngineOptions options, Func<IDiffusionOperations>? loader, int calls)
    {
        using var drums = RealtimeEngines.CreateDrums(options, loader);
        drums.MaxVoices = 16;
        drums.Humanize = 0.3f; drums.VelocityJitter = 0.05f; drums.TimingJitterMs = 2f; drums.Stamina = 0.5f;
        drums.Activate(Rate, Block, offline: false);
        var l = new float[Block]; var r = new float[Block];
        var ticks = new long[calls];
        long voices = 0;
        Thread.Sleep(1000); // model loaded, first pools filling
        // Warm up for 2 s of wall time so tiered JIT has finished recompiling the hot path (NativeAOT has no JIT at all).
        var warm = Stopwatch.StartNew();
        for (int c = 0; warm.ElapsedMilliseconds < 2000; c++) { Trigger(drums, c); drums.Process(l, r, Block); }
        long steps0 = drums.WorkerSteps, alloc0 = GC.GetAllocatedBytesForCurrentThread();
        long start = Stopwatch.GetTimestamp();
        for (int c = 0; c < calls; c++)
        {
            Trigger(drums, c);
            long t0 = Stopwatch.GetTimestamp();
            drums.Process(l, r, Block);
            ticks[c] = Stopwatch.GetTimestamp() - t0;
            voices += drums.ActiveVoices;
            Pace(start, c);
        }
        long alloc = GC.GetAllocatedBytesForCurrentThread() - alloc0;
        Report("drums process(512), 16-voice limit", ticks,
            $"mean voices {voices / (double)calls:F1}; worker steps during run {drums.WorkerSteps - steps0}; bytes allocated {alloc}; status {drums.Status}");
    }

    /// <summary>
    /// Calls are paced at <see cref="Speed"/>× real time, as a host's audio thread is (a call every block period, not
    /// back to back): an unpaced loop would keep the measured thread busy 100 % of the time and charge every scheduler
    /// preemption of this shared machine to process(). The worker meanwhile generates flat out on the other core.
    /// </summary>
    private static void Pace(long start, int call)
    {
        long due = start + (long)((call + 1) * (Block / Rate / Speed) * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < due) Thread.SpinWait(20);
    }

    private static double Speed = 8;

    private static void Trigger(DrumInstrument drums, int c)
    {
        drums.NoteOn(c % Block, 35 + c % 40, 0.8f);
        drums.NoteOn((c * 7) % Block, 36 + (c * 3) % 40, 0.6f);
    }

    private static void WidenerProcessTimes(EngineOptions options, Func<IDiffusionOperations>? loader, int calls)
    {
        using var w = RealtimeEngines.CreateWidener(options, loader);
        w.Width = 1f; w.VariationStrength = 0.3f;
        w.Activate(Rate, Block, offline: false);
        var input = Noise(Block * 64);
        var l = new float[Block]; var r = new float[Block];
        var ticks = new long[calls];
        Thread.Sleep(1000);
        var warm = Stopwatch.StartNew();
        for (int c = 0; warm.ElapsedMilliseconds < 2000; c++) w.Process(input.AsSpan(0, Block), input.AsSpan(0, Block), l, r, Block);
        long alloc0 = GC.GetAllocatedBytesForCurrentThread();
        long start = Stopwatch.GetTimestamp();
        for (int c = 0; c < calls; c++)
        {
            var x = input.AsSpan((c % 64) * Block, Block);
            long t0 = Stopwatch.GetTimestamp();
            w.Process(x, x, l, r, Block);
            ticks[c] = Stopwatch.GetTimestamp() - t0;
            Pace(start, c);
        }
        long alloc = GC.GetAllocatedBytesForCurrentThread() - alloc0;
        Report("widener process(512), width 1", ticks,
            $"diffusion hops {w.DiffusionWindows}, decorrelator hops {w.FallbackWindows}; bytes allocated {alloc}; latency {w.LatencySamples} samples; status {w.Status}");
    }

    private static void WidenerRealTimeFactor(EngineOptions options, Func<IDiffusionOperations>? loader, Func<IDiffusionOperations>? zeroCostLoader)
    {
        double Measure(Func<IDiffusionOperations>? l, out StereoWidener widener, int block = Block)
        {
            var w = RealtimeEngines.CreateWidener(options, l);
            w.VariationStrength = 0.3f;
            w.Activate(Rate, block, offline: true);
            var x = Noise((int)Rate * 10);
            var ol = new float[block]; var or = new float[block];
            var sw = Stopwatch.StartNew();
            for (int pos = 0; pos + block <= x.Length; pos += block)
                w.Process(x.AsSpan(pos, block), x.AsSpan(pos, block), ol, or, block);
            widener = w;
            return 10.0 / sw.Elapsed.TotalSeconds;
        }
        foreach (int block in new[] { Block, 4096 })
        {
            double rtf = Measure(loader, out var w1, block);
            Console.WriteLine($"widener real-time factor (offline, synchronous windows, {block}-frame blocks, strength 0.3, {w1.Steps} steps): {rtf:F1}x  " +
                              $"[hop {w1.HopSamples}, window {w1.WindowSamples}, latency {w1.LatencySamples} samples, batch ≤ {w1.MaxBatchWindows}, status {w1.Status}]");
            w1.Dispose();
        }
        if (zeroCostLoader != null)
        {
            double overhead = Measure(zeroCostLoader, out var w2);
            Console.WriteLine($"widener real-time factor with a zero-cost model (resampling + overlap-add overhead only): {overhead:F1}x");
            w2.Dispose();
        }
    }

    private static void FreshHitRatio(EngineOptions options, Func<IDiffusionOperations>? loader, int bars)
    {
        using var drums = RealtimeEngines.CreateDrums(options, loader);
        drums.Humanize = 0.3f;
        drums.Activate(Rate, Block, offline: false);
        var l = new float[Block]; var r = new float[Block];
        var loading = Stopwatch.StartNew();
        while (drums.Status == ModelStatus.Loading && loading.ElapsedMilliseconds < 60_000) Thread.Sleep(10);
        Thread.Sleep(2000); // first pools, as a user would press play a moment after the plugin says it is ready
        double sixteenth = Rate * 60.0 / 120.0 / 4.0;
        long total = (long)(bars * 16 * sixteenth);
        int step = 0;
        long freshAtHalf = 0, reusedAtHalf = 0;
        var start = Stopwatch.GetTimestamp();
        for (long pos = 0; pos < total; pos += Block)
        {
            while (step < bars * 16 && (long)Math.Round(step * sixteenth) < pos + Block)
            {
                int offset = (int)((long)Math.Round(step * sixteenth) - pos), p = step % 16;
                if (p is 0 or 8 or 10) drums.NoteOn(offset, 36, 0.9f);
                if (p is 4 or 12) drums.NoteOn(offset, 38, 0.85f);
                drums.NoteOn(offset, p == 15 ? 46 : 42, 0.6f);
                step++;
                if (step == bars * 8) { freshAtHalf = drums.FreshHits; reusedAtHalf = drums.ReusedHits; }
            }
            drums.Process(l, r, Block);
            long due = start + (long)((pos + Block) / Rate * Stopwatch.Frequency);
            while (Stopwatch.GetTimestamp() < due) Thread.Sleep(1);
        }
        long fresh = drums.FreshHits, reused = drums.ReusedHits;
        Console.WriteLine($"fresh-hit ratio, 120 bpm 16ths (kick/snare/hats), {bars} bars in real time: {fresh / (double)(fresh + reused):F3} " +
                          $"({fresh} fresh, {reused} reused, {drums.FallbackHits} fallback); second half: " +
                          $"{(fresh - freshAtHalf) / (double)(fresh - freshAtHalf + reused - reusedAtHalf):F3}");
    }

    private static void Report(string what, long[] ticks, string extra)
    {
        var sorted = (long[])ticks.Clone();
        Array.Sort(sorted);
        double us(long t) => t * 1e6 / Stopwatch.Frequency;
        double median = us(sorted[sorted.Length / 2]);
        double p999 = us(sorted[Math.Min(sorted.Length - 1, (int)(sorted.Length * 0.999))]);
        double max = us(sorted[^1]);
        Console.WriteLine($"{what}: median {median:F1} µs, p99.9 {p999:F1} µs, max {max:F1} µs over {ticks.Length} calls; {extra}");
    }

    private static float[] Noise(int n)
    {
        var rng = new Random(7);
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float)(0.3 * Math.Sin(2 * Math.PI * 220 * i / Rate) + 0.1 * (rng.NextDouble() * 2 - 1));
        return x;
    }

    private static double Arg(string[] args, string name, double fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length && double.TryParse(args[i + 1], System.Globalization.CultureInfo.InvariantCulture, out var v) ? v : fallback;
    }

    private static string? ArgString(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}
