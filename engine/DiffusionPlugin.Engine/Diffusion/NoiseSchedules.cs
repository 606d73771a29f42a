namespace DiffusionPlugin.Engine.Diffusion;

/// <summary>
/// Noise-level schedules σ_0 &gt; σ_1 &gt; … &gt; σ_{n−1} &gt; σ_n = 0 for the samplers, built apart from them
/// (as in k-diffusion). A schedule for n steps has n + 1 entries, the last one 0. Pure functions, any thread.
/// </summary>
public static class NoiseSchedules
{
    /// <summary>Names accepted by <see cref="Build"/>.</summary>
    public static readonly IReadOnlyList<string> Names = ["karras", "vp"];

    /// <summary>Karras et al. 2022 ("Elucidating the Design Space…", eq. 5) with ρ = 7.</summary>
    public const float KarrasRho = 7f;

    /// <summary>Offset s of the cosine schedule (Nichol &amp; Dhariwal 2021, "Improved DDPM", eq. 17).</summary>
    public const double CosineOffset = 0.008;

    /// <summary>True when <paramref name="name"/> is a known schedule.</summary>
    public static bool IsKnown(string name) => name is "karras" or "vp" or "cosine";

    /// <summary>Writes the schedule <paramref name="name"/> ("karras" or "vp"/"cosine") into <paramref name="sigmas"/> (steps + 1 entries).</summary>
    public static void Build(string name, Span<float> sigmas, float sigmaMin, float sigmaMax)
    {
        switch (name)
        {
            case "karras": Karras(sigmas, sigmaMin, sigmaMax); break;
            case "vp" or "cosine": CosineVp(sigmas, sigmaMin, sigmaMax); break;
            default: throw new ArgumentException($"unknown schedule '{name}' (expected karras or vp)", nameof(name));
        }
    }

    /// <summary>
    /// σ_i = (σmax^(1/ρ) + i/(n−1)·(σmin^(1/ρ) − σmax^(1/ρ)))^ρ for i &lt; n, then 0
    /// (Karras et al. 2022, eq. 5; ρ = 7 balances truncation error over the levels).
    /// </summary>
    public static void Karras(Span<float> sigmas, float sigmaMin, float sigmaMax, float rho = KarrasRho)
    {
        int n = CheckArgs(sigmas, sigmaMin, sigmaMax);
        double maxInv = Math.Pow(sigmaMax, 1.0 / rho), minInv = Math.Pow(sigmaMin, 1.0 / rho);
        for (int i = 0; i < n; i++)
        {
            double ramp = n == 1 ? 0 : (double)i / (n - 1);
            sigmas[i] = (float)Math.Pow(maxInv + ramp * (minInv - maxInv), rho);
        }
        sigmas[n] = 0f;
    }

    /// <summary>
    /// The cosine variance-preserving schedule (Nichol &amp; Dhariwal 2021, eq. 17: ᾱ(t) = cos²((t+s)/(1+s)·π/2)) in σ terms,
    /// σ(t) = √(1/ᾱ(t) − 1) (Song et al. 2021 / Karras et al. 2022, Table 1), with t spaced uniformly between the
    /// times where σ = σmax and σ = σmin, then 0.
    /// </summary>
    public static void CosineVp(Span<float> sigmas, float sigmaMin, float sigmaMax)
    {
        int n = CheckArgs(sigmas, sigmaMin, sigmaMax);
        double tMax = CosineTime(sigmaMax), tMin = CosineTime(sigmaMin);
        for (int i = 0; i < n; i++)
        {
            double t = n == 1 ? tMax : tMax + (tMin - tMax) * i / (n - 1);
            sigmas[i] = (float)CosineSigma(t);
        }
        sigmas[n] = 0f;
    }

    /// <summary>
    /// The level a schedule reaches at fraction <paramref name="u"/> of its range: u = 1 gives σmax, u = 0 gives σmin,
    /// spaced as the schedule spaces its steps. SDEdit strength maps to a starting σ through this.
    /// </summary>
    public static float SigmaAt(string name, float u, float sigmaMin, float sigmaMax)
    {
        u = Math.Clamp(u, 0f, 1f);
        switch (name)
        {
            case "karras":
                double maxInv = Math.Pow(sigmaMax, 1.0 / KarrasRho), minInv = Math.Pow(sigmaMin, 1.0 / KarrasRho);
                return (float)Math.Pow(minInv + u * (maxInv - minInv), KarrasRho);
            case "vp" or "cosine":
                double tMax = CosineTime(sigmaMax), tMin = CosineTime(sigmaMin);
                return (float)CosineSigma(tMin + u * (tMax - tMin));
            default: throw new ArgumentException($"unknown schedule '{name}' (expected karras or vp)", nameof(name));
        }
    }

    private static double CosineSigma(double t)
    {
        double c = Math.Cos((t + CosineOffset) / (1 + CosineOffset) * Math.PI / 2);
        double alphaBar = c * c;
        return Math.Sqrt(1.0 / alphaBar - 1.0);
    }

    private static double CosineTime(double sigma)
    {
        // ᾱ = 1/(1+σ²) ⇒ cos(·) = 1/√(1+σ²).
        double angle = Math.Acos(1.0 / Math.Sqrt(1.0 + sigma * sigma));
        return angle * 2 / Math.PI * (1 + CosineOffset) - CosineOffset;
    }

    private static int CheckArgs(Span<float> sigmas, float sigmaMin, float sigmaMax)
    {
        if (sigmas.Length < 2) throw new ArgumentException("a schedule needs at least one step (two entries)", nameof(sigmas));
        if (!(sigmaMin > 0) || !(sigmaMax >= sigmaMin) || !float.IsFinite(sigmaMax))
            throw new ArgumentOutOfRangeException(nameof(sigmaMin), $"need 0 < sigmaMin <= sigmaMax, got [{sigmaMin}, {sigmaMax}]");
        return sigmas.Length - 1;
    }
}
