namespace DiffusionPlugin.Engine.Realtime;

/// <summary>
/// Ends a generated one-shot the way a sample editor would: the sound is kept untouched down to a floor below its own
/// peak, then faded out and followed by exact silence. Why: a generated clip stops at the model's clip length whatever
/// is still sounding (a crash can be at −22 dBFS in its last 5 ms: a click when a voice stops), and the shipped drum
/// model leaves a noise floor 54–59 dB under the peak of kicks, snares and hats (around −65 dBFS, with a tone at its
/// 689 Hz patch rate) where real hits decay to silence; a producer's compressor would bring it up.
/// Allocation-free; any thread (the drum worker and the CLI call it, never the audio callback).
/// </summary>
public static class OneShotTail
{
    /// <summary>
    /// How far below the hit's peak sample its tail counts as finished, in dB, for a hit played as the model made it.
    /// −50: under the uncalibrated model's noise floor (see above); applied to the training kits' own hits, the energy
    /// it removes is a median 38–70 dB below the hit's, per class (rims and hats lose the most), measured on
    /// onnx-export's data — not nothing: it moves their features too. A model's spectral calibration takes that
    /// noise floor down and names a lower floor for the hits it calibrates
    /// (<see cref="Diffusion.SpectralCalibration.TailFloorDb"/>; the shipped one −60).
    /// </summary>
    public const float DefaultFloorDb = -50f;

    /// <summary>Length of the fade-out after the last window above the floor (and at a clip's hard end), in seconds.</summary>
    public const double FadeSeconds = 0.010;

    /// <summary>Window over which the level is measured (RMS), in seconds: short enough to follow a drum's decay.</summary>
    public const double WindowSeconds = 0.005;

    /// <summary>
    /// The loudest a finished hit may peak (linear): 0.95, where onnx-export puts the loudest velocity layer of every
    /// recorded instrument. A generated hit above it has overshot (the model extrapolates, autoguidance most of all:
    /// median claps peaked near +3 dBFS at velocity ~0.9 against −0.6 dBFS for the real ones), so it is scaled back to
    /// it as a whole; a hit at or below it keeps its level bit-exact. Diffusion Drums and the studio's generate and interpolate
    /// pass it to <see cref="Finish"/> (the studio's <c>--max-peak 0</c> keeps the model's own level).
    /// </summary>
    public const float MaxPeak = 0.95f;

    /// <summary>
    /// Finishes <paramref name="hit"/> in place and returns how many samples still sound (the rest are exact zeros).
    /// Samples up to the end of the last <see cref="WindowSeconds"/> window whose RMS is above
    /// <paramref name="floorDb"/> relative to the peak stay bit-exact; the next <see cref="FadeSeconds"/> fade out along
    /// a raised cosine; everything after is 0. When the sound is above the floor up to the very end (a clip cut short),
    /// its last <see cref="FadeSeconds"/> fade instead, so the hit never ends with a step. A silent hit returns 0.
    /// A hit peaking above <paramref name="maxPeak"/> (e.g. <see cref="MaxPeak"/>; default: no limit) is first scaled
    /// down to peak there.
    /// </summary>
    public static int Finish(Span<float> hit, double sampleRateHz, float floorDb = DefaultFloorDb, float maxPeak = float.PositiveInfinity)
    {
        if (hit.IsEmpty) return 0;
        float peak = 0f;
        foreach (float v in hit) peak = MathF.Max(peak, MathF.Abs(v));
        if (!(peak > 0f) || !float.IsFinite(peak)) { hit.Clear(); return 0; }
        if (peak > maxPeak && maxPeak > 0f)
        {
            System.Numerics.Tensors.TensorPrimitives.Multiply(hit, maxPeak / peak, hit);
            peak = maxPeak;
        }

        double rate = double.IsFinite(sampleRateHz) && sampleRateHz > 0 ? sampleRateHz : 44100.0;
        int window = Math.Max(1, (int)(WindowSeconds * rate));
        int fade = Math.Max(1, (int)(FadeSeconds * rate));
        double floor = peak * Math.Pow(10.0, Math.Min(0f, floorDb) / 20.0);
        double floorSquared = floor * floor;

        // Windows aligned from the start, scanned from the end: the first one above the floor ends what must stay.
        int keep = 0;
        for (int start = (hit.Length - 1) / window * window; start >= 0; start -= window)
        {
            int n = Math.Min(window, hit.Length - start);
            double sum = 0;
            for (int i = start; i < start + n; i++) sum += (double)hit[i] * hit[i];
            if (sum / n > floorSquared) { keep = start + n; break; }
        }

        int fadeStart = keep + fade <= hit.Length ? keep : Math.Max(0, hit.Length - fade);
        int fadeEnd = Math.Min(hit.Length, fadeStart + fade);
        for (int i = fadeStart; i < fadeEnd; i++)
        {
            // Raised cosine from 1 to 0 reaching exactly 0 one sample after the fade, so the last faded sample is tiny.
            double g = 0.5 + 0.5 * Math.Cos(Math.PI * (i - fadeStart + 1) / (fade + 1));
            hit[i] = (float)(hit[i] * g);
        }
        hit[fadeEnd..].Clear();
        return fadeEnd;
    }
}
