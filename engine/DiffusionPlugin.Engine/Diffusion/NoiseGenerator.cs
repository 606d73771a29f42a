using System.Numerics;

namespace DiffusionPlugin.Engine.Diffusion;

/// <summary>
/// Seeded Gaussian noise: xoshiro256** (Blackman &amp; Vigna 2018, "Scrambled linear pseudorandom number generators")
/// seeded through SplitMix64, turned into N(0, 1) by the Box–Muller transform (Box &amp; Muller 1958).
/// The same seed gives the same sequence on every run; it does not depend on batch size or on other items,
/// so a hit's audio depends only on its own seed. Allocates nothing. Not thread-safe: one owner.
/// </summary>
public sealed class NoiseGenerator
{
    private ulong _s0, _s1, _s2, _s3;
    private double _spare;
    private bool _hasSpare;

    public NoiseGenerator(ulong seed = 0) => Reset(seed);

    /// <summary>Restarts the sequence for <paramref name="seed"/>.</summary>
    public void Reset(ulong seed)
    {
        ulong sm = seed;
        _s0 = SplitMix64(ref sm);
        _s1 = SplitMix64(ref sm);
        _s2 = SplitMix64(ref sm);
        _s3 = SplitMix64(ref sm);
        _hasSpare = false;
    }

    /// <summary>Next raw 64-bit value (xoshiro256**).</summary>
    public ulong NextUInt64()
    {
        ulong result = BitOperations.RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = BitOperations.RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>Uniform in (0, 1]: never 0, so its logarithm is finite.</summary>
    public double NextUniformOpenClosed() => ((NextUInt64() >> 11) + 1) * (1.0 / (1UL << 53));

    /// <summary>One standard normal sample.</summary>
    public double NextGaussian()
    {
        if (_hasSpare)
        {
            _hasSpare = false;
            return _spare;
        }
        double r = Math.Sqrt(-2.0 * Math.Log(NextUniformOpenClosed()));
        double phi = 2.0 * Math.PI * ((NextUInt64() >> 11) * (1.0 / (1UL << 53)));
        var (sin, cos) = Math.SinCos(phi);
        _spare = r * sin;
        _hasSpare = true;
        return r * cos;
    }

    /// <summary>Fills <paramref name="destination"/> with standard normal samples.</summary>
    public void FillGaussian(Span<float> destination)
    {
        for (int i = 0; i < destination.Length; i++) destination[i] = (float)NextGaussian();
    }

    /// <summary>A well-mixed 64-bit value from a few inputs (derives per-item seeds). Pure function.</summary>
    public static ulong Mix(ulong a, ulong b = 0, ulong c = 0)
    {
        ulong s = a ^ (b * 0x9E3779B97F4A7C15UL) ^ BitOperations.RotateLeft(c * 0xC2B2AE3D27D4EB4FUL, 31);
        return SplitMix64(ref s);
    }

    private static ulong SplitMix64(ref ulong state)
    {
        ulong z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
