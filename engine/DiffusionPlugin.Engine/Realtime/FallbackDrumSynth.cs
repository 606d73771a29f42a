namespace DiffusionPlugin.Engine.Realtime;

/// <summary>
/// The built-in sound used when there is no diffusion model (missing, corrupt or failed) and before the first hits are
/// generated: a synthesised decaying tone and/or noise burst per drum class. Seeded, so every variation is
/// deterministic; a different seed nudges pitch, decay and noise colour a little (a poor man's humanisation).
/// Any thread; allocates nothing.
/// </summary>
internal static class FallbackDrumSynth
{
    /// <summary>How long a fallback hit lasts, in seconds (kept below the model's clip so buffers fit).</summary>
    public const double LengthSeconds = 0.5;

    /// <summary>
    /// Renders one hit of <paramref name="drumClass"/> at <paramref name="sampleRateHz"/> into <paramref name="output"/>
    /// (overwriting it). <paramref name="pitchHint"/> (the MIDI note) spreads toms and percussion over pitches.
    /// </summary>
    public static void Render(DrumClass drumClass, int pitchHint, ulong seed, double sampleRateHz, Span<float> output)
    {
        var rng = new FastRandom(seed);
        float detune = 1f + 0.03f * rng.NextSigned();
        float decayScale = 1f + 0.1f * rng.NextSigned();
        float dt = (float)(1.0 / sampleRateHz);
        // (tone start Hz, tone end Hz, tone decay s, noise decay s, tone level, noise level, noise brightness 0..1)
        (float f0, float f1, float td, float nd, float tl, float nl, float bright) p = drumClass switch
        {
            DrumClass.Kick => (150f, 48f, 0.30f, 0.01f, 1.0f, 0.25f, 0.2f),
            DrumClass.Snare => (220f, 180f, 0.08f, 0.16f, 0.5f, 0.7f, 0.6f),
            DrumClass.Rim => (900f, 850f, 0.02f, 0.01f, 0.7f, 0.3f, 0.8f),
            DrumClass.Clap => (1000f, 1000f, 0.0f, 0.12f, 0.0f, 0.9f, 0.6f),
            DrumClass.Tom => (200f, 110f, 0.25f, 0.03f, 0.9f, 0.2f, 0.3f),
            DrumClass.HihatClosed => (0f, 0f, 0f, 0.045f, 0f, 0.6f, 0.95f),
            DrumClass.HihatOpen => (0f, 0f, 0f, 0.35f, 0f, 0.5f, 0.95f),
            DrumClass.Crash => (0f, 0f, 0f, 0.9f, 0f, 0.5f, 0.85f),
            DrumClass.Ride => (2600f, 2600f, 0.5f, 0.6f, 0.15f, 0.3f, 0.9f),
            DrumClass.Percussion => (500f, 480f, 0.12f, 0.02f, 0.8f, 0.2f, 0.5f),
            _ => (300f, 300f, 0.1f, 0.1f, 0.5f, 0.5f, 0.5f),
        };
        if (drumClass is DrumClass.Tom or DrumClass.Percussion && pitchHint > 0)
        {
            float k = MathF.Pow(2f, (pitchHint - 45) / 24f); // higher notes, higher pitch
            p.f0 *= k; p.f1 *= k;
        }
        float phase = 0f, lp = 0f, prevNoise = 0f;
        float toneDecay = p.td * decayScale, noiseDecay = p.nd * decayScale;
        for (int i = 0; i < output.Length; i++)
        {
            float t = i * dt;
            float freq = (p.f1 + (p.f0 - p.f1) * MathF.Exp(-t / 0.04f)) * detune;
            phase += 2f * MathF.PI * freq * dt;
            if (phase > 2f * MathF.PI) phase -= 2f * MathF.PI;
            float tone = toneDecay > 0 ? p.tl * MathF.Sin(phase) * MathF.Exp(-t / toneDecay) : 0f;
            float white = rng.NextSigned();
            // Brightness blends a first difference (bright) with a one-pole low-pass (dark).
            lp += 0.2f * (white - lp);
            float coloured = p.bright * (white - prevNoise) * 0.5f + (1f - p.bright) * lp * 2f;
            prevNoise = white;
            float envelope = drumClass == DrumClass.Clap
                ? (t < 0.03f ? 0.6f + 0.4f * MathF.Cos(2f * MathF.PI * t / 0.01f) : 1f) * MathF.Exp(-t / noiseDecay)
                : MathF.Exp(-t / noiseDecay);
            float noise = noiseDecay > 0 ? p.nl * coloured * envelope : 0f;
            float attack = Math.Min(1f, t / 0.0005f); // 0.5 ms attack: no click
            output[i] = 0.8f * attack * (tone + noise);
        }
        // Fade the last 5 ms so a truncated tail never clicks.
        int fade = Math.Min(output.Length, (int)(0.005 * sampleRateHz));
        for (int i = 0; i < fade; i++) output[output.Length - 1 - i] *= (float)i / fade;
    }
}
