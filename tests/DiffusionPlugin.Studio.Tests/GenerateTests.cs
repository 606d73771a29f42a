using DiffusionPlugin.Engine.Diffusion;
using DiffusionPlugin.Engine.Realtime;
using DiffusionPlugin.Studio.Audio;
using NAudio.Wave;

namespace DiffusionPlugin.Studio.Tests;

public sealed class GenerateTests : IDisposable
{
    readonly StudioHarness h = new();
    public void Dispose() => h.Dispose();

    [Fact]
    public void Generate_writes_one_float_wav_per_index_named_class_seed_index_at_the_model_rate()
    {
        var backend = h.NewBackend();
        var run = StudioHarness.Run(backend, "generate", "--class", "snare", "--count", "3", "--seed", "7", "--out", h.P("pack"));

        Assert.Equal(0, run.ExitCode);
        Assert.Equal("", run.Error);
        Assert.Equal(["pack/snare/snare-7-0.wav", "pack/snare/snare-7-1.wav", "pack/snare/snare-7-2.wav"], h.Files());
        var (channels, format) = StudioHarness.ReadWav(h.P("pack", "snare", "snare-7-1.wav"));
        Assert.Equal(WaveFormatEncoding.IeeeFloat, format.Encoding);
        Assert.Equal(16000, format.SampleRate);
        Assert.Single(channels);
        Assert.Equal(2048, channels[0].Length);
        // File i holds the engine's hit for seed + i, finished as a one-shot, bit-exact through float WAV.
        var expected = FakeOperations.Noise(8, 2048).Select(v => v * (100 / 127f)).ToArray();
        OneShotTail.Finish(expected, 16000);
        Assert.Equal(expected, channels[0]);
        Assert.Equal([7UL, 8UL, 9UL], backend.Operations!.Seeds);
        Assert.All(backend.Operations.Conditionings, c => Assert.Equal(1, c.ClassId));
        h.AssertNoTemporaryFiles();
    }

    [Fact]
    public void Generated_one_shots_end_in_silence_even_when_the_model_stops_mid_sound()
    {
        // The fake model's noise bursts have only decayed by 44 dB at the clip's last sample: raw, they would end in a click.
        var run = StudioHarness.Run(h.NewBackend(), "generate", "--class", "snare", "--seed", "5", "--out", h.P("o"));
        Assert.Equal(0, run.ExitCode);
        var hit = StudioHarness.ReadWav(h.P("o", "snare", "snare-5-0.wav")).channels[0];
        var raw = FakeOperations.Noise(5, 2048).Select(v => v * (100 / 127f)).ToArray();
        int fade = (int)(OneShotTail.FadeSeconds * 16000);
        Assert.Equal(raw[..^fade], hit[..^fade]);
        Assert.True(MathF.Abs(hit[^1]) < 1e-3f * raw.Max(MathF.Abs), $"last sample {hit[^1]}");
    }

    [Fact]
    public void Any_file_is_regenerated_alone_from_its_seed_and_index()
    {
        var pack = StudioHarness.Run(h.NewBackend(), "generate", "--class", "kick", "--count", "4", "--seed", "11", "--out", h.P("a"));
        var single = StudioHarness.Run(h.NewBackend(), "generate", "--class", "kick", "--first-index", "2", "--count", "1", "--seed", "11", "--out", h.P("b"));

        Assert.Equal(0, pack.ExitCode);
        Assert.Equal(0, single.ExitCode);
        Assert.Equal(File.ReadAllBytes(h.P("a", "kick", "kick-11-2.wav")), File.ReadAllBytes(h.P("b", "kick", "kick-11-2.wav")));
        Assert.NotEqual(StudioHarness.ReadWav(h.P("a", "kick", "kick-11-1.wav")).channels[0], StudioHarness.ReadWav(h.P("a", "kick", "kick-11-2.wav")).channels[0]);
    }

    [Fact]
    public void The_seed_and_a_reproducing_command_are_in_the_wav_metadata_chunks()
    {
        var run = StudioHarness.Run(h.NewBackend(), "generate", "--class", "clap", "--count", "2", "--seed", "40", "--steps", "3", "--out", h.P("o"));
        Assert.Equal(0, run.ExitCode);
        string path = h.P("o", "clap", "clap-40-1.wav");

        var meta = StudioHarness.Metadata(path);
        Assert.Equal(41UL, meta.GetProperty("seed").GetUInt64());
        Assert.Equal(40UL, meta.GetProperty("baseSeed").GetUInt64());
        Assert.Equal(1, meta.GetProperty("index").GetInt32());
        Assert.Equal("clap", meta.GetProperty("class").GetString());
        Assert.Equal(3, meta.GetProperty("steps").GetInt32());
        Assert.Equal("fake-drums", meta.GetProperty("model").GetString());
        string comment = WavMetadata.ReadComment(path)!;
        Assert.StartsWith("diffusion-studio generate --class clap --seed 40 --first-index 1 --count 1", comment);
        // NAudio, an independent reader, sees the same chunks.
        using var reader = new WaveFileReader(path);
        Assert.Contains(reader.ExtraChunks, c => c.IdentifierAsString == "dfsn");
        Assert.Contains(reader.ExtraChunks, c => c.IdentifierAsString == "LIST");
    }

    [Fact]
    public void The_reproducing_command_in_a_file_makes_the_same_file_again()
    {
        StudioHarness.Run(h.NewBackend(), "generate", "--class", "tom", "--count", "3", "--seed", "5", "--velocity", "64", "--guidance", "3", "--out", h.P("o"));
        string first = h.P("o", "tom", "tom-5-2.wav");
        var args = WavMetadata.ReadComment(first)!.Split(' ').Skip(1).Concat(["--out", h.P("again")]).ToArray();

        var rerun = StudioHarness.Run(h.NewBackend(), args);

        Assert.Equal(0, rerun.ExitCode);
        Assert.Equal(File.ReadAllBytes(first), File.ReadAllBytes(h.P("again", "tom", "tom-5-2.wav")));
    }

    [Fact]
    public void Class_all_generates_every_drum_class_but_not_the_general_catch_all()
    {
        var run = StudioHarness.Run(h.NewBackend(), "generate", "--class", "all", "--count", "1", "--seed", "3", "--out", h.P("all"));
        Assert.Equal(0, run.ExitCode);
        var folders = Directory.GetDirectories(h.P("all")).Select(d => Path.GetFileName(d)!).Order().ToArray();
        Assert.Equal(["clap", "crash", "hihat_closed", "hihat_open", "kick", "percussion", "ride", "rim", "snare", "tom"], folders);
    }

    [Fact]
    public void Sampling_options_reach_the_engine_and_unset_ones_come_from_the_manifest_defaults()
    {
        var backend = h.NewBackend();
        StudioHarness.Run(backend, "generate", "--class", "rim", "--seed", "1", "--steps", "12", "--sampler", "DDIM", "--velocity", "127", "--out", h.P("o"));
        var o = backend.Operations!.Options.Single();
        Assert.Equal(new SamplingOptions { Sampler = "ddim", Steps = 12, Guidance = 2f, Schedule = "karras" }, o);
        Assert.Equal(1f, backend.Operations.Conditionings.Single().Velocity);
        Assert.Equal(2048, backend.Operations.Lengths.Single());
    }

    [Fact]
    public void The_models_guidance_interval_is_used_and_kept_in_the_reproducing_command_unless_overridden()
    {
        string limited = h.P("limited", "manifest.json");
        Directory.CreateDirectory(Path.GetDirectoryName(limited)!);
        File.WriteAllText(limited, File.ReadAllText(h.ManifestPath).Replace("\"guidance\": 2.0", "\"guidance\": 2.0, \"guidanceMaxSigma\": 1.0"));

        var backend = h.NewBackend();
        Assert.Equal(0, StudioHarness.Run(backend, "generate", "--class", "rim", "--seed", "1", "--model", limited, "--out", h.P("a")).ExitCode);
        Assert.Equal(1f, backend.Operations!.Options.Single().GuidanceMaxSigma);
        Assert.Contains("--guidance-max-sigma 1", WavMetadata.ReadComment(h.P("a", "rim", "rim-1-0.wav")));

        backend = h.NewBackend();
        Assert.Equal(0, StudioHarness.Run(backend, "generate", "--class", "rim", "--seed", "1", "--model", limited, "--guidance-max-sigma", "0", "--out", h.P("b")).ExitCode);
        Assert.Equal(float.PositiveInfinity, backend.Operations!.Options.Single().GuidanceMaxSigma);
        Assert.Contains("--guidance-max-sigma 0", WavMetadata.ReadComment(h.P("b", "rim", "rim-1-0.wav")));

        backend = h.NewBackend(); // the harness model has no interval: guidance at every step, nothing to repeat
        Assert.Equal(0, StudioHarness.Run(backend, "generate", "--class", "rim", "--seed", "1", "--out", h.P("c")).ExitCode);
        Assert.Equal(float.PositiveInfinity, backend.Operations!.Options.Single().GuidanceMaxSigma);
        Assert.DoesNotContain("--guidance-max-sigma", WavMetadata.ReadComment(h.P("c", "rim", "rim-1-0.wav")));
    }

    /// <summary>A snare-only calibration with one row of two bands (<paramref name="extra"/>: more JSON fields).</summary>
    private static SpectralCalibration SnareCalibration(double gainDb, string extra = "") =>
        SpectralCalibration.Parse(System.Text.Encoding.UTF8.GetBytes(
            "{\"formatVersion\": 1, \"fftSize\": 256, \"hopSamples\": 64, \"bandEdges\": [0, 20, 129], \"velocityNodes\": [0.5], " +
            extra + $"\"gainsDb\": {{\"snare\": [[[{gainDb.ToString(System.Globalization.CultureInfo.InvariantCulture)}, {gainDb.ToString(System.Globalization.CultureInfo.InvariantCulture)}]]]}}}}"), "calibration.json");

    /// <summary>Runs generate for one hit of <paramref name="cls"/> (seed 4) with a fake model carrying <paramref name="denoiser"/>; returns its samples.</summary>
    private float[] GenerateOne(FakeDenoiser denoiser, string cls, string dir, params string[] extra)
    {
        var backend = new FakeBackend { ManifestPath = h.ManifestPath, Denoiser = denoiser };
        Assert.Equal(0, StudioHarness.Run(backend, ["generate", "--class", cls, "--seed", "4", "--out", h.P(dir), .. extra]).ExitCode);
        return StudioHarness.ReadWav(h.P(dir, cls, $"{cls}-4-0.wav")).channels[0];
    }

    [Fact]
    public void Hits_go_through_the_models_calibration_unless_no_calibration_is_asked_for()
    {
        var calibration = SnareCalibration(-12); // snares down 12 dB, no table for kicks
        float[] Hit(string cls, string dir, params string[] extra) => GenerateOne(new FakeDenoiser { Calibration = calibration }, cls, dir, extra);
        static double Rms(float[] x) => Math.Sqrt(x.Select(v => (double)v * v).Average());

        double snareDb = 20 * Math.Log10(Rms(Hit("snare", "cal")) / Rms(Hit("snare", "raw", "--no-calibration")));
        Assert.InRange(snareDb, -12.3, -11.7);
        Assert.Contains("--no-calibration", WavMetadata.ReadComment(h.P("raw", "snare", "snare-4-0.wav")));
        Assert.DoesNotContain("--no-calibration", WavMetadata.ReadComment(h.P("cal", "snare", "snare-4-0.wav")));
        Assert.Equal(Hit("kick", "kick-raw", "--no-calibration"), Hit("kick", "kick-cal"));
    }

    [Fact]
    public void Calibrated_hits_end_at_the_calibrations_tail_floor_and_raw_ones_at_the_default()
    {
        // A 0 dB table for snares (the tone unchanged) whose file lets tails ring down to 70 dB under the peak.
        var calibration = SnareCalibration(0, extra: "\"tailFloorDb\": -70, ");
        float[] Hit(string cls, string dir, params string[] extra) =>
            GenerateOne(new FakeDenoiser { Calibration = calibration, ClipSamples = 8192 }, cls, dir, extra);
        static int Sounding(float[] x) => Array.FindLastIndex(x, v => v != 0f) + 1;

        var raw = Hit("snare", "raw", "--no-calibration");
        var calibrated = Hit("snare", "cal");
        // The burst decays by 8.7 dB per 400 samples: 20 dB more floor is ~900 samples more sound.
        Assert.InRange(Sounding(calibrated) - Sounding(raw), 600, 1200);
        Assert.Equal(raw.AsSpan(0, Sounding(raw) - 200).ToArray(), calibrated.AsSpan(0, Sounding(raw) - 200).ToArray(), (a, b) => Math.Abs(a - b) < 1e-5f);
        Assert.Equal(Hit("kick", "kick-raw", "--no-calibration"), Hit("kick", "kick-cal")); // no table: the default floor
    }

    [Fact]
    public void Global_model_and_device_options_choose_what_is_loaded()
    {
        var backend = h.NewBackend();
        var run = StudioHarness.Run(backend, "generate", "--class", "kick", "--seed", "1", "--model", h.ManifestPath, "--device", "cpu", "--threads", "1", "--out", h.P("o"));
        Assert.Equal(0, run.ExitCode);
        Assert.Equal(h.ManifestPath, backend.LastManifest);
        Assert.Equal(new ExecutionOptions { Device = ExecutionDevice.Cpu, IntraOpThreads = 1 }, backend.LastExecution);
    }

    [Fact]
    public void Bits_24_writes_24_bit_pcm()
    {
        var run = StudioHarness.Run(h.NewBackend(), "generate", "--class", "kick", "--seed", "2", "--bits", "24", "--out", h.P("o"));
        Assert.Equal(0, run.ExitCode);
        var (channels, format) = StudioHarness.ReadWav(h.P("o", "kick", "kick-2-0.wav"));
        Assert.Equal(WaveFormatEncoding.Pcm, format.Encoding);
        Assert.Equal(24, format.BitsPerSample);
        var expected = FakeOperations.Noise(2, 2048).Select(v => v * (100 / 127f)).ToArray();
        OneShotTail.Finish(expected, 16000);
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], channels[0][i], 1e-6f);
        Assert.Equal(2UL, StudioHarness.Metadata(h.P("o", "kick", "kick-2-0.wav")).GetProperty("seed").GetUInt64());
        Assert.EndsWith("--bits 24", WavMetadata.ReadComment(h.P("o", "kick", "kick-2-0.wav")));
    }

    [Fact]
    public void Without_a_seed_a_random_one_is_chosen_and_shows_in_names_and_metadata()
    {
        var run = StudioHarness.Run(h.NewBackend(), "generate", "--class", "ride", "--out", h.P("o"));
        Assert.Equal(0, run.ExitCode);
        string file = Assert.Single(h.Files());
        var parts = Path.GetFileNameWithoutExtension(file).Split('-');
        Assert.Equal(ulong.Parse(parts[1]), StudioHarness.Metadata(h.P(file)).GetProperty("seed").GetUInt64());
    }

    [Fact]
    public void Existing_files_are_kept_without_force_and_replaced_with_it()
    {
        string target = h.P("o", "kick", "kick-9-1.wav");
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        File.WriteAllText(target, "mine");

        var refused = StudioHarness.Run(h.NewBackend(), "generate", "--class", "kick", "--count", "2", "--seed", "9", "--out", h.P("o"));
        Assert.Equal(1, refused.ExitCode);
        var line = Assert.Single(refused.ErrorLines);
        Assert.Contains("kick-9-1.wav: already exists (use --force", line);
        Assert.Equal("mine", File.ReadAllText(target));
        Assert.False(File.Exists(h.P("o", "kick", "kick-9-0.wav")), "nothing is generated when any target is taken");

        var forced = StudioHarness.Run(h.NewBackend(), "generate", "--class", "kick", "--count", "2", "--seed", "9", "--out", h.P("o"), "--force");
        Assert.Equal(0, forced.ExitCode);
        Assert.Equal(2048, StudioHarness.ReadWav(target).channels[0].Length);
        h.AssertNoTemporaryFiles();
    }

    [Fact]
    public void An_unknown_class_exits_with_one_line_listing_the_model_classes()
    {
        var run = StudioHarness.Run(h.NewBackend(), "generate", "--class", "cowbell", "--out", h.P("o"));
        Assert.Equal(1, run.ExitCode);
        var line = Assert.Single(run.ErrorLines);
        Assert.Equal("diffusion-studio: error: --class: unknown class 'cowbell' (the model has: kick, snare, rim, clap, tom, hihat_closed, hihat_open, crash, ride, percussion, general)", line);
        Assert.Empty(h.Files());
    }

    [Fact]
    public void An_unwritable_output_folder_exits_with_one_line_and_writes_nothing()
    {
        File.WriteAllText(h.P("blocker"), "a file where a folder should be");
        var run = StudioHarness.Run(h.NewBackend(), "generate", "--class", "kick", "--seed", "1", "--out", h.P("blocker", "pack"));
        Assert.Equal(1, run.ExitCode);
        var line = Assert.Single(run.ErrorLines);
        Assert.Contains("cannot create the output folder", line);
        Assert.Contains(h.P("blocker"), line);
        Assert.Equal(["blocker"], h.Files());
    }

    [Fact]
    public void An_engine_failure_midway_keeps_the_finished_files_and_no_partial_one()
    {
        var backend = h.NewBackend(failOnCall: 1);
        var run = StudioHarness.Run(backend, "generate", "--class", "hihat_open", "--count", "6", "--batch", "2", "--seed", "1", "--out", h.P("o"));
        Assert.Equal(70, run.ExitCode);
        Assert.Contains("fake engine failure", Assert.Single(run.ErrorLines));
        Assert.Equal(["o/hihat_open/hihat_open-1-0.wav", "o/hihat_open/hihat_open-1-1.wav"], h.Files());
        h.AssertNoTemporaryFiles();
        Assert.True(backend.Operations!.Disposed);
    }

    [Fact]
    public void A_missing_model_exits_2_with_one_line_naming_the_manifest()
    {
        var run = StudioHarness.Run(h.NewBackend(missingModel: true), "generate", "--class", "kick", "--model", h.P("nowhere", "manifest.json"));
        Assert.Equal(2, run.ExitCode);
        Assert.Equal($"diffusion-studio: error: cannot load model: {h.P("nowhere", "manifest.json")}: manifest not found", Assert.Single(run.ErrorLines));
    }

    [Theory]
    [InlineData("--velocity", "0", "--velocity: 0 is outside 1..127")]
    [InlineData("--steps", "0", "--steps: 0 is outside 1..1000")]
    [InlineData("--sampler", "plms", "--sampler: unknown sampler 'plms'")]
    [InlineData("--device", "tpu", "--device: 'tpu' is not one of auto, cpu, cuda")]
    [InlineData("--bits", "16", "--bits: 16 is not 24 or 32")]
    [InlineData("--count", "0", "--count: 0 is outside 1..100000")]
    [InlineData("--guidance-max-sigma", "-1", "--guidance-max-sigma: -1 must be 0 (every step) or a positive noise level")]
    public void Out_of_range_options_exit_with_one_line_before_loading_the_model(string option, string value, string message)
    {
        var backend = h.NewBackend();
        var run = StudioHarness.Run(backend, "generate", "--class", "kick", option, value, "--out", h.P("o"));
        Assert.Equal(1, run.ExitCode);
        Assert.Contains(message, Assert.Single(run.ErrorLines));
        Assert.Equal(0, backend.Loads);
    }

    [Fact]
    public void A_misspelt_option_is_an_error_not_silently_ignored()
    {
        var run = StudioHarness.Run(h.NewBackend(), "generate", "--class", "kick", "--sed", "4", "--out", h.P("o"));
        Assert.NotEqual(0, run.ExitCode);
        Assert.Contains("Unknown option 'sed'", Assert.Single(run.ErrorLines));
        Assert.Empty(h.Files());
    }

    [Fact]
    public void Progress_bars_on_an_interactive_terminal_do_not_change_the_files()
    {
        var plain = StudioHarness.Run(h.NewBackend(), interactive: false, "generate", "--class", "crash", "--count", "2", "--seed", "6", "--out", h.P("plain"));
        var live = StudioHarness.Run(h.NewBackend(), interactive: true, "generate", "--class", "crash", "--count", "2", "--seed", "6", "--out", h.P("live"));
        Assert.Equal(0, plain.ExitCode);
        Assert.Equal(0, live.ExitCode);
        Assert.True(live.Out.Contains("100%"), live.Out);
        Assert.Equal(File.ReadAllBytes(h.P("plain", "crash", "crash-6-1.wav")), File.ReadAllBytes(h.P("live", "crash", "crash-6-1.wav")));
    }

    [Fact]
    public void Cancelling_midway_exits_130_and_leaves_only_finished_files()
    {
        using var cancel = new CancellationTokenSource();
        var backend = new FakeBackend { ManifestPath = h.ManifestPath, AfterCall = n => { if (n == 2) cancel.Cancel(); } };
        var run = StudioHarness.Run(backend, false, cancel.Token, "generate", "--class", "kick", "--count", "8", "--batch", "2", "--seed", "1", "--out", h.P("o"));
        Assert.Equal(130, run.ExitCode);
        Assert.Contains("cancelled", Assert.Single(run.ErrorLines));
        Assert.Equal(4, h.Files().Length);
        h.AssertNoTemporaryFiles();
    }

    [Fact]
    public void A_refused_run_creates_no_folders()
    {
        string taken = h.P("o", "tom", "tom-4-0.wav");
        Directory.CreateDirectory(Path.GetDirectoryName(taken)!);
        File.WriteAllText(taken, "mine");
        var run = StudioHarness.Run(h.NewBackend(), "generate", "--class", "all", "--seed", "4", "--out", h.P("o"));
        Assert.Equal(1, run.ExitCode);
        Assert.Equal(["tom"], Directory.GetDirectories(h.P("o")).Select(d => Path.GetFileName(d)!));
    }
}
