using System.Runtime.CompilerServices;

namespace DiffusionPlugin.Engine.Realtime;

/// <summary>Small allocation-free helpers shared by the audio thread and the worker. Any thread.</summary>
internal static class AudioMath
{
    /// <summary>Largest magnitude let through; anything beyond (and NaN/Inf) is treated as a broken sample.</summary>
    public const float MaxMagnitude = 64f;

    /// <summary>NaN or ±Inf become 0, huge values are clamped, so nothing non-finite ever propagates.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sanitize(float x) => float.IsFinite(x) ? Math.Clamp(x, -MaxMagnitude, MaxMagnitude) : 0f;

    public static void Sanitize(Span<float> buffer)
    {
        for (int i = 0; i < buffer.Length; i++) buffer[i] = Sanitize(buffer[i]);
    }

    /// <summary>SplitMix64 finaliser: a well-mixed 64-bit hash, used to derive per-note, per-hit and per-window seeds.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    public static ulong Seed(ulong a, ulong b) => Mix(Mix(a) ^ (b * 0xD1B54A32D192ED03UL));
    public static ulong Seed(ulong a, ulong b, ulong c) => Seed(Seed(a, b), c);

    public static float DbToGain(float db) => MathF.Pow(10f, db / 20f);
}

/// <summary>
/// A tiny deterministic generator (xorshift64* with a Box–Muller Gaussian), a value type so the audio thread can own
/// one without allocating. Not thread-safe: one owner.
/// </summary>
internal struct FastRandom
{
    private ulong _state;
    private float _spare;
    private bool _hasSpare;

    public FastRandom(ulong seed)
    {
        _state = AudioMath.Mix(seed) | 1UL;
        _spare = 0; _hasSpare = false;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong NextULong()
    {
        _state ^= _state >> 12; _state ^= _state << 25; _state ^= _state >> 27;
        return _state * 2685821657736338717UL;
    }

    /// <summary>Uniform in [0, 1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float NextFloat() => (NextULong() >> 40) * (1f / (1 << 24));

    /// <summary>Uniform in [-1, 1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float NextSigned() => NextFloat() * 2f - 1f;

    /// <summary>Standard normal (Box–Muller, both values used).</summary>
    public float NextGaussian()
    {
        if (_hasSpare) { _hasSpare = false; return _spare; }
        float u1 = Math.Max(NextFloat(), 1e-7f), u2 = NextFloat();
        float r = MathF.Sqrt(-2f * MathF.Log(u1));
        _spare = r * MathF.Sin(2f * MathF.PI * u2);
        _hasSpare = true;
        return r * MathF.Cos(2f * MathF.PI * u2);
    }
}

/// <summary>A float stored as int bits so any thread can read/write it atomically (parameters).</summary>
internal struct AtomicFloat
{
    private int _bits;
    public AtomicFloat(float value) => _bits = BitConverter.SingleToInt32Bits(value);
    public float Value
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        readonly get => BitConverter.Int32BitsToSingle(Volatile.Read(ref Unsafe.AsRef(in _bits)));
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        set => Volatile.Write(ref _bits, BitConverter.SingleToInt32Bits(value));
    }
}
