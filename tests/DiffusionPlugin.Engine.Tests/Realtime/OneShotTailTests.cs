using DiffusionPlugin.Engine.Realtime;

namespace DiffusionPlugin.Engine.Tests.Realtime;

public class OneShotTailTests
{
    private const double Rate = 48000;

    /// <summary>A 200 Hz tone decaying by 60 dB every 0.1 s, plus a steady hum at <paramref name="humLevel"/>.</summary>
    private static float[] DecayingHit(int length, float humLevel)
    {
        var x = new float[length];
        for (int i = 0; i < length; i++)
        {
            double t = i / Rate;
            x[i] = (float)(0.9 * Math.Pow(10, -3 * t / 0.1) * Math.Sin(2 * Math.PI * 200 * t) + humLevel * Math.Sin(2 * Math.PI * 689 * t));
        }
        return x;
    }

    [Fact]
    public void A_hum_below_the_floor_after_the_decay_becomes_exact_silence_and_the_hit_itself_stays_bit_exact()
    {
        var original = DecayingHit(24000, humLevel: 0.9f * 1e-3f); // hum 60 dB under the peak: under the floor
        var hit = (float[])original.Clone();

        int sounding = OneShotTail.Finish(hit, Rate);

        // The decay (60 dB per 0.1 s) crosses the floor here; a sine's RMS sits 3 dB under its peak, so the last
        // window above the floor may end up to 5 ms earlier, and the sound ends one window and a fade after it.
        int crossing = (int)(-OneShotTail.DefaultFloorDb / 60 * 0.1 * Rate);
        Assert.InRange(sounding, crossing - 240, crossing + 240 + 480 + 1);
        Assert.All(hit[sounding..], v => Assert.Equal(0f, v));
        int fadeStart = sounding - (int)(OneShotTail.FadeSeconds * Rate);
        Assert.Equal(original[..fadeStart], hit[..fadeStart]);
        Assert.True(MathF.Abs(hit[sounding - 1]) < 1e-6f, "the fade ends at (almost) zero");
    }

    [Fact]
    public void A_clip_still_loud_at_its_end_fades_out_over_its_last_ten_milliseconds_instead_of_clicking()
    {
        var original = DecayingHit(2400, humLevel: 0f); // cut 50 ms into a 0.1 s / 60 dB decay: −30 dB at the cut
        var hit = (float[])original.Clone();

        int sounding = OneShotTail.Finish(hit, Rate);

        Assert.Equal(hit.Length, sounding);
        int fade = (int)(OneShotTail.FadeSeconds * Rate);
        Assert.Equal(original[..^fade], hit[..^fade]);
        Assert.True(MathF.Abs(hit[^1]) < 1e-5f, $"last sample {hit[^1]}");
        for (int i = hit.Length - fade; i < hit.Length; i++) Assert.True(MathF.Abs(hit[i]) <= MathF.Abs(original[i]));
    }

    [Fact]
    public void A_hit_that_overshoots_the_loudest_recorded_level_is_scaled_back_to_it_as_a_whole()
    {
        var original = DecayingHit(24000, 0f).Select(v => v * 1.5f).ToArray(); // peaks near 1.35: over full scale
        var hit = (float[])original.Clone();
        var reference = original.Select(v => v * 0.95f / original.Max(MathF.Abs)).ToArray();
        var uncapped = (float[])original.Clone();
        OneShotTail.Finish(uncapped, Rate);                                                 // no limit unless asked
        Assert.Equal(original.Max(MathF.Abs), uncapped.Max(MathF.Abs));
        int sounding = OneShotTail.Finish(hit, Rate, maxPeak: OneShotTail.MaxPeak);
        Assert.Equal(OneShotTail.MaxPeak, hit.Max(MathF.Abs), 1e-6f);
        int fadeStart = sounding - (int)(OneShotTail.FadeSeconds * Rate);
        for (int i = 0; i < fadeStart; i++) Assert.Equal(reference[i], hit[i], 1e-6f); // one gain for the whole hit
        Assert.Equal(sounding, OneShotTail.Finish(DecayingHit(24000, 0f), Rate));          // the same tail as unscaled
    }

    [Fact]
    public void The_floor_is_relative_to_the_hit_so_a_soft_hit_keeps_the_same_share_of_its_tail()
    {
        var loud = DecayingHit(24000, 0.9f * 1e-3f);
        var soft = loud.Select(v => v * 0.01f).ToArray();
        Assert.Equal(OneShotTail.Finish(loud, Rate), OneShotTail.Finish(soft, Rate));
    }

    [Fact]
    public void A_silent_or_empty_hit_has_no_sounding_samples()
    {
        var silent = new float[1000];
        Assert.Equal(0, OneShotTail.Finish(silent, Rate));
        Assert.Equal(0, OneShotTail.Finish(Span<float>.Empty, Rate));
        Assert.All(silent, v => Assert.Equal(0f, v));
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(double.NaN)]
    [InlineData(-44100.0)]
    public void A_nonsense_sample_rate_still_finishes_the_tail(double rateHz)
    {
        var hit = DecayingHit(24000, 0.9f * 1e-3f);
        int sounding = OneShotTail.Finish(hit, rateHz);
        Assert.InRange(sounding, 1, hit.Length - 1);
        Assert.All(hit[sounding..], v => Assert.Equal(0f, v));
    }
}
