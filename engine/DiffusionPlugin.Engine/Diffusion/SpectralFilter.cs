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
    private readonly int _size, _length;
    private readonly float[] _gain;       // per bin 0..size/2
    private readonly RadixTwoFft _fft;
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
        _gain = new float[_size / 2 + 1];
        for (int k = 0; k <= _size / 2; k++)
        {
            double f = (double)k * sampleRateHz / _size;
            _gain[k] = f <= cutoffHz ? 1f
                : f >= cutoffHz + TransitionHz ? 0f
                : (float)(0.5 + 0.5 * Math.Cos(Math.PI * (f - cutoffHz) / TransitionHz));
        }
        _fft = new RadixTwoFft(_size);
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
        _fft.Transform(re, im, inverse: false);
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
        _fft.Transform(re, im, inverse: true);
        TensorPrimitives.MultiplyAdd(re[.._length], 1f / _size, target[.._length], target[.._length]);
    }
}
