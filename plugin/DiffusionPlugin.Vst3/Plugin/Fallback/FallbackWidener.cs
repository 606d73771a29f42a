using DiffusionPlugin.Engine.Realtime;

namespace DiffusionPlugin.Vst3.Plugin.Fallback;

/// <summary>
/// The widener without a model: the side signal is the mid signal through three Schroeder all-pass sections
/// (flat magnitude, scrambled phase; M. R. Schroeder, "Natural sounding artificial reverberation", 1962), so
/// L = x + w·s and R = x − w·s keep the mono sum x exactly and add no latency.
/// </summary>
internal sealed class FallbackWidener : IStereoWidener
{
    private static readonly int[] DelaysAt48k = [139, 317, 631];
    private const float Gain = 0.5f;

    private readonly string _reason;
    private float[][] _lines = [];
    private int[] _positions = [];
    private float _width = 1f, _strength = 0.5f, _mix = 1f;
    private volatile bool _bypass;

    public FallbackWidener(string reason) => _reason = reason;

    public ModelStatus Status => ModelStatus.Fallback;
    public string StatusMessage => _reason;
    public int LatencySamples => 0;
    public long FallbackWindows { get; private set; }

    public float Width { get => Volatile.Read(ref _width); set => Volatile.Write(ref _width, Math.Clamp(Finite(value, 1f), 0f, 2f)); }
    public float VariationStrength { get => Volatile.Read(ref _strength); set => Volatile.Write(ref _strength, Math.Clamp(Finite(value, 0.5f), 0f, 1f)); }
    public float Mix { get => Volatile.Read(ref _mix); set => Volatile.Write(ref _mix, Math.Clamp(Finite(value, 1f), 0f, 1f)); }
    public bool Bypass { get => _bypass; set => _bypass = value; }

    private static float Finite(float v, float fallback) => float.IsFinite(v) ? v : fallback;

    public void Activate(double sampleRateHz, int maxBlockFrames, bool offline)
    {
        double scale = sampleRateHz / 48000.0;
        _lines = DelaysAt48k.Select(d => new float[Math.Max(1, (int)Math.Round(d * scale))]).ToArray();
        _positions = new int[_lines.Length];
    }

    public void Deactivate() { }

    public void Process(ReadOnlySpan<float> inLeft, ReadOnlySpan<float> inRight, Span<float> outLeft, Span<float> outRight, int frames)
    {
        float w = Width, strength = VariationStrength, mix = Mix;
        bool bypass = Bypass;
        var lines = _lines;
        for (int i = 0; i < frames; i++)
        {
            float l = inLeft[i], r = inRight[i];
            if (!float.IsFinite(l)) l = 0;
            if (!float.IsFinite(r)) r = 0;
            float x = 0.5f * (l + r);
            float d = x;
            for (int k = 0; k < lines.Length; k++)
            {
                var line = lines[k];
                int p = _positions[k];
                float delayed = line[p];
                float v = d + Gain * delayed;
                d = delayed - Gain * v;
                line[p] = v;
                _positions[k] = p + 1 == line.Length ? 0 : p + 1;
            }
            if (bypass) { outLeft[i] = l; outRight[i] = r; continue; }
            float s = strength * d;
            float wetL = x + w * s, wetR = x - w * s;
            outLeft[i] = l + mix * (wetL - l);
            outRight[i] = r + mix * (wetR - r);
        }
    }

    public void Dispose() { }
}
