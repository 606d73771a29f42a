using System.Text.Json;
using DiffusionPlugin.Studio.Audio;
using NAudio.Midi;
using NAudio.Wave;
using Spectre.Console;

namespace DiffusionPlugin.Studio.Tests;

/// <summary>The result of one in-process run of diffusion-studio.</summary>
sealed record StudioRun(int ExitCode, string Out, string Error)
{
    public string[] ErrorLines => Error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
}

/// <summary>A scratch folder, a backend, and a way to run the CLI in-process against them.</summary>
sealed class StudioHarness : IDisposable
{
    public string Dir { get; } = Directory.CreateTempSubdirectory("studio-test-").FullName;
    public string ManifestPath { get; }

    public StudioHarness()
    {
        ManifestPath = Path.Combine(Dir, "model", "manifest.json");
        Directory.CreateDirectory(Path.GetDirectoryName(ManifestPath)!);
        File.WriteAllText(ManifestPath, """
            { "formatVersion": 1, "name": "fake-drums", "model": "model.onnx", "sampleRateHz": 16000, "clipSamples": 2048,
              "lengthMultiple": 256, "classes": ["kick","snare","rim","clap","tom","hihat_closed","hihat_open","crash","ride","percussion","general"],
              "parameterization": "edm",
              "defaults": { "sampler": "heun", "schedule": "karras", "steps": 5, "guidance": 2.0 },
              "training": { "data": "none: a test double" } }
            """);
    }

    public FakeBackend NewBackend(int failOnCall = -1, bool missingModel = false, FakeWidener? widener = null, FakeDrums? drums = null) =>
        new() { ManifestPath = ManifestPath, FailOnCall = failOnCall, MissingModel = missingModel,
                Widener = widener ?? new FakeWidener(), Drums = drums ?? new FakeDrums() };

    public string P(params string[] parts) => Path.Combine([Dir, .. parts]);

    public static StudioRun Run(Backend.IStudioBackend backend, params string[] args) => Run(backend, interactive: false, args);

    public static StudioRun Run(Backend.IStudioBackend backend, bool interactive, params string[] args) =>
        Run(backend, interactive, CancellationToken.None, args);

    public static StudioRun Run(Backend.IStudioBackend backend, bool interactive, CancellationToken cancellation, params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = interactive ? AnsiSupport.Yes : AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = interactive ? InteractionSupport.Yes : InteractionSupport.No,
            Out = new AnsiConsoleOutput(stdout),
        });
        console.Profile.Width = 200;
        int code = StudioApp.Run(args, new StudioContext(backend, console, stderr), cancellation);
        return new StudioRun(code, stdout.ToString(), stderr.ToString());
    }

    /// <summary>Every file under the scratch folder (temporary files included), relative, sorted.</summary>
    public string[] Files(string? under = null) =>
        Directory.GetFiles(under ?? Dir, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(Dir, f)).Where(f => !f.StartsWith("model" + Path.DirectorySeparatorChar))
            .Order(StringComparer.Ordinal).ToArray();

    public void AssertNoTemporaryFiles() =>
        Assert.DoesNotContain(Directory.GetFiles(Dir, "*", SearchOption.AllDirectories), f => f.EndsWith(".tmp") || Path.GetFileName(f).StartsWith(".diffusion-studio-probe"));

    /// <summary>Writes a WAV with NAudio's own writer (an independent encoder), interleaved samples.</summary>
    public string WriteWav(string name, int rateHz, int channels, float[] interleaved, int bits = 32)
    {
        string path = P(name);
        var format = bits == 32 ? WaveFormat.CreateIeeeFloatWaveFormat(rateHz, channels) : new WaveFormat(rateHz, bits, channels);
        using var w = new WaveFileWriter(path, format);
        if (bits == 8)
        {
            var bytes = interleaved.Select(v => (byte)Math.Clamp(Math.Round(v * 127 + 128), 0, 255)).ToArray();
            w.Write(bytes, 0, bytes.Length);
        }
        else w.WriteSamples(interleaved, 0, interleaved.Length);
        return path;
    }

    public static float[] Sine(double freqHz, int rateHz, int frames, float amplitude = 0.5f) =>
        Enumerable.Range(0, frames).Select(i => amplitude * (float)Math.Sin(2 * Math.PI * freqHz * i / rateHz)).ToArray();

    /// <summary>Reads a WAV with NAudio: (channels as arrays, rate, format).</summary>
    public static (float[][] channels, WaveFormat format) ReadWav(string path)
    {
        using var r = new WaveFileReader(path);
        var sp = r.ToSampleProvider();
        var all = new List<float>();
        var buf = new float[4096];
        int n;
        while ((n = sp.Read(buf, 0, buf.Length)) > 0) all.AddRange(buf.Take(n));
        int ch = r.WaveFormat.Channels;
        var result = Enumerable.Range(0, ch).Select(c => Enumerable.Range(0, all.Count / ch).Select(f => all[f * ch + c]).ToArray()).ToArray();
        return (result, r.WaveFormat);
    }

    public static JsonElement Metadata(string path) =>
        JsonDocument.Parse(WavMetadata.ReadStudioJson(path) ?? throw new Xunit.Sdk.XunitException($"{path} has no dfsn chunk")).RootElement;

    /// <summary>A type-1 MIDI file: (tick, note, velocity) note-ons with 10-tick note-offs, optional tempo changes at ticks.</summary>
    public string WriteMidi(string name, int ppq, (long tick, int microsPerQuarter)[] tempos, (long tick, int note, int velocity)[] notes, int channel = 10)
    {
        var events = new MidiEventCollection(1, ppq);
        events.AddTrack();
        foreach (var (tick, micros) in tempos) events[0].Add(new TempoEvent(micros, tick));
        events[0].Add(new MetaEvent(MetaEventType.EndTrack, 0, tempos.Length == 0 ? 0 : tempos.Max(t => t.tick)));
        events.AddTrack();
        long last = 0;
        foreach (var (tick, note, velocity) in notes)
        {
            events[1].Add(new NoteOnEvent(tick, channel, note, velocity, 10));
            events[1].Add(new NoteEvent(tick + 10, channel, MidiCommandCode.NoteOff, note, 0));
            last = Math.Max(last, tick + 10);
        }
        events[1].Add(new MetaEvent(MetaEventType.EndTrack, 0, last));
        events.PrepareForExport();
        string path = P(name);
        MidiFile.Export(path, events);
        return path;
    }

    public void Dispose()
    {
        try { Directory.Delete(Dir, recursive: true); } catch (IOException) { }
    }
}
