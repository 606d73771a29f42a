namespace DiffusionPlugin.Engine.Diffusion;

/// <summary>
/// In-place iterative radix-2 complex FFT of one power-of-two size, unnormalised (a forward then inverse transform
/// scales by the size). Twiddles and the bit-reversal permutation are built once; transforms allocate nothing.
/// Immutable after construction, so any number of threads may share one, each with its own buffers.
/// </summary>
internal sealed class RadixTwoFft
{
    private readonly float[] _cos, _sin;  // e^{−2πik/size}, k < size/2
    private readonly int[] _bitReverse;

    public RadixTwoFft(int size)
    {
        if (size < 2 || (size & (size - 1)) != 0) throw new ArgumentOutOfRangeException(nameof(size), size, "FFT size must be a power of two ≥ 2");
        Size = size;
        int log2 = System.Numerics.BitOperations.Log2((uint)size);
        _cos = new float[size / 2];
        _sin = new float[size / 2];
        for (int k = 0; k < size / 2; k++)
        {
            var (sin, cos) = Math.SinCos(-2 * Math.PI * k / size);
            _cos[k] = (float)cos;
            _sin[k] = (float)sin;
        }
        _bitReverse = new int[size];
        for (int i = 0; i < size; i++)
        {
            int r = 0;
            for (int b = 0; b < log2; b++) r |= ((i >> b) & 1) << (log2 - 1 - b);
            _bitReverse[i] = r;
        }
    }

    public int Size { get; }

    /// <summary>Transforms (re, im) of <see cref="Size"/> samples in place; the inverse uses conjugate twiddles.</summary>
    public void Transform(Span<float> re, Span<float> im, bool inverse)
    {
        int size = Size;
        re = re[..size];
        im = im[..size];
        for (int i = 0; i < size; i++)
        {
            int j = _bitReverse[i];
            if (j > i)
            {
                (re[i], re[j]) = (re[j], re[i]);
                (im[i], im[j]) = (im[j], im[i]);
            }
        }
        float sign = inverse ? -1f : 1f;
        for (int len = 2; len <= size; len <<= 1)
        {
            int halfLen = len >> 1, stride = size / len;
            for (int start = 0; start < size; start += len)
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
