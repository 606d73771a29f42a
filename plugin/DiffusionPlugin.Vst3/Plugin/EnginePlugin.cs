using DiffusionPlugin.Engine.Realtime;

namespace DiffusionPlugin.Vst3.Plugin;

/// <summary>
/// What both plugins do with their engine: create it at initialize (it loads its model on its own worker), dispose it
/// at terminate, stop it at deactivate, pass the per-block offline flag, expose the read-only status parameter, and
/// tell ApplyParameters when the parameter set changed. Threads as <see cref="AudioPlugin"/>.
/// </summary>
internal abstract class EnginePlugin<TEngine> : AudioPlugin where TEngine : class, IRealtimeEngine
{
    public const uint StatusId = 100;
    private static readonly string[] StatusLabels = ["Loading", "CPU", "CUDA", "Fallback"];

    private TEngine? _engine;
    private int _appliedVersion = -1;

    protected EnginePlugin(PluginEnvironment environment, PluginClassInfo pluginClass, IEnumerable<Parameter> parameters)
        : base(environment, pluginClass, parameters) { }

    /// <summary>The engine (tests and status); null before initialize and after terminate. Any thread.</summary>
    internal TEngine? Engine => _engine;

    /// <summary>The read-only "Engine Status" parameter (Loading / CPU / CUDA / Fallback, with the reason as its text).</summary>
    protected static Parameter StatusParameter() =>
        new(StatusId, "Engine Status", "Status", "", 0, 3, 0, 3) { ReadOnly = true, Labels = StatusLabels };

    /// <summary>Main thread: the engine for this plugin class (nothing is loaded yet).</summary>
    protected abstract TEngine CreateEngine(EngineOptions options);

    protected override void OnInitialize()
    {
        var engine = CreateEngine(new EngineOptions { ManifestPath = Environment.DrumManifestPath });
        _engine = engine;
        PluginLog.Info($"{Class.Name}: engine {engine.Status}: {engine.StatusMessage}");
    }

    protected override void OnTerminate()
    {
        _engine?.Dispose();
        _engine = null;
    }

    protected override void OnActivate()
    {
        _appliedVersion = -1; // the engine gets every parameter before its first block
        ApplyParameters();
    }

    protected override void OnDeactivate() => _engine?.Deactivate();

    protected override void SetRenderingOffline(bool offline) => _engine?.SetRenderingOffline(offline);

    /// <summary>Audio thread: the engine when the parameters changed since they were last applied, else null.</summary>
    protected TEngine? EngineIfParametersChanged()
    {
        var engine = _engine;
        int version = Parameters.Version;
        if (engine == null || version == _appliedVersion) return null;
        _appliedVersion = version;
        return engine;
    }

    public override double GetParameterNormalized(uint id)
    {
        if (id == StatusId) return _engine is { } engine ? (int)engine.Status / 3.0 : 0;
        return base.GetParameterNormalized(id);
    }

    public override string FormatParameter(Parameter p, double normalized)
    {
        var engine = _engine;
        if (p.Id == StatusId && engine != null && Math.Abs(normalized - GetParameterNormalized(StatusId)) < 1e-9)
            return $"{p.Format(normalized)}: {engine.StatusMessage}";
        return base.FormatParameter(p, normalized);
    }
}
