using DiffusionPlugin.Engine.Diffusion;
using DiffusionPlugin.Engine.Realtime;

namespace DiffusionPlugin.Engine.Tests.Realtime;

/// <summary>Shared helpers: building engines over the fake core, rendering, measuring.</summary>
internal static class RealtimeTestKit
{
    public readonly record struct Hit(long At, int Note, float Velocity);

    public static DrumInstrument Drums(FakeDiffusionOperations? ops) =>
        RealtimeEngines.CreateDrums(new EngineOptions(), ops == null ? MissingModel : () => ops);

    public static StereoWidener Widener(FakeDiffusionOperations? ops) =>
        RealtimeEngines.CreateWidener(new EngineOptions(), ops == null ? MissingModel : () => ops);

    public static IDiffusionOperations MissingModel() => throw new ModelLoadException("/nowhere/manifest.json", "file not found");

    /// <summary>Renders hits (absolute sample times) offline-or-not through Process in blocks; returns the left channel.</summary>
    public static float[] Render(DrumInstrument drums, IEnumerable<Hit> hits, long totalFrames, int block = 512, bool checkRightEqualsLeft = true)
    {
        var sorted = hits.OrderBy(h => h.At).ToArray();
        var output = new float[totalFrames];
        var l = new float[Math.Max(block, 1)];
        var r = new float[Math.Max(block, 1)];
        int next = 0;
        for (long start = 0; start < totalFrames; start += block)
        {
            int n = (int)Math.Min(block, totalFrames - start);
            while (next < sorted.Length && sorted[next].At < start + n)
            {
                drums.NoteOn((int)(sorted[next].At - start), sorted[next].Note, sorted[next].Velocity);
                next++;
            }
            drums.Process(l, r, n);
            Array.Copy(l, 0, output, start, n);
            if (checkRightEqualsLeft) for (int i = 0; i < n; i++) Assert.Equal(l[i], r[i]);
        }
        return output;
    }

    public static double Rms(ReadOnlySpan<float> x)
    {
        if (x.Length == 0) return 0;
        double sum = 0;
        foreach (var v in x) sum += v * (double)v;
        return Math.Sqrt(sum / x.Length);
    }

    public static void WaitUntil(Func<bool> condition, string what, int timeoutMs = 20_000)
    {
        var sw = System.Diagnostics.Stopwatch.StartNew();
        while (!condition())
        {
            if (sw.ElapsedMilliseconds > timeoutMs) throw new TimeoutException("timed out waiting for " + what);
            Thread.Sleep(2);
        }
    }

    /// <summary>A 120 bpm 16th-note groove: kick on 1 and 3, snare on 2 and 4, closed hats on every 16th, open hat on the last 16th of each bar.</summary>
    public static List<Hit> Groove(double rateHz, int bars, int seed = 1)
    {
        var rng = new Random(seed);
        var hits = new List<Hit>();
        double sixteenth = rateHz * 60.0 / 120.0 / 4.0;
        for (int s = 0; s < bars * 16; s++)
        {
            long at = (long)Math.Round(s * sixteenth);
            int pos = s % 16;
            if (pos is 0 or 8 or 10) hits.Add(new Hit(at, 36, 0.9f));
            if (pos is 4 or 12) hits.Add(new Hit(at, 38, 0.8f + 0.1f * (float)rng.NextDouble()));
            hits.Add(new Hit(at, pos == 15 ? 46 : 42, 0.5f + 0.3f * (float)rng.NextDouble()));
        }
        return hits;
    }
}
