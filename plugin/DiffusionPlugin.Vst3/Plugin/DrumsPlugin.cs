using System.Buffers.Binary;
using DiffusionPlugin.Engine.Realtime;

namespace DiffusionPlugin.Vst3.Plugin;

/// <summary>Diffusion Drums: MIDI notes in (one event bus), stereo out; every hit a fresh, humanized variation.</summary>
internal sealed class DrumsPlugin : AudioPlugin
{
    public const uint KitSeedId = 0, HumanizeId = 1, StepsId = 2, GuidanceId = 3, OutputGainId = 4;
    public const uint ClassLevelBaseId = 10, StatusId = 100, FreshRatioId = 101;

    /// <summary>The model contract's drum classes, in class-id order (docs/model-contract.md).</summary>
    public static readonly string[] ClassNames =
        ["kick", "snare", "rim", "clap", "tom", "hihat_closed", "hihat_open", "crash", "ride", "percussion", "general"];

    private static readonly string[] StatusLabels = ["Loading", "CPU", "CUDA", "Fallback"];
    private static readonly IReadOnlyList<BusSpec> Outputs = [new("Stereo Out", 2)];
    private static readonly IReadOnlyList<BusSpec> Events = [new("MIDI In", 1)];

    private IDrumInstrument? _engine;
    private int _appliedVersion = -1;
    private ulong _appliedKitSeed = ulong.MaxValue;
    private float[] _scratch = [];

    public DrumsPlugin(PluginEnvironment environment) : base(environment, PluginClasses.Drums, CreateParameters()) { }

    private static IEnumerable<Parameter> CreateParameters()
    {
        yield return new Parameter(KitSeedId, "Kit Seed", "Seed", "", 0, 9999, 1, 9999);
        yield return new Parameter(HumanizeId, "Humanize", "Human", "", 0, 1, 0.35);
        yield return new Parameter(StepsId, "Quality (steps)", "Steps", "", 2, 50, 8, 48);
        yield return new Parameter(GuidanceId, "Guidance", "CFG", "", 1, 8, 2);
        yield return new Parameter(OutputGainId, "Output Gain", "Gain", "dB", -24, 12, 0) { Decimals = 1 };
        for (int i = 0; i < ClassNames.Length; i++)
            yield return new Parameter(ClassLevelBaseId + (uint)i, $"Level {ClassNames[i]}", ClassNames[i], "", 0, 2, 1);
        yield return new Parameter(StatusId, "Engine Status", "Status", "", 0, 3, 0, 3) { ReadOnly = true, Labels = StatusLabels };
        yield return new Parameter(FreshRatioId, "Fresh Hit Ratio", "Fresh", "%", 0, 100, 100) { ReadOnly = true, Decimals = 0 };
    }

    public override IReadOnlyList<BusSpec> AudioInputs => Array.Empty<BusSpec>();
    public override IReadOnlyList<BusSpec> AudioOutputs => Outputs;
    public override IReadOnlyList<BusSpec> EventInputs => Events;

    public override bool TrySetChannelCounts(ReadOnlySpan<int> inputs, ReadOnlySpan<int> outputs)
        => inputs.Length == 0 && outputs.Length == 1 && outputs[0] == 2;

    public override int LatencySamples => EngineRunning ? _engine?.LatencySamples ?? 0 : 0;

    /// <summary>The exact kit seed (the parameter shows it; state stores it).</summary>
    public ulong KitSeed => (ulong)Parameters.Find(KitSeedId)!.Plain;

    /// <summary>The engine (tests and status); null before initialize.</summary>
    internal IDrumInstrument? Engine => _engine;

    protected override void OnInitialize()
    {
        _engine = EngineFactory.CreateDrums(new EngineOptions { ManifestPath = Environment.DrumManifestPath });
        PluginLog.Info($"Diffusion Drums: engine {_engine.Status}: {_engine.StatusMessage}");
    }

    protected override void OnTerminate()
    {
        _engine?.Dispose();
        _engine = null;
    }

    protected override void OnActivate()
    {
        _scratch = new float[MaxBlockFrames];
        _appliedVersion = -1;
        ApplyParameters();
        _engine?.Activate(SampleRateHz, MaxBlockFrames, Offline);
        PluginLog.Info($"Diffusion Drums: active (thread {System.Environment.CurrentManagedThreadId}) at {SampleRateHz} Hz, {MaxBlockFrames} frames, offline={Offline}; " +
                       $"{_engine?.Status}: {_engine?.StatusMessage}");
    }

    protected override void OnDeactivate() => _engine?.Deactivate();

    protected override void SetRenderingOffline(bool offline) => _engine?.SetRenderingOffline(offline);

    protected override void ApplyParameters()
    {
        var engine = _engine;
        int version = Parameters.Version;
        if (engine == null || version == _appliedVersion) return;
        _appliedVersion = version;
        ulong seed = KitSeed;
        if (seed != _appliedKitSeed) { engine.KitSeed = seed; _appliedKitSeed = seed; }
        engine.Humanize = (float)Parameters.Find(HumanizeId)!.Plain;
        engine.Steps = (int)Parameters.Find(StepsId)!.Plain;
        engine.Guidance = (float)Parameters.Find(GuidanceId)!.Plain;
        engine.OutputGainDb = (float)Parameters.Find(OutputGainId)!.Plain;
        for (int i = 0; i < ClassNames.Length; i++)
            engine.SetClassLevel(i, (float)Parameters.Find(ClassLevelBaseId + (uint)i)!.Plain);
    }

    protected override void Render(ref AudioBlock piece, int pieceStart)
    {
        var engine = _engine;
        var right = piece.OutRight.IsEmpty ? _scratch.AsSpan(0, piece.Frames) : piece.OutRight;
        if (engine == null || !EngineRunning) { piece.OutLeft.Clear(); right.Clear(); return; }
        foreach (var note in piece.Notes)
        {
            int offset = note.SampleOffset - pieceStart;
            if ((uint)offset >= (uint)piece.Frames) continue;
            if (note.IsOn) engine.NoteOn(offset, note.Note, note.Velocity);
            else engine.NoteOff(offset, note.Note);
        }
        engine.Process(piece.OutLeft, right, piece.Frames);
    }

    public override double GetParameterNormalized(uint id)
    {
        var engine = _engine;
        if (id == StatusId) return engine == null ? 0 : (int)engine.Status / 3.0;
        if (id == FreshRatioId)
        {
            if (engine == null) return 1;
            // Hits the fallback sound had to play (no variation ready, or no model) count as not fresh.
            long fresh = engine.FreshHits, other = engine.ReusedHits + ((engine as DrumInstrument)?.FallbackHits ?? 0);
            return fresh + other == 0 ? 1 : fresh / (double)(fresh + other);
        }
        return base.GetParameterNormalized(id);
    }

    public override string FormatParameter(Parameter p, double normalized)
    {
        var engine = _engine;
        if (p.Id == StatusId && engine != null && Math.Abs(normalized - GetParameterNormalized(StatusId)) < 1e-9)
            return $"{p.Format(normalized)}: {engine.StatusMessage}";
        return base.FormatParameter(p, normalized);
    }

    protected override byte[] SaveExtraState()
    {
        var extra = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(extra, KitSeed);
        return extra;
    }

    protected override bool ValidateExtraState(ReadOnlySpan<byte> extra) => extra.Length == 8;

    protected override void LoadExtraState(ReadOnlySpan<byte> extra)
    {
        if (extra.Length != 8) return;
        var seedParameter = Parameters.Find(KitSeedId)!;
        Parameters.TrySet(KitSeedId, seedParameter.ToNormalized(BinaryPrimitives.ReadUInt64LittleEndian(extra)));
    }
}
