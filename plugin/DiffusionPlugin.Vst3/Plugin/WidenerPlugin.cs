using DiffusionPlugin.Engine.Realtime;

namespace DiffusionPlugin.Vst3.Plugin;

/// <summary>Diffusion Widener: mono or stereo in, stereo out; the mono sum stays the input (delayed by the latency).</summary>
internal sealed class WidenerPlugin : EnginePlugin<IStereoWidener>
{
    public const uint WidthId = 0, StrengthId = 1, MixId = 2, BypassId = 3;

    private static readonly IReadOnlyList<BusSpec> Outputs = [new("Stereo Out", 2)];

    private IReadOnlyList<BusSpec> _inputs = [new("Input", 2)];
    private int _latencyToldHost;
    private float[] _silence = [];
    private float[] _scratch = [];

    public WidenerPlugin(PluginEnvironment environment) : base(environment, PluginClasses.Widener, CreateParameters()) { }

    private static IEnumerable<Parameter> CreateParameters()
    {
        yield return new Parameter(WidthId, "Width", "Width", "", 0, 2, 1);
        yield return new Parameter(StrengthId, "Variation Strength", "Var", "", 0, 1, 0.5);
        yield return new Parameter(MixId, "Mix", "Mix", "", 0, 1, 1);
        yield return new Parameter(BypassId, "Bypass", "Bypass", "", 0, 1, 0, 1) { IsBypass = true, Labels = ["Off", "On"] };
        yield return StatusParameter();
    }

    public override IReadOnlyList<BusSpec> AudioInputs => _inputs;
    public override IReadOnlyList<BusSpec> AudioOutputs => Outputs;

    public override bool TrySetChannelCounts(ReadOnlySpan<int> inputs, ReadOnlySpan<int> outputs)
    {
        if (inputs.Length != 1 || outputs.Length != 1 || outputs[0] != 2 || (inputs[0] != 1 && inputs[0] != 2)) return false;
        if (IsActive) return inputs[0] == _inputs[0].ChannelCount;
        _inputs = [new(inputs[0] == 1 ? "Mono In" : "Input", inputs[0])];
        return true;
    }

    public override int LatencySamples
    {
        get
        {
            int latency = EngineRunning ? Engine?.LatencySamples ?? 0 : 0;
            Volatile.Write(ref _latencyToldHost, latency);
            return latency;
        }
    }

    protected override IStereoWidener CreateEngine(EngineOptions options) => EngineFactory.CreateWidener(options);

    protected override void OnActivate()
    {
        _silence = new float[MaxBlockFrames];
        _scratch = new float[MaxBlockFrames];
        base.OnActivate();
        var engine = Engine;
        engine?.Activate(SampleRateHz, MaxBlockFrames, Offline);
        PluginLog.Info($"Diffusion Widener: active at {SampleRateHz} Hz, {MaxBlockFrames} frames, {_inputs[0].ChannelCount} in; " +
                       $"latency {engine?.LatencySamples} samples; {engine?.Status}: {engine?.StatusMessage}");
    }

    protected override void AfterActivate()
    {
        int latency = EngineRunning ? Engine?.LatencySamples ?? 0 : 0;
        if (latency != Volatile.Read(ref _latencyToldHost)) RestartRequested?.Invoke(RestartReason.Latency);
    }

    protected override void ApplyParameters()
    {
        var engine = EngineIfParametersChanged();
        if (engine == null) return;
        engine.Width = (float)Parameters.Find(WidthId)!.Plain;
        engine.VariationStrength = (float)Parameters.Find(StrengthId)!.Plain;
        engine.Mix = (float)Parameters.Find(MixId)!.Plain;
        engine.Bypass = Parameters.Find(BypassId)!.Plain >= 0.5;
    }

    protected override void Render(ref AudioBlock piece, int pieceStart)
    {
        var engine = Engine;
        int n = piece.Frames;
        var right = piece.OutRight.IsEmpty ? _scratch.AsSpan(0, n) : piece.OutRight;
        var inLeft = piece.InLeft.IsEmpty ? _silence.AsSpan(0, n) : piece.InLeft;
        var inRight = piece.InRight.IsEmpty ? inLeft : piece.InRight;
        if (engine == null || !EngineRunning)
        {
            // No engine at this setup: dry pass-through (copy order is safe when outputs alias inputs).
            inLeft.CopyTo(piece.OutLeft);
            inRight.CopyTo(right);
            return;
        }
        engine.Process(inLeft, inRight, piece.OutLeft, right, n);
    }
}
