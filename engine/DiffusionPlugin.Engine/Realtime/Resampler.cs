namespace DiffusionPlugin.Engine.Realtime;

/// <summary>
/// Band-limited resampling between the host rate and the model rate, used on the worker (never the audio thread).
/// A Blackman-windowed sinc with <see cref="ZeroCrossings"/> zero crossings each side, read from a table oversampled
/// <see cref="Phases"/> times and linearly interpolated (the classic "bandlimited interpolation" table of J. O. Smith's
/// resample). When downsampling the kernel is stretched so its cut-off sits below the new Nyquist frequency.
/// Stateless: whole buffers in, whole buffers out; any thread; allocates nothing.
/// </summary>
internal static class Resampler
{
    public const int ZeroCrossings = 16;
    private const int Phases = 256;
    private const float Rolloff = 0.94f;
    private static readonly float[] Kernel = BuildKernel();

    private static float[] BuildKernel()
    {
        int n = ZeroCrossings * Phases;
        var k = new float[n + 2];
        for (int i = 0; i <= n; i++)
        {
            double x = (double)i / Phases; // in zero crossings
            double sinc = i == 0 ? 1.0 : Math.Sin(Math.PI * x) / (Math.PI * x);
            double t = 0.5 + 0.5 * x / ZeroCrossings; // Blackman window from its centre to its edge
            double w = 0.42 - 0.5 * Math.Cos(2 * Math.PI * t) + 0.08 * Math.Cos(4 * Math.PI * t);
            k[i] = (float)(sinc * w);
        }
        return k;
    }

    /// <summary>
    /// Fills <paramref name="destination"/> with <paramref name="source"/> (rate <paramref name="sourceRateHz"/>)
    /// read at rate <paramref name="destinationRateHz"/>; sample 0 of both is the same instant. Beyond the source's ends
    /// the signal is taken as zero.
    /// </summary>
    public static void Resample(ReadOnlySpan<float> source, double sourceRateHz, Span<float> destination, double destinationRateHz)
    {
        if (sourceRateHz == destinationRateHz)
        {
            int n = Math.Min(source.Length, destination.Length);
            source[..n].CopyTo(destination);
            destination[n..].Clear();
            return;
        }
        double step = sourceRateHz / destinationRateHz;           // source samples per output sample
        double scale = Math.Min(1.0, 1.0 / step) * Rolloff;       // cut-off relative to the source Nyquist
        double halfWidth = ZeroCrossings / scale;                 // kernel half-width in source samples
        float[] kernel = Kernel;
        float phaseScale = (float)(scale * Phases);
        int tableEnd = ZeroCrossings * Phases;
        for (int i = 0; i < destination.Length; i++)
        {
            double pos = i * step;
            int first = (int)Math.Ceiling(pos - halfWidth), last = (int)Math.Floor(pos + halfWidth);
            if (first < 0) first = 0;
            if (last >= source.Length) last = source.Length - 1;
            // Table position of tap j is |j − pos| · phaseScale; walk it with one add per tap.
            float p = (float)((first - pos) * phaseScale);
            float acc = 0f;
            for (int j = first; j <= last; j++, p += phaseScale)
            {
                float ap = MathF.Abs(p);
                int ip = (int)ap;
                if (ip >= tableEnd) continue;
                float frac = ap - ip;
                acc += source[j] * (kernel[ip] + frac * (kernel[ip + 1] - kernel[ip]));
            }
            destination[i] = acc * (float)scale;
        }
    }

    /// <summary>How many samples <paramref name="frames"/> at one rate last at another (rounded up).</summary>
    public static int ScaledLength(int frames, double fromRateHz, double toRateHz)
        => (int)Math.Ceiling(frames * toRateHz / fromRateHz - 1e-9);

    /// <summary>
    /// The weight <see cref="Resample"/> gives source sample <paramref name="j"/> for output position
    /// <paramref name="pos"/> (in source samples), before the final scale. Shared with <see cref="ResamplingPlan"/>.
    /// </summary>
    internal static float TapWeight(int j, double pos, double scale)
    {
        float ap = MathF.Abs((float)((j - pos) * scale * Phases));
        int ip = (int)ap;
        if (ip >= ZeroCrossings * Phases) return 0f;
        float frac = ap - ip;
        return Kernel[ip] + frac * (Kernel[ip + 1] - Kernel[ip]);
    }

    /// <summary>Cut-off scale and kernel half-width (source samples) for a rate change, as <see cref="Resample"/> uses them.</summary>
    internal static (double Scale, double HalfWidth) Geometry(double sourceRateHz, double destinationRateHz)
    {
        double step = sourceRateHz / destinationRateHz;
        double scale = Math.Min(1.0, 1.0 / step) * Rolloff;
        return (scale, ZeroCrossings / scale);
    }
}

/// <summary>
/// <see cref="Resampler.Resample"/> between two fixed lengths and rates with every output's sinc taps computed once, so
/// each call is one vectorised dot product per output sample (the widener resamples every window twice, with the same
/// geometry each time). Same kernel and cut-off as <see cref="Resampler"/>; results equal it to float rounding.
/// Build on a non-audio thread (allocates); <see cref="Apply"/> allocates nothing and is safe from one thread at a time.
/// </summary>
internal sealed class ResamplingPlan
{
    private readonly int _sourceLength, _destinationLength, _stride;
    private readonly bool _copy;
    private readonly int[] _first = [], _count = [];
    private readonly float[] _weights = [];

    /// <summary>How many weights (floats) a plan for this rate change and output length stores.</summary>
    public static long WeightCount(int destinationLength, double sourceRateHz, double destinationRateHz)
        => sourceRateHz == destinationRateHz ? 0 : (long)destinationLength * ((int)Math.Ceiling(2 * Resampler.Geometry(sourceRateHz, destinationRateHz).HalfWidth) + 2);

    public ResamplingPlan(int sourceLength, double sourceRateHz, int destinationLength, double destinationRateHz)
    {
        _sourceLength = sourceLength; _destinationLength = destinationLength;
        if (sourceRateHz == destinationRateHz) { _copy = true; return; }
        double step = sourceRateHz / destinationRateHz;
        var (scale, halfWidth) = Resampler.Geometry(sourceRateHz, destinationRateHz);
        _stride = (int)Math.Ceiling(2 * halfWidth) + 2;
        _first = new int[destinationLength];
        _count = new int[destinationLength];
        _weights = new float[destinationLength * _stride];
        for (int i = 0; i < destinationLength; i++)
        {
            double pos = i * step;
            int first = Math.Max(0, (int)Math.Ceiling(pos - halfWidth));
            int last = Math.Min(sourceLength - 1, (int)Math.Floor(pos + halfWidth));
            int count = Math.Max(0, Math.Min(last - first + 1, _stride));
            _first[i] = first; _count[i] = count;
            for (int t = 0; t < count; t++) _weights[i * _stride + t] = Resampler.TapWeight(first + t, pos, scale) * (float)scale;
        }
    }

    /// <summary>Resamples <paramref name="source"/> (the planned length) into <paramref name="destination"/> (the planned length).</summary>
    public void Apply(ReadOnlySpan<float> source, Span<float> destination)
    {
        if (source.Length < _sourceLength || destination.Length < _destinationLength)
            throw new ArgumentException("buffers are shorter than the plan");
        if (_copy)
        {
            int n = Math.Min(_sourceLength, _destinationLength);
            source[..n].CopyTo(destination);
            destination[n.._destinationLength].Clear();
            return;
        }
        for (int i = 0; i < _destinationLength; i++)
        {
            int count = _count[i];
            destination[i] = count == 0 ? 0f
                : System.Numerics.Tensors.TensorPrimitives.Dot(source.Slice(_first[i], count), _weights.AsSpan(i * _stride, count));
        }
    }
}
