using DiffusionPlugin.Studio.Audio;
using DiffusionPlugin.Studio.Backend;

namespace DiffusionPlugin.Studio.Tests;

/// <summary>Finds the repository's models from the test binary's folder.</summary>
static class RepoModels
{
    public static string? Find(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, relative);
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }

    public const string AnalyticRelative = "models/test/analytic-gaussian/manifest.json";
    public const string ShippedRelative = "models/drums/manifest.json";

    /// <summary>The shipped model, only when both its manifest and its ONNX graph are present.</summary>
    public static string? Shipped()
    {
        var manifest = Find(ShippedRelative);
        if (manifest is null) return null;
        var info = ManifestInfo.Read(manifest);
        return info.ModelFile is { } f && File.Exists(Path.Combine(Path.GetDirectoryName(manifest)!, f)) ? manifest : null;
    }
}

/// <summary>A fact that needs the closed-form test model (models/test/analytic-gaussian); skipped with the reason when it is absent.</summary>
public sealed class AnalyticModelFactAttribute : FactAttribute
{
    public AnalyticModelFactAttribute()
    {
        if (RepoModels.Find(RepoModels.AnalyticRelative) is null)
            Skip = $"{RepoModels.AnalyticRelative} is not in this checkout (the engine's closed-form test model)";
    }
}

/// <summary>A fact that needs the shipped model (models/drums with its .onnx); skipped with the reason when it is absent.</summary>
public sealed class ShippedModelFactAttribute : FactAttribute
{
    public ShippedModelFactAttribute()
    {
        if (RepoModels.Shipped() is null)
            Skip = $"{RepoModels.ShippedRelative} (or its .onnx) is not in this checkout yet: the trained model ships from onnx-export";
    }
}

/// <summary>The CLI end to end over the real engine (ONNX Runtime on the CPU): the closed-form test model, then the shipped one.</summary>
public sealed class RealEngineTests : IDisposable
{
    readonly StudioHarness h = new();
    public void Dispose() => h.Dispose();

    static string Analytic => RepoModels.Find(RepoModels.AnalyticRelative)!;
    static StudioRun Cli(params string[] args) => StudioHarness.Run(new EngineBackend(), args);

    [AnalyticModelFact]
    public void Generate_on_the_test_model_draws_from_its_gaussian_and_is_reproducible()
    {
        // --max-peak 0: the Gaussian's own level (its samples reach ±2; a drum hit's peak limit would scale them).
        string[] args = ["generate", "--class", "gaussian", "--count", "2", "--seed", "3", "--steps", "8", "--device", "cpu", "--model", Analytic, "--max-peak", "0"];
        var first = Cli([.. args, "--out", h.P("a")]);
        var second = Cli([.. args, "--out", h.P("b")]);

        Assert.True(first.ExitCode == 0, first.Error);
        Assert.Equal(0, second.ExitCode);
        var (channels, format) = StudioHarness.ReadWav(h.P("a", "gaussian", "gaussian-3-1.wav"));
        Assert.Equal(44100, format.SampleRate);
        var x = channels[0];
        Assert.Equal(4096, x.Length);
        double mean = x.Average(), std = Math.Sqrt(x.Average(v => (v - mean) * (v - mean)));
        Assert.InRange(mean, 0.1 - 0.05, 0.1 + 0.05);   // μ = 0.1; standard error 0.5/√4096 ≈ 0.008
        Assert.InRange(std, 0.4, 0.6);                   // σ_data = 0.5
        Assert.Equal(File.ReadAllBytes(h.P("a", "gaussian", "gaussian-3-1.wav")), File.ReadAllBytes(h.P("b", "gaussian", "gaussian-3-1.wav")));
        Assert.NotEqual(x, StudioHarness.ReadWav(h.P("a", "gaussian", "gaussian-3-0.wav")).channels[0]);
    }

    [AnalyticModelFact]
    public void Generate_limits_a_hits_peak_to_the_loudest_recorded_level_unless_told_otherwise()
    {
        string[] args = ["generate", "--class", "gaussian", "--count", "1", "--seed", "3", "--steps", "8", "--device", "cpu", "--model", Analytic];
        Assert.Equal(0, Cli([.. args, "--out", h.P("limited")]).ExitCode);
        Assert.Equal(0, Cli([.. args, "--out", h.P("raw"), "--max-peak", "0"]).ExitCode);
        var limited = StudioHarness.ReadWav(h.P("limited", "gaussian", "gaussian-3-0.wav")).channels[0];
        var raw = StudioHarness.ReadWav(h.P("raw", "gaussian", "gaussian-3-0.wav")).channels[0];
        Assert.True(raw.Max(MathF.Abs) > 1.2f, $"the test model's own peak {raw.Max(MathF.Abs)}");
        Assert.Equal(0.95f, limited.Max(MathF.Abs), 1e-4f);
        float gain = 0.95f / raw.Max(MathF.Abs);
        Assert.Equal(raw[100] * gain, limited[100], 1e-5f);   // one gain for the whole hit
        Assert.Contains("--max-peak 0", WavMetadata.ReadComment(h.P("raw", "gaussian", "gaussian-3-0.wav")));
    }

    [AnalyticModelFact]
    public void Vary_at_strength_zero_on_the_real_engine_returns_the_input()
    {
        var input = StudioHarness.Sine(220, 44100, 3000);
        string path = h.WriteWav("tone.wav", 44100, 1, input);
        var run = Cli("vary", path, "--strength", "0", "--seed", "1", "--steps", "4", "--device", "cpu", "--model", Analytic);
        Assert.True(run.ExitCode == 0, run.Error);
        var output = StudioHarness.ReadWav(h.P("tone-vary-1-0.wav")).channels[0];
        Assert.Equal(3000, output.Length);
        for (int i = 0; i < input.Length; i++) Assert.Equal(input[i], output[i], 1e-5f);
    }

    [AnalyticModelFact]
    public void Inpaint_on_the_real_engine_keeps_the_audio_outside_the_span()
    {
        var input = StudioHarness.Sine(220, 44100, 4410);
        string path = h.WriteWav("tone.wav", 44100, 1, input);
        var run = Cli("inpaint", path, "--from", "0.04", "--to", "0.06", "--seed", "2", "--steps", "4", "--device", "cpu", "--model", Analytic);
        Assert.True(run.ExitCode == 0, run.Error);
        var output = StudioHarness.ReadWav(h.P("tone-inpaint-2-0.wav")).channels[0];
        // Keep well clear of the borders, where the engine crossfades.
        for (int i = 0; i < 1000; i++) Assert.Equal(input[i], output[i]);
        for (int i = 3500; i < 4410; i++) Assert.Equal(input[i], output[i]);
        Assert.NotEqual(input[1764..2646], output[1764..2646]);
    }

    [AnalyticModelFact]
    public void Interpolate_on_the_real_engine_starts_at_seed_a_and_ends_at_seed_b()
    {
        string[] common = ["--steps", "4", "--device", "cpu", "--model", Analytic];
        Assert.Equal(0, Cli(["generate", "--class", "gaussian", "--seed", "1", .. common, "--out", h.P("a")]).ExitCode);
        Assert.Equal(0, Cli(["generate", "--class", "gaussian", "--seed", "2", .. common, "--out", h.P("b")]).ExitCode);
        var run = Cli(["interpolate", "--class", "gaussian", "--seed-a", "1", "--seed-b", "2", "--count", "3", .. common, "--out", h.P("i")]);
        Assert.True(run.ExitCode == 0, run.Error);

        var a = StudioHarness.ReadWav(h.P("a", "gaussian", "gaussian-1-0.wav")).channels[0];
        var b = StudioHarness.ReadWav(h.P("b", "gaussian", "gaussian-2-0.wav")).channels[0];
        var first = StudioHarness.ReadWav(h.P("i", "gaussian", "gaussian-1-2-interp-0.wav")).channels[0];
        var middle = StudioHarness.ReadWav(h.P("i", "gaussian", "gaussian-1-2-interp-1.wav")).channels[0];
        var last = StudioHarness.ReadWav(h.P("i", "gaussian", "gaussian-1-2-interp-2.wav")).channels[0];
        for (int t = 0; t < a.Length; t++) { Assert.Equal(a[t], first[t], 1e-4f); Assert.Equal(b[t], last[t], 1e-4f); }
        Assert.NotEqual(a, middle);
        Assert.NotEqual(b, middle);
    }

    [AnalyticModelFact]
    public void Extend_and_transfer_on_the_real_engine_keep_the_length_and_write_finite_audio()
    {
        var tone = StudioHarness.Sine(200, 22050, 2205);
        string path = h.WriteWav("low.wav", 22050, 1, tone);
        string[] common = ["--seed", "4", "--steps", "4", "--device", "cpu", "--model", Analytic];
        var extend = Cli(["extend", path, .. common]);
        var transfer = Cli(["transfer", path, "--to", "gaussian", "--strength", "0.5", .. common]);

        Assert.True(extend.ExitCode == 0, extend.Error);
        Assert.True(transfer.ExitCode == 0, transfer.Error);
        foreach (var name in new[] { "low-extend-4-0.wav", "low-to-gaussian-4-0.wav" })
        {
            var (ch, format) = StudioHarness.ReadWav(h.P(name));
            Assert.Equal(44100, format.SampleRate);
            Assert.Equal(4410, ch[0].Length);
            Assert.All(ch[0], v => Assert.True(float.IsFinite(v)));
        }
        // Below the cutoff (11025 Hz: the input's Nyquist) the 200 Hz tone survives: strong correlation with the input.
        var extended = StudioHarness.ReadWav(h.P("low-extend-4-0.wav")).channels[0];
        var reference = StudioHarness.Sine(200, 44100, 4410);
        double dot = 0, ea = 0, eb = 0;
        for (int t = 0; t < 4410; t++) { dot += extended[t] * reference[t]; ea += extended[t] * extended[t]; eb += reference[t] * reference[t]; }
        Assert.True(dot / Math.Sqrt(ea * eb) > 0.5, $"correlation {dot / Math.Sqrt(ea * eb)}");
    }

    [AnalyticModelFact]
    public void Info_names_the_test_model_and_the_cpu_provider_with_its_reason()
    {
        var run = Cli("info", "--device", "cpu", "--model", Analytic);
        Assert.True(run.ExitCode == 0, run.Error);
        Assert.Contains("analytic-gaussian", run.Out);
        Assert.Contains("44100 Hz", run.Out);
        Assert.Contains("gaussian", run.Out);
        Assert.Contains("CPU", run.Out);
    }

    [AnalyticModelFact]
    public void Info_names_a_models_autoguidance_guide_weight_and_noise_levels()
    {
        var guided = Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(Analytic)!)!, "analytic-gaussian-autoguided", "manifest.json");
        var run = Cli("info", "--device", "cpu", "--model", guided);
        Assert.True(run.ExitCode == 0, run.Error);
        Assert.Contains("autoguidance", run.Out);
        Assert.Contains("weight 2 above σ 1, guide guide.onnx", run.Out);
        Assert.DoesNotContain("autoguidance", Cli("info", "--device", "cpu", "--model", Analytic).Out);
    }

    [AnalyticModelFact]
    public void A_model_path_that_does_not_exist_exits_2_with_one_line_naming_it()
    {
        var run = Cli("generate", "--class", "kick", "--model", h.P("missing"), "--device", "cpu", "--out", h.P("o"));
        Assert.Equal(2, run.ExitCode);
        var line = Assert.Single(run.ErrorLines);
        Assert.StartsWith("diffusion-studio: error: cannot load model: ", line);
        Assert.Contains(h.P("missing"), line);
    }

    [AnalyticModelFact]
    public void A_corrupt_model_file_exits_2_with_one_line()
    {
        string dir = h.P("broken");
        Directory.CreateDirectory(dir);
        File.Copy(Analytic, Path.Combine(dir, "manifest.json"));
        File.WriteAllText(Path.Combine(dir, "model.onnx"), "not an onnx graph");
        var run = Cli("generate", "--class", "gaussian", "--model", dir, "--device", "cpu", "--out", h.P("o"));
        Assert.Equal(2, run.ExitCode);
        Assert.StartsWith("diffusion-studio: error: cannot load model: ", Assert.Single(run.ErrorLines));
        Assert.False(Directory.Exists(h.P("o")));
    }

    [AnalyticModelFact]
    public void Render_without_guidance_uses_the_guidance_the_models_manifest_was_tuned_for()
    {
        string dir = h.P("tuned");
        Directory.CreateDirectory(dir);
        foreach (var f in Directory.GetFiles(Path.GetDirectoryName(Analytic)!)) File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
        var node = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Analytic))!.AsObject();
        node["defaults"]!["guidance"] = 3.0;
        File.WriteAllText(Path.Combine(dir, "manifest.json"), node.ToJsonString());
        string mid = h.WriteMidi("g.mid", 480, [(0, 500_000)], [(0, 36, 120)]);
        string[] common = ["--steps", "2", "--tail", "0.1", "--device", "cpu", "--model", dir];
        Assert.Equal(0, Cli(["render", mid, h.P("tuned.wav"), .. common]).ExitCode);
        Assert.Equal(3.0, StudioHarness.Metadata(h.P("tuned.wav")).GetProperty("guidance").GetDouble());
        Assert.Equal(0, Cli(["render", mid, h.P("told.wav"), "--guidance", "1.5", .. common]).ExitCode);
        Assert.Equal(1.5, StudioHarness.Metadata(h.P("told.wav")).GetProperty("guidance").GetDouble());
    }

    [AnalyticModelFact]
    public void Render_through_the_real_drum_engine_offline_is_deterministic_and_follows_the_kit_seed()
    {
        string mid = h.WriteMidi("g.mid", 480, [(0, 500_000)], [(0, 36, 120), (240, 42, 90), (480, 38, 110), (720, 42, 80)]);
        string[] common = ["--humanize", "0.3", "--steps", "2", "--tail", "0.2", "--device", "cpu", "--model", Analytic];
        var a = Cli(["render", mid, h.P("a.wav"), "--kit-seed", "4", .. common]);
        var b = Cli(["render", mid, h.P("b.wav"), "--kit-seed", "4", "--block", "97", .. common]);
        var c = Cli(["render", mid, h.P("c.wav"), "--kit-seed", "5", .. common]);

        Assert.True(a.ExitCode == 0, a.Error);
        Assert.True(b.ExitCode == 0, b.Error);
        Assert.True(c.ExitCode == 0, c.Error);
        var audioA = StudioHarness.ReadWav(h.P("a.wav")).channels;
        Assert.Equal(audioA, StudioHarness.ReadWav(h.P("b.wav")).channels);
        Assert.NotEqual(audioA, StudioHarness.ReadWav(h.P("c.wav")).channels);
        Assert.Contains(audioA[0], v => Math.Abs(v) > 1e-3);
    }

    [AnalyticModelFact]
    public void Widen_through_the_real_widener_keeps_the_mono_sum_and_adds_a_side()
    {
        var input = StudioHarness.Sine(330, 44100, 44100 / 2, 0.3f);
        string path = h.WriteWav("m.wav", 44100, 1, input);
        var run = Cli("widen", path, h.P("w.wav"), "--width", "1", "--device", "cpu", "--model", Analytic);
        Assert.True(run.ExitCode == 0, run.Error);
        var (ch, format) = StudioHarness.ReadWav(h.P("w.wav"));
        Assert.Equal(2, ch.Length);
        Assert.Equal(input.Length, ch[0].Length);
        double sideEnergy = 0, midError = 0;
        for (int i = 0; i < input.Length; i++)
        {
            midError = Math.Max(midError, Math.Abs((ch[0][i] + ch[1][i]) / 2 - input[i]));
            sideEnergy += (ch[0][i] - ch[1][i]) * (ch[0][i] - ch[1][i]);
        }
        Assert.True(midError < 1e-4, $"mono sum differs from the input by up to {midError}");
        Assert.True(sideEnergy > 0, "no side signal: nothing was widened");
    }

    [ShippedModelFact]
    public void Generate_on_the_shipped_model_writes_a_short_pack_for_two_classes()
    {
        string model = RepoModels.Shipped()!;
        foreach (var cls in new[] { "kick", "snare" })
        {
            var run = Cli("generate", "--class", cls, "--count", "2", "--seed", "1", "--steps", "4", "--device", "cpu", "--model", model, "--out", h.P("pack"));
            Assert.True(run.ExitCode == 0, run.Error);
        }
        var manifest = ManifestInfo.Read(model);
        foreach (var file in h.Files(h.P("pack")))
        {
            var (ch, format) = StudioHarness.ReadWav(h.P(file));
            Assert.Equal(manifest.SampleRateHz, format.SampleRate);
            Assert.All(ch[0], v => Assert.True(float.IsFinite(v)));
            Assert.True(ch[0].Max(Math.Abs) > 1e-3, $"{file} is silent");
        }
        Assert.Equal(4, h.Files().Length);

        // The file's own reproduce line (one item, so a batch of one) gives the same hit as the batched pack, to the
        // rounding of ONNX Runtime's CPU kernels, whose sums run in a batch-dependent order (measured: ≤ 4e-7).
        var again = Cli("generate", "--class", "snare", "--first-index", "1", "--count", "1", "--seed", "1", "--steps", "4", "--device", "cpu", "--model", model, "--out", h.P("again"));
        Assert.True(again.ExitCode == 0, again.Error);
        var packed = StudioHarness.ReadWav(h.P("pack", "snare", "snare-1-1.wav")).channels[0];
        var alone = StudioHarness.ReadWav(h.P("again", "snare", "snare-1-1.wav")).channels[0];
        Assert.Equal(packed.Length, alone.Length);
        for (int t = 0; t < packed.Length; t++) Assert.Equal(packed[t], alone[t], 1e-5f);
        // The same command twice is bit-exact.
        var twice = Cli("generate", "--class", "snare", "--first-index", "1", "--count", "1", "--seed", "1", "--steps", "4", "--device", "cpu", "--model", model, "--out", h.P("twice"));
        Assert.True(twice.ExitCode == 0, twice.Error);
        Assert.Equal(File.ReadAllBytes(h.P("again", "snare", "snare-1-1.wav")), File.ReadAllBytes(h.P("twice", "snare", "snare-1-1.wav")));
    }

    [ShippedModelFact]
    public void Info_names_the_shipped_models_calibration_and_the_drum_classes_it_covers()
    {
        var run = Cli("info", "--device", "cpu", "--model", RepoModels.Shipped()!);
        Assert.True(run.ExitCode == 0, run.Error);
        var line = Assert.Single(run.Out.Split('\n'), l => l.StartsWith("calibration"));
        Assert.Contains("calibration.json: per-class EQ for kick, snare, rim", line);
        Assert.DoesNotContain("general", line);
        Assert.DoesNotContain("calibration", Cli("info", "--device", "cpu", "--model", Analytic).Out);
    }

    [ShippedModelFact]
    public void The_studio_reads_the_shipped_manifest_as_the_engine_loads_it()
    {
        string model = RepoModels.Shipped()!;
        var engine = DiffusionPlugin.Engine.Diffusion.ModelManifest.Load(model);
        var lenient = ManifestInfo.Read(model);
        Assert.Equal(ManifestInfo.From(engine) with { Classes = lenient.Classes }, lenient);
        Assert.Equal(engine.Classes, lenient.Classes);
        Assert.Equal(0.3f, lenient.Defaults.GuidanceMaxSigma);   // the shipped model guides only at sigma <= 0.3 (autoguidance above)
    }

    [ShippedModelFact]
    public void Render_on_the_shipped_model_is_deterministic()
    {
        string model = RepoModels.Shipped()!;
        string mid = h.WriteMidi("g.mid", 480, [(0, 500_000)], [(0, 36, 120), (240, 42, 90), (480, 38, 110)]);
        string[] common = ["--kit-seed", "2", "--humanize", "0.3", "--steps", "4", "--tail", "0.3", "--device", "cpu", "--model", model];
        var a = Cli(["render", mid, h.P("a.wav"), .. common]);
        var b = Cli(["render", mid, h.P("b.wav"), .. common]);
        Assert.True(a.ExitCode == 0, a.Error);
        Assert.True(b.ExitCode == 0, b.Error);
        Assert.Equal(StudioHarness.ReadWav(h.P("a.wav")).channels, StudioHarness.ReadWav(h.P("b.wav")).channels);
    }

    [ShippedModelFact]
    public void Transfer_on_the_shipped_model_turns_a_generated_kick_into_a_snare_file()
    {
        string model = RepoModels.Shipped()!;
        Assert.Equal(0, Cli("generate", "--class", "kick", "--seed", "9", "--steps", "4", "--device", "cpu", "--model", model, "--out", h.P("src")).ExitCode);
        string kick = h.P("src", "kick", "kick-9-0.wav");
        var run = Cli("transfer", kick, "--to", "snare", "--strength", "0.6", "--seed", "1", "--steps", "4", "--device", "cpu", "--model", model, "--out", h.P("t"));
        Assert.True(run.ExitCode == 0, run.Error);
        Assert.True(File.Exists(h.P("t", "kick-9-0-to-snare-1-0.wav")));
    }
}
