using System.Diagnostics;
using DiffusionPlugin.Engine.Diffusion;

namespace DiffusionPlugin.Benchmarks;

/// <summary>
/// `dotnet run -c Release -- quick-diffusion`: a few-second Stopwatch sweep of the same figures as the BenchmarkDotNet
/// classes (ms per denoiser call at batch 1/4/8/16 (8: the speed bar's batch), hits/s at 6 (the shipped default)/8/16 steps, bytes per step), for when a full
/// BenchmarkDotNet run is too long. Each generation is warmed up (shapes bound), measured once for allocation, then
/// timed over several runs: the median and the fastest are printed, because on a shared 2-core machine a single run
/// can be off by half. `quick-diffusion --bar` times only the speed bar's case (the model's default steps, batch 8)
/// over more runs. With a calibrated model (manifest "calibration") every generated hit is also calibrated inside the
/// timed generation, as Diffusion Drums does before it plays a hit, and the calibration's own cost per hit is printed.
/// </summary>
public static class QuickDiffusionTimings
{
    public static void Run(bool barOnly = false)
    {
        using var ops = DiffusionModel.Load(BenchmarkModel.ManifestPath, BenchmarkModel.Execution);
        var d = (OnnxDenoiser)ops.Denoiser;
        int length = BenchmarkModel.HitSamples(d);
        var defaults = d.Manifest.Defaults.ToSamplingOptions();
        Console.WriteLine($"model {d.Manifest.Name} ({BenchmarkModel.ManifestPath}) on {d.ActiveDevice} ({d.DeviceReason}), " +
                          $"{d.IntraOpThreads} intra-op threads, hit = {length} samples at {d.SampleRateHz} Hz, " +
                          $"sampler {defaults.Sampler}/{defaults.Schedule}, guidance {defaults.Guidance}" +
                          (d.Guide is null ? "" : $", autoguidance {d.Manifest.Guide!.Weight} above σ {d.Manifest.Guide.MinSigma} " +
                                                  "(denoiser calls at σ 1 include the guide's)"));
        foreach (int batch in barOnly ? new[] { 8 } : new[] { 1, 4, 8, 16 })
        {
            var x = new float[batch * length];
            var y = new float[batch * length];
            var sigma = Enumerable.Repeat(1f, batch).ToArray();
            var cond = Enumerable.Repeat(new DiffusionConditioning(0, 1f), batch).ToArray();
            d.Denoise(x, sigma, cond, batch, length, y);
            double ms = Median(3, () => d.Denoise(x, sigma, cond, batch, length, y));
            Console.WriteLine($"denoiser call  batch {batch,2}: {ms,9:F2} ms/call  {ms / batch,8:F2} ms/hit-call");
        }
        var calibration = d.Calibration?.CreateFilter(d.ClassNames);
        if (calibration != null)
        {
            var hit = new float[length];
            for (int i = 0; i < length; i++) hit[i] = MathF.Sin(i * 0.01f) * MathF.Exp(-i / 4000f);
            calibration.Prepare(length);
            calibration.Apply(hit, 0, 0.8f);
            double perHit = Median(9, () => calibration.Apply(hit, 0, 0.8f));
            Console.WriteLine($"calibration ({d.Calibration!.FilePath}): {perHit:F2} ms/hit");
        }
        int timedRuns = barOnly ? 7 : 3;
        foreach (int steps in barOnly ? new[] { defaults.Steps } : new[] { 6, 8, 16 })
        foreach (int batch in barOnly ? new[] { 8 } : new[] { 1, 4, 8, 16 })
        {
            var opts = defaults with { Steps = steps };
            var cond = Enumerable.Range(0, batch).Select(i => new DiffusionConditioning(i % d.ClassNames.Count, 0.8f)).ToArray();
            var seeds = Enumerable.Range(1, batch).Select(i => (ulong)i).ToArray();
            var output = new float[batch * length];
            void GenerateAndCalibrate()
            {
                ops.Generate(cond, seeds, length, opts, output);
                if (calibration != null)
                    for (int b = 0; b < batch; b++) calibration.Apply(output.AsSpan(b * length, length), cond[b].ClassId, cond[b].Velocity);
            }
            ops.WarmUp(batch, length, opts);   // binds this batch's shapes (guided and, with a guidance interval, unguided)
            // One timed run also measures allocation: a warm generation allocates nothing managed.
            long before = GC.GetAllocatedBytesForCurrentThread();
            GenerateAndCalibrate();
            long bytes = GC.GetAllocatedBytesForCurrentThread() - before;
            var times = Times(timedRuns, GenerateAndCalibrate);
            double median = times[timedRuns / 2], best = times[0];
            Console.WriteLine($"generate steps {steps,2} batch {batch,2}: median {median,8:F1} ms {batch * 1000.0 / median,6:F1} hits/s, " +
                              $"fastest {best,8:F1} ms {batch * 1000.0 / best,6:F1} hits/s (of {timedRuns})  {bytes / steps} B/step");
        }
    }

    private static double Median(int runs, Action action) => Times(runs, action)[runs / 2];

    /// <summary>Milliseconds of <paramref name="runs"/> calls, fastest first.</summary>
    private static double[] Times(int runs, Action action)
    {
        var times = new double[runs];
        for (int i = 0; i < runs; i++)
        {
            long start = Stopwatch.GetTimestamp();
            action();
            times[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }
        Array.Sort(times);
        return times;
    }
}
