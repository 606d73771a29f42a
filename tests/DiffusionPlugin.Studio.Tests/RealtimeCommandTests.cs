using DiffusionPlugin.Engine.Realtime;
using DiffusionPlugin.Studio.Audio;

namespace DiffusionPlugin.Studio.Tests;

public sealed class RealtimeCommandTests : IDisposable
{
    readonly StudioHarness h = new();
    public void Dispose() => h.Dispose();

    [Fact]
    public void Widen_removes_the_engine_latency_so_the_mono_sum_lines_up_with_the_input()
    {
        var input = FakeOperations.Noise(4, 5000);
        string path = h.WriteWav("mono44.wav", 44100, 1, input);
        var widener = new FakeWidener { Latency = 300 };
        var run = StudioHarness.Run(h.NewBackend(widener: widener), "widen", path, h.P("wide.wav"), "--width", "1.5", "--block", "256");

        Assert.Equal(0, run.ExitCode);
        Assert.True(widener.ActivatedOffline);
        Assert.Equal(44100, widener.ActivatedRateHz);
        Assert.Equal(1.5f, widener.Width);
        var (channels, format) = StudioHarness.ReadWav(h.P("wide.wav"));
        Assert.Equal(2, channels.Length);
        Assert.Equal(44100, format.SampleRate);
        Assert.Equal(5000, channels[0].Length);
        for (int i = 0; i < 5000; i++) Assert.Equal(input[i], (channels[0][i] + channels[1][i]) / 2, 1e-6f);
        Assert.NotEqual(channels[0], channels[1]);
        Assert.Equal(300, StudioHarness.Metadata(h.P("wide.wav")).GetProperty("latencySamples").GetInt32());
    }

    [Fact]
    public void Widen_hands_stereo_input_to_the_engine_as_two_channels()
    {
        int frames = 2000;
        var l = FakeOperations.Noise(1, frames); var r = FakeOperations.Noise(2, frames);
        var interleaved = new float[frames * 2];
        for (int i = 0; i < frames; i++) { interleaved[2 * i] = l[i]; interleaved[2 * i + 1] = r[i]; }
        string path = h.WriteWav("st.wav", 48000, 2, interleaved);

        var run = StudioHarness.Run(h.NewBackend(), "widen", path, h.P("w.wav"), "--width", "0");

        Assert.Equal(0, run.ExitCode);
        var (channels, _) = StudioHarness.ReadWav(h.P("w.wav"));
        // Width 0 on the double keeps only the mid of the two channels: proof both reached the engine.
        for (int i = 0; i < frames; i++) Assert.Equal((l[i] + r[i]) / 2, channels[0][i], 1e-6f);
    }

    [Theory]
    [InlineData("--width", "2.5", "--width: 2.5 is outside 0..2")]
    [InlineData("--mix", "-1", "--mix: -1 is outside 0..1")]
    [InlineData("--block", "0", "--block: 0 is outside 1..8192")]
    public void Widen_options_out_of_range_exit_with_one_line(string option, string value, string message)
    {
        string path = h.WriteWav("in.wav", 44100, 1, FakeOperations.Noise(1, 100));
        var run = StudioHarness.Run(h.NewBackend(), "widen", path, h.P("o.wav"), option, value);
        Assert.Equal(1, run.ExitCode);
        Assert.Contains(message, Assert.Single(run.ErrorLines));
        Assert.False(File.Exists(h.P("o.wav")));
    }

    [Fact]
    public void Widen_does_not_overwrite_the_output_without_force()
    {
        string path = h.WriteWav("in.wav", 44100, 1, FakeOperations.Noise(1, 100));
        File.WriteAllText(h.P("o.wav"), "keep");
        var run = StudioHarness.Run(h.NewBackend(), "widen", path, h.P("o.wav"));
        Assert.Equal(1, run.ExitCode);
        Assert.Equal("keep", File.ReadAllText(h.P("o.wav")));
        Assert.Equal(0, StudioHarness.Run(h.NewBackend(), "widen", path, h.P("o.wav"), "--force").ExitCode);
        Assert.Equal(100, StudioHarness.ReadWav(h.P("o.wav")).channels[0].Length);
    }

    [Fact]
    public void Widen_refuses_to_run_on_the_fallback_unless_allowed()
    {
        string path = h.WriteWav("in.wav", 44100, 1, FakeOperations.Noise(1, 100));
        var refused = StudioHarness.Run(h.NewBackend(widener: new FakeWidener { StatusAfterActivate = ModelStatus.Fallback }), "widen", path, h.P("o.wav"));
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("cannot load model: models/x/manifest.json: manifest not found", Assert.Single(refused.ErrorLines));
        Assert.False(File.Exists(h.P("o.wav")));

        var allowed = StudioHarness.Run(h.NewBackend(widener: new FakeWidener { StatusAfterActivate = ModelStatus.Fallback }), "widen", path, h.P("o.wav"), "--allow-fallback");
        Assert.Equal(0, allowed.ExitCode);
        Assert.Contains("warning: no model", Assert.Single(allowed.ErrorLines));
    }

    [Fact]
    public void Render_plays_every_note_at_its_time_under_the_tempo_map_with_latency_removed()
    {
        // 480 ticks per quarter; 120 BPM until tick 960 (1 s), then 60 BPM.
        string mid = h.WriteMidi("groove.mid", 480, [(0, 500_000), (960, 1_000_000)],
            [(0, 36, 127), (480, 38, 64), (960, 42, 100), (1440, 36, 32)]);
        var drums = new FakeDrums { Latency = 77 };
        var run = StudioHarness.Run(h.NewBackend(drums: drums), "render", mid, h.P("out.wav"), "--kit-seed", "5", "--humanize", "0.25", "--tail", "0.5", "--block", "100");

        Assert.Equal(0, run.ExitCode);
        Assert.True(drums.ActivatedOffline);
        Assert.Equal(16000, drums.ActivatedRateHz);
        Assert.Equal(5UL, drums.KitSeed);
        Assert.Equal(0.25f, drums.Humanize);
        Assert.Equal([(0L, 36), (8000L, 38), (16000L, 42), (32000L, 36)], drums.Played.Select(p => (p.frame, p.note)));
        var (channels, format) = StudioHarness.ReadWav(h.P("out.wav"));
        Assert.Equal(16000, format.SampleRate);
        // Up to the last event (the final note-off, 10 ticks = 333 frames at 60 BPM after the last hit) plus the 0.5 s tail.
        Assert.Equal(32000 + 333 + 1 + 8000, channels[0].Length);
        var hits = Enumerable.Range(0, channels[0].Length).Where(i => channels[0][i] != 0).ToArray();
        Assert.Equal([0, 8000, 16000, 32000], hits);
        Assert.Equal(64 / 127f, channels[0][8000], 1e-6f);
        var meta = StudioHarness.Metadata(h.P("out.wav"));
        Assert.Equal(5UL, meta.GetProperty("kitSeed").GetUInt64());
        Assert.Equal(4, meta.GetProperty("notes").GetInt32());
    }

    [Fact]
    public void Render_refuses_a_file_that_is_not_midi_with_one_line()
    {
        File.WriteAllText(h.P("groove.mid"), "MThd? no");
        var run = StudioHarness.Run(h.NewBackend(), "render", h.P("groove.mid"), h.P("out.wav"));
        Assert.Equal(1, run.ExitCode);
        Assert.StartsWith($"diffusion-studio: error: {h.P("groove.mid")}: not a standard MIDI file", Assert.Single(run.ErrorLines));
        Assert.False(File.Exists(h.P("out.wav")));
    }

    [Fact]
    public void Render_refuses_a_groove_without_notes()
    {
        string mid = h.WriteMidi("empty.mid", 480, [(0, 500_000)], []);
        var run = StudioHarness.Run(h.NewBackend(), "render", mid, h.P("out.wav"));
        Assert.Equal(1, run.ExitCode);
        Assert.Equal($"diffusion-studio: error: {mid}: has no notes to play", Assert.Single(run.ErrorLines));
    }

    [Fact]
    public void Render_exits_2_when_the_engine_has_no_model()
    {
        string mid = h.WriteMidi("g.mid", 480, [], [(0, 36, 100)]);
        var run = StudioHarness.Run(h.NewBackend(drums: new FakeDrums { StatusAfterActivate = ModelStatus.Fallback }), "render", mid, h.P("out.wav"));
        Assert.Equal(2, run.ExitCode);
        Assert.Contains("model.onnx: corrupt", Assert.Single(run.ErrorLines));
        Assert.False(File.Exists(h.P("out.wav")));
    }

    [Fact]
    public void Info_shows_model_manifest_provider_and_why_rate_and_classes()
    {
        var run = StudioHarness.Run(h.NewBackend(), "info", "--device", "cpu");
        Assert.Equal(0, run.ExitCode);
        Assert.Contains("fake-drums", run.Out);
        Assert.Contains(h.ManifestPath, run.Out);
        Assert.Contains("CPU", run.Out);
        Assert.Contains("CUDA was not asked for", run.Out);
        Assert.Contains("16000 Hz", run.Out);
        Assert.Contains("kick, snare, rim, clap, tom, hihat_closed, hihat_open, crash, ride, percussion, general", run.Out);
        Assert.Contains("heun, karras schedule, 5 steps, guidance 2", run.Out);
    }

    [Fact]
    public void Info_with_a_missing_model_exits_2_with_one_line()
    {
        var run = StudioHarness.Run(h.NewBackend(missingModel: true), "info");
        Assert.Equal(2, run.ExitCode);
        Assert.Single(run.ErrorLines);
    }

    [Fact]
    public void Wav_writer_round_trips_odd_lengths_and_metadata_through_naudio()
    {
        string path = h.P("odd.wav");
        var samples = new float[] { 0.5f, -0.25f, 1f };
        WavWriter.Write(path, samples, 1, 22050, WavSampleFormat.Pcm24, "odd comment", "{\"seed\":3}");
        var (channels, format) = StudioHarness.ReadWav(path);
        Assert.Equal(22050, format.SampleRate);
        Assert.Equal(samples, channels[0].Select(v => MathF.Round(v * 4) / 4).ToArray());
        Assert.Equal("odd comment", WavMetadata.ReadComment(path));
        Assert.Equal("{\"seed\":3}", WavMetadata.ReadStudioJson(path));
    }
}
