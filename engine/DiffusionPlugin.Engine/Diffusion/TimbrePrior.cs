namespace DiffusionPlugin.Engine.Diffusion;

/// <summary>
/// The timbres a model with timbre conditioning expects for each class (manifest <c>descriptorPrior</c>, fitted by
/// onnx-export on the training hits): a class's <see cref="TimbreDescriptors"/> are mean + slope·velocity + L·z with
/// z ~ N(0, I) and L the Cholesky factor of the spread around that line (harder hits are brighter, so a hit's velocity
/// moves its timbre). Drawing z once per kit and note and reading the line at each hit's velocity keeps a note's
/// character while it follows the dynamics. Immutable; any thread; allocates nothing after construction.
/// </summary>
public sealed class TimbrePrior
{
    /// <summary>Descriptors per hit: brightness, noisiness, decay (the manifest's <c>conditioning.descriptors</c>).</summary>
    public const int Count = 3;

    /// <summary>The descriptor names, in the order the graph takes them.</summary>
    public static IReadOnlyList<string> Names { get; } = ["brightness", "noisiness", "decay"];

    private readonly double[][] _mean, _slope, _chol; // per class id; empty arrays for a class without a prior

    /// <summary>The prior of each class named in <paramref name="prior"/>; classes not in <paramref name="classNames"/> are ignored.</summary>
    /// <exception cref="ArgumentException">An entry whose mean, slope or Cholesky rows are not <see cref="Count"/> finite numbers.</exception>
    public TimbrePrior(IReadOnlyDictionary<string, ManifestTimbrePrior> prior, IReadOnlyList<string> classNames)
    {
        ArgumentNullException.ThrowIfNull(prior);
        ArgumentNullException.ThrowIfNull(classNames);
        _mean = new double[classNames.Count][];
        _slope = new double[classNames.Count][];
        _chol = new double[classNames.Count][];
        for (int c = 0; c < classNames.Count; c++)
        {
            _mean[c] = _slope[c] = _chol[c] = [];
            if (!prior.TryGetValue(classNames[c], out var entry) || entry is null) continue;
            string problem = entry.Problem();
            if (problem.Length > 0) throw new ArgumentException($"descriptorPrior '{classNames[c]}': {problem}", nameof(prior));
            _mean[c] = entry.Mean!.Select(v => (double)v).ToArray();
            _slope[c] = entry.Slope!.Select(v => (double)v).ToArray();
            _chol[c] = entry.Chol!.SelectMany(row => row.Select(v => (double)v)).ToArray(); // row-major [Count × Count]
        }
    }

    /// <summary>Whether <paramref name="classId"/> has a prior (a model may leave a class without one).</summary>
    public bool Covers(int classId) => (uint)classId < (uint)_mean.Length && _mean[classId].Length == Count;

    /// <summary>
    /// A timbre for a hit of <paramref name="classId"/> at <paramref name="velocity"/> (0..1), z drawn from
    /// <paramref name="seed"/> alone: the same seed gives the same z at every velocity. Null for a class without a prior.
    /// </summary>
    public TimbreDescriptors? Draw(int classId, float velocity, ulong seed)
    {
        if (!Covers(classId)) return null;
        ulong state = NoiseGenerator.Mix(seed, 0x7_1B4E_5EEDUL);
        double z0 = Gaussian(ref state), z1 = Gaussian(ref state), z2 = Gaussian(ref state);
        return At(classId, velocity, z0, z1, z2);
    }

    /// <summary>mean + slope·velocity + L·z for a class with a prior; <paramref name="velocity"/> clamped to 0..1, NaN read as 1.</summary>
    public TimbreDescriptors At(int classId, float velocity, double z0, double z1, double z2)
    {
        if (!Covers(classId)) throw new ArgumentOutOfRangeException(nameof(classId), classId, "class has no timbre prior");
        double v = float.IsFinite(velocity) ? Math.Clamp(velocity, 0f, 1f) : 1.0;
        var m = _mean[classId];
        var s = _slope[classId];
        var l = _chol[classId];
        double D(int i) => m[i] + s[i] * v + l[i * Count] * z0 + l[i * Count + 1] * z1 + l[i * Count + 2] * z2;
        return new TimbreDescriptors((float)D(0), (float)D(1), (float)D(2));
    }

    /// <summary>One N(0, 1) value from a SplitMix64 stream (Box–Muller, Box &amp; Muller 1958).</summary>
    /// <remarks>A stream on the stack rather than a <see cref="NoiseGenerator"/>: the prior is shared by every thread
    /// that draws (the worker, a CLI thread) and a draw per hit should allocate nothing.</remarks>
    private static double Gaussian(ref ulong state)
    {
        double u1 = ((Next(ref state) >> 11) + 1) * (1.0 / (1UL << 53)); // (0, 1]: its logarithm is finite
        double u2 = (Next(ref state) >> 11) * (1.0 / (1UL << 53));
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }

    private static ulong Next(ref ulong state)
    {
        ulong z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
