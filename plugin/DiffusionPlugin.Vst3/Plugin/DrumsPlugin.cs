using System.Buffers.Binary;
using DiffusionPlugin.Engine.Realtime;

namespace DiffusionPlugin.Vst3.Plugin;

/// <summary>Diffusion Drums: MIDI notes in (one event bus), stereo out; every hit a fresh, humanized variation.</summary>
internal sealed class DrumsPlugin : EnginePlugin<IDrumInstrument>
{
    public const uint KitSeedId = 0, HumanizeId = 1, StepsId = 2, GuidanceId = 3, OutputGainId = 4;
    public const uint ClassLevelBaseId = 10, FreshRatioId = 101;

    /// <summary>The model contract's drum classes, in class-id order (docs/model-contract.md).</summary>
    public static readonly string[] ClassNames =
        ["kick", "snare", "rim", "clap", "tom", "hihat_closed", "hihat_open", "crash", "ride", "percussion", "general"];

    private static readonly IReadOnlyList<BusSpec> Outputs = [new("Stereo Out", 2)];
    private static readonly IReadOnlyList<BusSpec> Events = [new("MIDI In", 1)];

    private ulong _appliedKitSeed = ulong.MaxValue;
    private float[] _scratch = [];

    public DrumsPlugin(PluginEnvironment environment) : base(environment, PluginClasses.Drums, CreateParameters()) { }

    private static IEnumerable<Parameter> CreateParameters()
    {
        yield return new Parameter(KitSeedId, "Kit Seed", "Seed", "", 0, 9999, 1, 9999);
        yield return new Parameter(HumanizeId, "Humanize", "Human", "", 0, 1, 0.35);
        yield return new Parameter(StepsId, "Quality (steps)", "Steps", "", 2, 50, DrumInstrument.DefaultSteps, 48);
        // Classifier-free guidance at the low-noise steps (the shipped model's tuning: 2 at σ ≤ 1, where it keeps each class
        // recognisable; its autoguidance works above). 1 = off: more variety, about a quarter faster, snares less snare-like.
        yield return new Parameter(GuidanceId, "Guidance", "CFG", "", 1, 8, 2);
        yield return new Parameter(OutputGainId, "Output Gain", "Gain", "dB", -24, 12, 0) { Decimals = 1 };
        for (int i = 0; i < ClassNames.Length; i++)
            yield return new Parameter(ClassLevelBaseId + (uint)i, $"Level {ClassNames[i]}", ClassNames[i], "", 0, 2, 1);
        yield return StatusParameter();
        yield return new Parameter(FreshRatioId, "Fresh Hit Ratio", "Fresh", "%", 0, 100, 100) { ReadOnly = true, Decimals = 0 };
    }

    public override IReadOnlyList<BusSpec> AudioInputs => Array.Empty<BusSpec>();
    public override IReadOnlyList<BusSpec> AudioOutputs => Outputs;
    public override IReadOnlyList<BusSpec> EventInputs => Events;

    public override bool TrySetChannelCounts(ReadOnlySpan<int> inputs, ReadOnlySpan<int> outputs)
        => inputs.Length == 0 && outputs.Length == 1 && outputs[0] == 2;

    public override int LatencySamples => EngineRunning ? Engine?.LatencySamples ?? 0 : 0;

    /// <summary>The exact kit seed (the parameter shows it; state stores it).</summary>
    public ulong KitSeed => (ulong)Parameters.Find(KitSeedId)!.Plain;

    protected override IDrumInstrument CreateEngine(EngineOptions options) => EngineFactory.CreateDrums(options);

    protected override void OnActivate()
    {
        _scratch = new float[MaxBlockFrames];
        base.OnActivate();
        var engine = Engine;
        engine?.Activate(SampleRateHz, MaxBlockFrames, Offline);
        PluginLog.Info($"Diffusion Drums: active (thread {System.Environment.CurrentManagedThreadId}) at {SampleRateHz} Hz, {MaxBlockFrames} frames, offline={Offline}; " +
                       $"{engine?.Status}: {engine?.StatusMessage}");
    }

    protected override void ApplyParameters()
    {
        var engine = EngineIfParametersChanged();
        if (engine == null) return;
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
        var engine = Engine;
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
        var engine = Engine;
        if (id == FreshRatioId)
        {
            if (engine == null) return 1;
            // Hits the fallback sound had to play (no variation ready, or no model) count as not fresh.
            long fresh = engine.FreshHits, other = engine.ReusedHits + ((engine as DrumInstrument)?.FallbackHits ?? 0);
            return fresh + other == 0 ? 1 : fresh / (double)(fresh + other);
        }
        return base.GetParameterNormalized(id);
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
