using System.Numerics.Tensors;

namespace DiffusionPlugin.Engine.Diffusion;

/// <summary>
/// Zero-phase low-pass by FFT for bandwidth extension: the gain is exactly 1 up to the cutoff, falls with a raised
/// cosine over a short transition above it, and is 0 beyond. The signal is zero-padded to a power of two at least twice
/// its length, so the filter's (short, smooth) impulse response does not wrap around the clip.
/// <see cref="ReplaceLowBand"/> computes target ← target + LP(source − target): below the cutoff the result is the
/// source's spectrum, above the transition it is the target's. Buffers are built once per (length, cutoff, rate)
/// and reused; one thread owns an instance.
/// </summary>
public sealed class SpectralFilter
{
    private readonly int _size, _length, _log2;
    private readonly float[] _gain;       // per bin 0..size/2
    private readonly float[] _cos, _sin;  // twiddles e^{−2πik/size}, k < size/2
    private readonly int[] _bitReverse;
    private readonly float[] _re, _im;

    /// <summary>Builds the filter for clips of <paramref name="length"/> samples at <paramref name="sampleRateHz"/>.</summary>
    public SpectralFilter(int length, float cutoffHz, float sampleRateHz, float transitionHz = 0)
    {
        if (length < 1) throw new ArgumentOutOfRangeException(nameof(length));
        if (!(cutoffHz > 0) || !(sampleRateHz > 0)) throw new ArgumentOutOfRangeException(nameof(cutoffHz), "cutoff and rate must be positive");
        _length = length;
        CutoffHz = cutoffHz;
        SampleRateHz = sampleRateHz;
        TransitionHz = transitionHz > 0 ? transitionHz : Math.Max(0.1f * cutoffHz, 100f);
        _size = 2;
        while (_size < 2 * length) _size <<= 1;
        _log2 = System.Numerics.BitOperations.Log2((uint)_size);
        _gain = new float[_size / 2 + 1];
        for (int k = 0; k <= _size / 2; k++)
        {
            double f = (double)k * sampleRateHz / _size;
            _gain[k] = f <= cutoffHz ? 1f
                : f >= cutoffHz + TransitionHz ? 0f
                : (float)(0.5 + 0.5 * Math.Cos(Math.PI * (f - cutoffHz) / TransitionHz));
        }
        _cos = new float[_size / 2];
        _sin = new float[_size / 2];
        for (int k = 0; k < _size / 2; k++)
        {
            var (sin, cos) = Math.SinCos(-2 * Math.PI * k / _size);
            _cos[k] = (float)cos;
            _sin[k] = (float)sin;
        }
        _bitReverse = new int[_size];
        for (int i = 0; i < _size; i++)
        {
            int r = 0;
            for (int b = 0; b < _log2; b++) r |= ((i >> b) & 1) << (_log2 - 1 - b);
            _bitReverse[i] = r;
        }
        _re = new float[_size];
        _im = new float[_size];
    }

    public int Length => _length;
    public float CutoffHz { get; }
    public float SampleRateHz { get; }
    /// <summary>Width of the raised-cosine roll-off above the cutoff, in Hz.</summary>
    public float TransitionHz { get; }

    /// <summary>True when this filter was built for exactly these settings.</summary>
    public bool Matches(int length, float cutoffHz, float sampleRateHz) =>
        length == _length && cutoffHz == CutoffHz && sampleRateHz == SampleRateHz;

    /// <summary>target ← target + LP(source − target), over <see cref="Length"/> samples. Allocates nothing.</summary>
    public void ReplaceLowBand(Span<float> target, ReadOnlySpan<float> source)
    {
        var re = _re.AsSpan();
        var im = _im.AsSpan();
        TensorPrimitives.Subtract(source[.._length], target[.._length], re[.._length]);
        re[_length..].Clear();
        im.Clear();
        Transform(re, im, inverse: false);
        int half = _size / 2;
        for (int k = 0; k <= half; k++)
        {
            float g = _gain[k];
            re[k] *= g; im[k] *= g;
            if (k != 0 && k != half)
            {
                re[_size - k] *= g; im[_size - k] *= g;
            }
        }
        Transform(re, im, inverse: true);
        TensorPrimitives.MultiplyAdd(re[.._length], 1f / _size, target[.._length], target[.._length]);
    }

    /// <summary>In-place iterative radix-2 FFT (unnormalised); the inverse uses conjugate twiddles.</summary>
    private void Transform(Span<float> re, Span<float> im, bool inverse)
    {
        for (int i = 0; i < _size; i++)
        {
            int j = _bitReverse[i];
            if (j > i)
            {
                (re[i], re[j]) = (re[j], re[i]);
                (im[i], im[j]) = (im[j], im[i]);
            }
        }
        float sign = inverse ? -1f : 1f;
        for (int len = 2; len <= _size; len <<= 1)
        {
            int halfLen = len >> 1, stride = _size / len;
            for (int start = 0; start < _size; start += len)
            {
                for (int k = 0; k < halfLen; k++)
                {
                    float wr = _cos[k * stride], wi = sign * _sin[k * stride];
                    int a = start + k, b = a + halfLen;
                    float tr = re[b] * wr - im[b] * wi;
                    float ti = re[b] * wi + im[b] * wr;
                    re[b] = re[a] - tr; im[b] = im[a] - ti;
                    re[a] += tr; im[a] += ti;
                }
            }
        }
    }
}
