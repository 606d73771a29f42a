using DiffusionPlugin.Engine.Diffusion;
using DiffusionPlugin.Engine.Realtime;
using DiffusionPlugin.Studio.Audio;

namespace DiffusionPlugin.Studio.Tests;

public sealed class SourceCommandTests : IDisposable
{
    readonly StudioHarness h = new();
    public void Dispose() => h.Dispose();

    string MonoInput(string name = "hit.wav", int rate = 16000, int frames = 3000) =>
        h.WriteWav(name, rate, 1, FakeOperations.Noise(99, frames));

    [Fact]
    public void Vary_writes_count_files_beside_the_input_with_seed_plus_index()
    {
        string input = MonoInput();
        var backend = h.NewBackend();
        var run = StudioHarness.Run(backend, "vary", input, "--strength", "0.3", "--count", "3", "--seed", "20");

        Assert.Equal(0, run.ExitCode);
        Assert.Equal(["hit-vary-20-0.wav", "hit-vary-20-1.wav", "hit-vary-20-2.wav", "hit.wav"], h.Files());
        Assert.Equal([20UL, 21UL, 22UL], backend.Operations!.Seeds);
        Assert.Equal(0.3f, backend.Operations.LastStrength);
        Assert.All(backend.Operations.Conditionings, c => Assert.Equal(DiffusionConditioning.Unconditional, c.ClassId));
        // The engine gets the input padded to the model's length multiple; the file is trimmed back to the input's length.
        Assert.All(backend.Operations.Lengths, l => Assert.Equal(3072, l));
        var source = FakeOperations.Noise(99, 3000);
        var noise = FakeOperations.Noise(21, 3072);
        var output = StudioHarness.ReadWav(h.P("hit-vary-20-1.wav")).channels[0];
        Assert.Equal(3000, output.Length);
        for (int i = 0; i < 3000; i++) Assert.Equal(0.7f * source[i] + 0.3f * noise[i], output[i], 1e-6f);
        var meta = StudioHarness.Metadata(h.P("hit-vary-20-1.wav"));
        Assert.Equal(21UL, meta.GetProperty("seed").GetUInt64());
        Assert.Equal(input, meta.GetProperty("source").GetString());
        h.AssertNoTemporaryFiles();
    }

    [Fact]
    public void Stereo_input_at_another_rate_is_mixed_to_mono_and_resampled_to_the_model_rate()
    {
        // 48 kHz stereo: a 440 Hz tone in both channels with opposite-signed noise that cancels in the mono mix.
        int frames = 48000 / 4;
        var tone = StudioHarness.Sine(440, 48000, frames);
        var noise = FakeOperations.Noise(5, frames).Select(v => 0.4f * v).ToArray();
        var interleaved = new float[frames * 2];
        for (int i = 0; i < frames; i++) { interleaved[2 * i] = tone[i] + noise[i]; interleaved[2 * i + 1] = tone[i] - noise[i]; }
        string input = h.WriteWav("stereo48k.wav", 48000, 2, interleaved, bits: 16);

        var run = StudioHarness.Run(h.NewBackend(), "vary", input, "--strength", "0", "--seed", "1", "--out", h.P("out"));

        Assert.Equal(0, run.ExitCode);
        var (channels, format) = StudioHarness.ReadWav(h.P("out", "stereo48k-vary-1-0.wav"));
        Assert.Equal(16000, format.SampleRate);
        var mono = Assert.Single(channels);
        Assert.Equal(frames / 3, mono.Length);
        var expected = StudioHarness.Sine(440, 16000, frames / 3);
        // Away from the resampler's edges the result is the tone at the new rate (16-bit input: small error).
        double maxError = 0;
        for (int i = 200; i < mono.Length - 200; i++) maxError = Math.Max(maxError, Math.Abs(mono[i] - expected[i]));
        Assert.True(maxError < 0.005, $"max error {maxError}");
    }

    [Theory]
    [InlineData("1.5")]
    [InlineData("-0.1")]
    public void Strength_outside_0_to_1_exits_with_one_line(string strength)
    {
        var backend = h.NewBackend();
        var run = StudioHarness.Run(backend, "vary", MonoInput(), "--strength", strength);
        Assert.Equal(1, run.ExitCode);
        Assert.Equal($"diffusion-studio: error: --strength: {strength} is outside 0..1", Assert.Single(run.ErrorLines));
        Assert.Equal(0, backend.Loads);
    }

    [Fact]
    public void A_missing_input_exits_with_one_line_naming_it()
    {
        var run = StudioHarness.Run(h.NewBackend(), "vary", h.P("nope.wav"));
        Assert.Equal(1, run.ExitCode);
        Assert.Equal($"diffusion-studio: error: {h.P("nope.wav")}: file not found", Assert.Single(run.ErrorLines));
    }

    [Fact]
    public void A_file_that_is_not_a_wav_exits_with_one_line_naming_it()
    {
        File.WriteAllText(h.P("notes.wav"), "these are not samples, just text that is long enough to look like a header");
        var run = StudioHarness.Run(h.NewBackend(), "transfer", h.P("notes.wav"), "--to", "snare");
        Assert.Equal(1, run.ExitCode);
        var line = Assert.Single(run.ErrorLines);
        Assert.StartsWith($"diffusion-studio: error: {h.P("notes.wav")}: not a WAV file", line);
        Assert.Equal(["notes.wav"], h.Files());
    }

    [Fact]
    public void Input_with_NaN_samples_is_refused_with_the_sample_position()
    {
        var samples = FakeOperations.Noise(1, 1000);
        samples[123] = float.NaN;
        var run = StudioHarness.Run(h.NewBackend(), "vary", h.WriteWav("nan.wav", 16000, 1, samples));
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("nan.wav: sample 123 of channel 1 is NaN", Assert.Single(run.ErrorLines));
    }

    [Fact]
    public void Transfer_conditions_on_the_target_class_and_names_it_in_the_file()
    {
        var backend = h.NewBackend();
        var run = StudioHarness.Run(backend, "transfer", MonoInput("kick.wav"), "--to", "Snare", "--strength", "0.6", "--seed", "3", "--velocity", "127");
        Assert.Equal(0, run.ExitCode);
        Assert.Contains("kick-to-snare-3-0.wav", h.Files());
        Assert.Equal(new DiffusionConditioning(1, 1f), backend.Operations!.Conditionings.Single());
        Assert.Equal(0.6f, backend.Operations.LastStrength);
        Assert.Equal("snare", StudioHarness.Metadata(h.P("kick-to-snare-3-0.wav")).GetProperty("to").GetString());
    }

    [Fact]
    public void Transfer_to_an_unknown_class_exits_with_one_line()
    {
        var run = StudioHarness.Run(h.NewBackend(), "transfer", MonoInput(), "--to", "gong");
        Assert.Equal(1, run.ExitCode);
        Assert.StartsWith("diffusion-studio: error: --to: unknown class 'gong'", Assert.Single(run.ErrorLines));
        Assert.Equal(["hit.wav"], h.Files());
    }

    [Fact]
    public void Inpaint_regenerates_exactly_the_span_between_from_and_to_seconds()
    {
        var backend = h.NewBackend();
        // 0.25 s at 16 kHz = 4000 frames; span 0.1..0.15 s = frames 1600..2400.
        var run = StudioHarness.Run(backend, "inpaint", MonoInput(frames: 4000), "--from", "0.10", "--to", "0.15", "--seed", "8");
        Assert.Equal(0, run.ExitCode);
        var mask = backend.Operations!.LastMask!;
        Assert.Equal(4096, mask.Length);
        Assert.Equal(800, mask.Count(m => m == 1f));
        Assert.Equal(0f, mask[1599]); Assert.Equal(1f, mask[1600]); Assert.Equal(1f, mask[2399]); Assert.Equal(0f, mask[2400]);
        var output = StudioHarness.ReadWav(h.P("hit-inpaint-8-0.wav")).channels[0];
        var source = FakeOperations.Noise(99, 4000);
        Assert.Equal(source[..1600], output[..1600]);
        Assert.Equal(source[2400..], output[2400..]);
    }

    [Theory]
    [InlineData("0.3", "0.5", "--from: 0.3 s is past the end")]
    [InlineData("0.1", "0.5", "--to: 0.5 s is past the end")]
    [InlineData("0.2", "0.1", "--to: 0.1 is not after --from 0.2")]
    public void Inpaint_spans_outside_the_input_exit_with_one_line(string from, string to, string message)
    {
        var run = StudioHarness.Run(h.NewBackend(), "inpaint", MonoInput(frames: 4000), "--from", from, "--to", to);
        Assert.Equal(1, run.ExitCode);
        Assert.Contains(message, Assert.Single(run.ErrorLines));
        Assert.Equal(["hit.wav"], h.Files());
    }

    [Fact]
    public void Extend_passes_the_cutoff_and_defaults_it_to_the_input_nyquist_when_the_input_rate_is_lower()
    {
        var given = h.NewBackend();
        Assert.Equal(0, StudioHarness.Run(given, "extend", MonoInput(), "--cutoff", "4000", "--seed", "1").ExitCode);
        Assert.Equal(4000f, given.Operations!.LastCutoffHz);

        var lowRate = h.NewBackend();
        string input = h.WriteWav("lofi.wav", 8000, 1, StudioHarness.Sine(300, 8000, 2000));
        Assert.Equal(0, StudioHarness.Run(lowRate, "extend", input, "--seed", "1").ExitCode);
        Assert.Equal(4000f, lowRate.Operations!.LastCutoffHz);
        Assert.Equal(4000, StudioHarness.ReadWav(h.P("lofi-extend-1-0.wav")).channels[0].Length);
    }

    [Fact]
    public void Extend_with_a_cutoff_at_or_above_nyquist_exits_with_one_line()
    {
        var run = StudioHarness.Run(h.NewBackend(), "extend", MonoInput(), "--cutoff", "8000");
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("--cutoff: 8000 Hz is not below the model's Nyquist frequency 8000 Hz", Assert.Single(run.ErrorLines));
    }

    [Fact]
    public void Interpolate_writes_count_files_from_seed_a_to_seed_b_with_both_seeds_in_the_names()
    {
        var backend = h.NewBackend();
        var run = StudioHarness.Run(backend, "interpolate", "--class", "kick", "--seed-a", "1", "--seed-b", "2", "--count", "5", "--out", h.P("o"));
        Assert.Equal(0, run.ExitCode);
        Assert.Equal(Enumerable.Range(0, 5).Select(i => $"o/kick/kick-1-2-interp-{i}.wav"), h.Files());
        Assert.Equal([0f, 0.25f, 0.5f, 0.75f, 1f], backend.Operations!.Positions);
        // The end points are the seeds' hits, finished as one-shots like generate's.
        float[] Finished(ulong seed) { var x = FakeOperations.Noise(seed, 2048); OneShotTail.Finish(x, 16000); return x; }
        Assert.Equal(StudioHarness.ReadWav(h.P("o", "kick", "kick-1-2-interp-0.wav")).channels[0], Finished(1));
        Assert.Equal(StudioHarness.ReadWav(h.P("o", "kick", "kick-1-2-interp-4.wav")).channels[0], Finished(2));
        var meta = StudioHarness.Metadata(h.P("o", "kick", "kick-1-2-interp-2.wav"));
        Assert.Equal(0.5, meta.GetProperty("position").GetDouble());
        Assert.Equal(2UL, meta.GetProperty("seedB").GetUInt64());
    }

    [Fact]
    public void Interpolate_needs_both_seeds()
    {
        var run = StudioHarness.Run(h.NewBackend(), "interpolate", "--class", "kick", "--seed-a", "1");
        Assert.Equal(1, run.ExitCode);
        Assert.Equal("diffusion-studio: error: --seed-b: missing", Assert.Single(run.ErrorLines));
    }

    [Fact]
    public void An_input_longer_than_one_edit_handles_is_refused_before_loading_the_model()
    {
        var backend = h.NewBackend();
        string path = h.WriteWav("long.wav", 1000, 1, new float[61_000]);
        var run = StudioHarness.Run(backend, "vary", path);
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("long.wav: 61 s is longer than the 60 s one edit handles", Assert.Single(run.ErrorLines));
        Assert.Equal(0, backend.Loads);
    }

    [Theory]
    [InlineData(8, 1e-2f)]
    [InlineData(16, 1e-4f)]
    [InlineData(24, 1e-6f)]
    [InlineData(32, 0f)]
    public void Pcm_and_float_inputs_of_every_common_depth_are_read_at_full_scale(int bits, float tolerance)
    {
        var tone = StudioHarness.Sine(500, 16000, 1600, 0.7f);
        string path = h.WriteWav($"in{bits}.wav", 16000, 1, tone, bits);
        var run = StudioHarness.Run(h.NewBackend(), "vary", path, "--strength", "0", "--seed", "1");
        Assert.Equal(0, run.ExitCode);
        var output = StudioHarness.ReadWav(h.P($"in{bits}-vary-1-0.wav")).channels[0];
        for (int i = 0; i < tone.Length; i++) Assert.Equal(tone[i], output[i], tolerance);
    }

    [Fact]
    public void A_variation_is_redone_alone_from_the_command_in_its_metadata()
    {
        string input = MonoInput();
        Assert.Equal(0, StudioHarness.Run(h.NewBackend(), "vary", input, "--strength", "0.4", "--count", "3", "--seed", "30", "--class", "rim").ExitCode);
        string third = h.P("hit-vary-30-2.wav");
        var args = WavMetadata.ReadComment(third)!.Split(' ').Skip(1).Concat(["--out", h.P("again")]).ToArray();
        Assert.Contains("--first-index", args);

        var backend = h.NewBackend();
        var rerun = StudioHarness.Run(backend, args);

        Assert.Equal(0, rerun.ExitCode);
        Assert.Equal([32UL], backend.Operations!.Seeds);
        Assert.Equal(["again/hit-vary-30-2.wav"], h.Files(h.P("again")));
        Assert.Equal(File.ReadAllBytes(third), File.ReadAllBytes(h.P("again", "hit-vary-30-2.wav")));
    }
}
