using CsCheck;
using DiffusionPlugin.Studio.Audio;

namespace DiffusionPlugin.Studio.Tests;

public sealed class AudioPropertyTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("studio-prop-").FullName;
    public void Dispose() { try { Directory.Delete(dir, true); } catch (IOException) { } }

    [Fact]
    public void Any_float_wav_the_studio_writes_reads_back_bit_exact_in_naudio_with_its_metadata()
    {
        int n = 0;
        Gen.Select(Gen.Int[1, 2], Gen.Int[0, 301], Gen.Int[8000, 192000], Gen.String[Gen.Char.AlphaNumeric, 0, 40])
            .Sample((channels, frames, rate, comment) =>
            {
                var samples = Enumerable.Range(0, channels * frames).Select(i => MathF.Sin(i * 0.37f) * 1.5f).ToArray();
                string path = Path.Combine(dir, $"p{n++}.wav");
                WavWriter.Write(path, samples, channels, rate, WavSampleFormat.Float32, comment, $"{{\"n\":{frames}}}");
                var (read, format) = StudioHarness.ReadWav(path);
                Assert.Equal(rate, format.SampleRate);
                Assert.Equal(channels, read.Length);
                for (int c = 0; c < channels; c++)
                    for (int f = 0; f < frames; f++) Assert.Equal(samples[f * channels + c], read[c][f]);
                Assert.Equal(comment, WavMetadata.ReadComment(path));
                Assert.Equal($"{{\"n\":{frames}}}", WavMetadata.ReadStudioJson(path));
            }, iter: 60);
    }

    [Fact]
    public void Resampling_keeps_the_length_ratio_and_a_constant_signal_constant()
    {
        Gen.Select(Gen.Int[200, 3000], Gen.OneOfConst(8000, 11025, 16000, 22050, 44100, 48000, 96000), Gen.OneOfConst(16000, 44100, 48000), Gen.Float[-1f, 1f])
            .Sample((frames, from, to, level) =>
            {
                var constant = Enumerable.Repeat(level, frames).ToArray();
                var result = AudioClip.Resample(constant, from, to);
                Assert.Equal((int)Math.Round((double)frames * to / from), result.Length);
                // Away from the ends (where the signal stops) a constant stays that constant.
                int margin = Math.Max(64, (int)(64.0 * to / from));
                for (int i = margin; i < result.Length - margin; i++) Assert.Equal(level, result[i], 1e-4f);
            }, iter: 40);
    }
}
