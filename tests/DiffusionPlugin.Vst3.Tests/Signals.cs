using DiffusionPlugin.Vst3.Tests.Host;

namespace DiffusionPlugin.Vst3.Tests;

/// <summary>Rendering helpers and signal measures for the host tests.</summary>
internal static class Signals
{
    public const string Drums = "Diffusion Drums";
    public const string Widener = "Diffusion Widener";

    public static uint ParameterId(PluginInstance p, string title) => p.Parameters().Single(x => x.Title == title).Id;

    /// <summary>
    /// Renders <paramref name="frames"/> frames in blocks, delivering each note in the block that contains it; with
    /// <paramref name="offlineBlocks"/> every block says kOffline, as a freewheeling export does.
    /// </summary>
    public static (float[] Left, float[] Right) RenderNotes(PluginInstance p, IEnumerable<(int Frame, int Pitch, float Velocity)> notes,
                                                           int frames, int block, bool offlineBlocks = false)
    {
        var all = notes.OrderBy(n => n.Frame).ToList();
        var left = new float[frames];
        var right = new float[frames];
        var outL = new float[block];
        var outR = new float[block];
        for (int start = 0; start < frames; start += block)
        {
            int n = Math.Min(block, frames - start);
            using var events = new HostEventList();
            foreach (var note in all.Where(x => x.Frame >= start && x.Frame < start + n))
                events.NoteOn(note.Frame - start, note.Pitch, note.Velocity);
            Assert.Equal(0, p.Process(null, [outL, outR], n, events, offlineBlock: offlineBlocks));
            Array.Copy(outL, 0, left, start, n);
            Array.Copy(outR, 0, right, start, n);
        }
        return (left, right);
    }

    /// <summary>Runs a mono or stereo input through the widener in blocks; returns the two outputs.</summary>
    public static (float[] Left, float[] Right) RenderAudio(PluginInstance p, float[][] input, int block, HostParameterChanges? firstBlockChanges = null,
                                                           bool offlineBlocks = false)
    {
        int frames = input[0].Length;
        var left = new float[frames];
        var right = new float[frames];
        var ins = input.Select(_ => new float[block]).ToArray();
        var outL = new float[block];
        var outR = new float[block];
        for (int start = 0; start < frames; start += block)
        {
            int n = Math.Min(block, frames - start);
            for (int c = 0; c < input.Length; c++) Array.Copy(input[c], start, ins[c], 0, n);
            Assert.Equal(0, p.Process(ins, [outL, outR], n, changes: start == 0 ? firstBlockChanges : null, offlineBlock: offlineBlocks));
            Array.Copy(outL, 0, left, start, n);
            Array.Copy(outR, 0, right, start, n);
        }
        return (left, right);
    }

    public static float[] Noise(int frames, int seed, float amplitude = 0.3f)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, frames).Select(_ => (float)((rng.NextDouble() * 2 - 1) * amplitude)).ToArray();
    }

    public static double Rms(ReadOnlySpan<float> x)
    {
        double s = 0;
        foreach (var v in x) s += v * (double)v;
        return x.Length == 0 ? 0 : Math.Sqrt(s / x.Length);
    }

    public static double Correlation(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double sab = 0, saa = 0, sbb = 0;
        for (int i = 0; i < a.Length; i++) { sab += a[i] * (double)b[i]; saa += a[i] * (double)a[i]; sbb += b[i] * (double)b[i]; }
        return sab / Math.Sqrt(saa * sbb + 1e-30);
    }

    /// <summary>First frame at or after <paramref name="from"/> whose magnitude exceeds <paramref name="threshold"/>, or -1.</summary>
    public static int Onset(float[] x, int from, float threshold = 1e-3f)
    {
        for (int i = Math.Max(0, from); i < x.Length; i++) if (Math.Abs(x[i]) > threshold) return i;
        return -1;
    }

    public static bool AllFinite(float[] x) => x.All(float.IsFinite);
}
