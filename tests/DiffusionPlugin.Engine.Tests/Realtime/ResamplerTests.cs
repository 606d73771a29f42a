using DiffusionPlugin.Engine.Realtime;

namespace DiffusionPlugin.Engine.Tests.Realtime;

public class ResamplerTests
{
    [Theory]
    [InlineData(48000, 44100)]
    [InlineData(44100, 192000)]
    [InlineData(44100, 22050)]
    public void A_sine_survives_a_round_trip_between_rates(int hostRate, int modelRate)
    {
        const double hz = 1000;
        int n = hostRate / 4;
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float)Math.Sin(2 * Math.PI * hz * i / hostRate);
        var mid = new float[Resampler.ScaledLength(n, hostRate, modelRate)];
        Resampler.Resample(x, hostRate, mid, modelRate);
        var back = new float[n];
        Resampler.Resample(mid, modelRate, back, hostRate);
        double err = 0, sig = 0;
        for (int i = n / 4; i < 3 * n / 4; i++) { err += (back[i] - x[i]) * (back[i] - x[i]); sig += x[i] * x[i]; }
        double snrDb = 10 * Math.Log10(sig / err);
        Assert.True(snrDb > 40, $"round trip SNR {snrDb:F1} dB");
    }

    [Fact]
    public void Equal_rates_copy_and_pad_with_zeros()
    {
        var dst = new float[5];
        Resampler.Resample([1f, 2f, 3f], 48000, dst, 48000);
        Assert.Equal([1f, 2f, 3f, 0f, 0f], dst);
    }

    [Theory]
    [InlineData(48000, 44100, 4096)]
    [InlineData(44100, 48000, 3840)]
    [InlineData(22050, 44100, 1900)]
    [InlineData(192000, 44100, 16384)]
    public void A_precomputed_plan_gives_what_the_direct_resampler_gives(int fromRate, int toRate, int fromLength)
    {
        var rng = new Random(fromRate);
        var x = new float[fromLength];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(Math.Sin(i * 0.05) * 0.5 + 0.2 * (rng.NextDouble() * 2 - 1));
        int toLength = Resampler.ScaledLength(fromLength, fromRate, toRate) + 7; // a little past the end: zeros beyond the source
        var direct = new float[toLength]; var planned = new float[toLength];
        Resampler.Resample(x, fromRate, direct, toRate);
        new ResamplingPlan(fromLength, fromRate, toLength, toRate).Apply(x, planned);
        for (int i = 0; i < toLength; i++) Assert.Equal(direct[i], planned[i], 2e-5f);
    }
}
