using System.Numerics.Tensors;

namespace DiffusionPlugin.Engine.Diffusion;

/// <summary>
/// Changes a denoiser's estimate of x0 before the sampler uses it (inpainting keeps the known samples,
/// bandwidth extension keeps the low band). Called once per denoiser evaluation; must not allocate.
/// </summary>
public interface IEstimateConstraint
{
    /// <summary>Rewrites <paramref name="denoised"/> (batch × length) in place; <paramref name="x"/> is the noisy input at <paramref name="sigma"/>.</summary>
    void Apply(ReadOnlySpan<float> x, float sigma, Span<float> denoised, int batch, int length);
}

/// <summary>
/// The model a sampler sees: D(x, σ) for a whole batch at one noise level, with the batch's conditioning fixed by
/// <see cref="Prepare"/>. With guidance w ≠ 1 it runs classifier-free guidance (Ho &amp; Salimans 2022,
/// "Classifier-Free Diffusion Guidance", eq. 6 in D form: D = D_u + w·(D_c − D_u)) by stacking the conditional
/// and unconditional halves into one denoiser call of batch 2B, at noise levels up to <see cref="GuidanceMaxSigma"/>
/// (above it the conditional half alone, batch B: guidance in a limited interval). Also owns the samplers' scratch buffers, sized per
/// shape and reused, so sampling allocates nothing after the first call with a shape. One thread owns it.
/// </summary>
public sealed class GuidedDenoiser
{
    private float[] _sigmas = [];
    private DiffusionConditioning[] _conditioning = [];
    private float[] _stackedX = [], _stackedD = [];
    private readonly float[][] _scratch = [[], [], []];

    public GuidedDenoiser(IDenoiser inner) => Inner = inner ?? throw new ArgumentNullException(nameof(inner));

    /// <summary>The wrapped denoiser.</summary>
    public IDenoiser Inner { get; }
    /// <summary>Items per batch (set by <see cref="Prepare"/>).</summary>
    public int Batch { get; private set; }
    /// <summary>Samples per item (set by <see cref="Prepare"/>).</summary>
    public int Length { get; private set; }
    /// <summary>Classifier-free guidance scale w; 1 = conditional only (one batch-B call per evaluation).</summary>
    public float Guidance { get; private set; } = 1f;
    /// <summary>Highest σ at which guidance acts (see <see cref="SamplingOptions.GuidanceMaxSigma"/>).</summary>
    public float GuidanceMaxSigma { get; private set; } = float.PositiveInfinity;
    /// <summary>Optional rewrite of each estimate (null = none).</summary>
    public IEstimateConstraint? Constraint { get; set; }
    /// <summary>Denoiser evaluations since <see cref="Prepare"/> (one per <see cref="Denoise"/>, whatever the guidance).</summary>
    public int Evaluations { get; private set; }

    /// <summary>Samples in the batch: <see cref="Batch"/> × <see cref="Length"/>.</summary>
    public int Count => Batch * Length;

    /// <summary>Sizes the buffers for (batch, length), fixes the conditioning, the guidance scale and its σ limit, clears the constraint.</summary>
    public void Prepare(ReadOnlySpan<DiffusionConditioning> conditioning, int length, float guidance,
                        float guidanceMaxSigma = float.PositiveInfinity)
    {
        int batch = conditioning.Length;
        if (batch < 1) throw new ArgumentException("at least one batch item is needed", nameof(conditioning));
        if (length < 1 || length % Inner.LengthMultiple != 0)
            throw new ArgumentOutOfRangeException(nameof(length), length, $"length must be a positive multiple of {Inner.LengthMultiple}");
        if (!float.IsFinite(guidance)) throw new ArgumentOutOfRangeException(nameof(guidance), guidance, "guidance must be finite");
        if (!(guidanceMaxSigma > 0)) throw new ArgumentOutOfRangeException(nameof(guidanceMaxSigma), guidanceMaxSigma, "the guidance sigma limit must be positive");
        Batch = batch;
        Length = length;
        Guidance = guidance;
        GuidanceMaxSigma = guidanceMaxSigma;
        Constraint = null;
        Evaluations = 0;
        bool guided = guidance != 1f;
        int items = guided ? 2 * batch : batch;
        Grow(ref _sigmas, items);
        Grow(ref _conditioning, items);
        for (int b = 0; b < batch; b++)
        {
            _conditioning[b] = conditioning[b];
            if (guided) _conditioning[batch + b] = conditioning[b] with { ClassId = DiffusionConditioning.Unconditional };
        }
        if (guided)
        {
            Grow(ref _stackedX, items * length);
            Grow(ref _stackedD, items * length);
        }
        for (int i = 0; i < _scratch.Length; i++) Grow(ref _scratch[i], batch * length);
    }

    /// <summary>Scratch buffer <paramref name="index"/> (0..2) of <see cref="Count"/> samples, for the samplers.</summary>
    public Span<float> Scratch(int index) => _scratch[index].AsSpan(0, Count);

    /// <summary>Writes D(x, σ) for the whole batch into <paramref name="denoised"/> (guided and constrained).</summary>
    public void Denoise(ReadOnlySpan<float> x, float sigma, Span<float> denoised)
    {
        int batch = Batch, n = Count;
        Evaluations++;
        if (Guidance == 1f || sigma > GuidanceMaxSigma)
        {
            // The first B conditioning entries are the conditional ones: this is the guided call's first half alone.
            _sigmas.AsSpan(0, batch).Fill(sigma);
            Inner.Denoise(x[..n], _sigmas.AsSpan(0, batch), _conditioning.AsSpan(0, batch), batch, Length, denoised[..n]);
        }
        else
        {
            _sigmas.AsSpan(0, 2 * batch).Fill(sigma);
            var sx = _stackedX.AsSpan(0, 2 * n);
            x[..n].CopyTo(sx);
            x[..n].CopyTo(sx[n..]);
            var sd = _stackedD.AsSpan(0, 2 * n);
            Inner.Denoise(sx, _sigmas.AsSpan(0, 2 * batch), _conditioning.AsSpan(0, 2 * batch), 2 * batch, Length, sd);
            ReadOnlySpan<float> cond = sd[..n], uncond = sd[n..];
            var dst = denoised[..n];
            TensorPrimitives.Subtract(cond, uncond, dst);
            TensorPrimitives.MultiplyAdd(dst, Guidance, uncond, dst);
        }
        Constraint?.Apply(x[..n], sigma, denoised[..n], batch, Length);
    }

    private static void Grow<T>(ref T[] buffer, int size)
    {
        if (buffer.Length < size) buffer = new T[size];
    }
}
