using DiffusionPlugin.Vst3.Plugin;

namespace DiffusionPlugin.Vst3.Plugin;

/// <summary>An audio bus: its name and channel count.</summary>
internal sealed record BusSpec(string Name, int ChannelCount);

/// <summary>A note at <see cref="SampleOffset"/> frames into the block; velocity 0..1.</summary>
internal readonly record struct NoteEvent(int SampleOffset, int Note, float Velocity, bool IsOn);

/// <summary>What the host asks to be re-read.</summary>
internal enum RestartReason { Latency, ParameterValues }

/// <summary>
/// One process call without pointers. Inputs are empty when the plugin has none; <see cref="InRight"/> equals
/// <see cref="InLeft"/> for a mono input; <see cref="OutRight"/> is empty for a mono output. Outputs may alias inputs.
/// </summary>
internal ref struct AudioBlock
{
    public int Frames;
    public ReadOnlySpan<float> InLeft;
    public ReadOnlySpan<float> InRight;
    public Span<float> OutLeft;
    public Span<float> OutRight;
    public ReadOnlySpan<NoteEvent> Notes;
    /// <summary>The host renders this block offline (VST3 processMode kOffline), e.g. a freewheeling export.</summary>
    public bool Offline;
}

/// <summary>
/// A plugin as the VST3 shell drives it, without pointers. Threads: Initialize, Terminate, SetupProcessing, SetActive,
/// state and RestartRequested on the host's main thread; Process on the audio thread only.
/// </summary>
internal abstract class AudioPlugin : IDisposable
{
    protected AudioPlugin(PluginEnvironment environment, PluginClassInfo pluginClass, IEnumerable<Parameter> parameters)
    {
        Environment = environment;
        Class = pluginClass;
        Parameters = new ParameterSet(parameters);
        _readOnly = Parameters.All.Where(p => p.ReadOnly).ToArray();
        _reportedReadOnly = new double[_readOnly.Length];
        Array.Fill(_reportedReadOnly, double.NaN);
    }

    // Read-only parameters (engine status, fresh-hit ratio) and the value the host last heard for each.
    private readonly Parameter[] _readOnly;
    private readonly double[] _reportedReadOnly;

    /// <summary>How many read-only parameters there are: the most <see cref="CollectReadOnlyChanges"/> writes.</summary>
    public int ReadOnlyCount => _readOnly.Length;

    /// <summary>
    /// Audio thread: the read-only parameters whose value changed since the last call (all of them the first time),
    /// for the host's output parameter changes, so its generic editor and automation lanes show the status live.
    /// Writes at most <see cref="ReadOnlyCount"/> entries; returns how many. No allocation.
    /// </summary>
    public int CollectReadOnlyChanges(Span<uint> ids, Span<double> values)
    {
        int n = 0;
        for (int i = 0; i < _readOnly.Length && n < ids.Length && n < values.Length; i++)
        {
            double v = GetParameterNormalized(_readOnly[i].Id);
            // A ratio that moves by less than half a percent is not worth a host round trip every block.
            if (!double.IsNaN(_reportedReadOnly[i]) && Math.Abs(v - _reportedReadOnly[i]) < 0.005) continue;
            _reportedReadOnly[i] = v;
            ids[n] = _readOnly[i].Id;
            values[n] = v;
            n++;
        }
        return n;
    }

    public PluginEnvironment Environment { get; }
    public PluginClassInfo Class { get; }
    public ParameterSet Parameters { get; }

    public abstract IReadOnlyList<BusSpec> AudioInputs { get; }
    public abstract IReadOnlyList<BusSpec> AudioOutputs { get; }
    public virtual IReadOnlyList<BusSpec> EventInputs => Array.Empty<BusSpec>();

    /// <summary>Set by the shell when the host gives a component handler; call from the main thread only.</summary>
    public Action<RestartReason>? RestartRequested { get; set; }

    protected double SampleRateHz { get; private set; } = 48000;
    protected int MaxBlockFrames { get; private set; } = 1024;
    protected bool Offline { get; private set; }
    protected bool IsActive { get; private set; }
    protected bool IsInitialized { get; private set; }
    /// <summary>False while active when the engine refused to start: Render must not call it.</summary>
    protected bool EngineRunning { get; private set; }

    public virtual int LatencySamples => 0;
    public virtual int TailSamples => 0;

    /// <summary>Accepts the host's channel counts per bus (-1 = an arrangement we do not know) or refuses them.</summary>
    public abstract bool TrySetChannelCounts(ReadOnlySpan<int> inputs, ReadOnlySpan<int> outputs);

    public void Initialize()
    {
        if (IsInitialized) return;
        IsInitialized = true;
        OnInitialize();
    }

    public void Terminate()
    {
        lock (_lifecycleLock)
        {
            if (!IsInitialized) return;
            if (IsActive) SetActive(false);
            IsInitialized = false;
            OnTerminate();
        }
    }

    // Hosts call setupProcessing/setActive/terminate from more than one thread (Ardour 7.3 re-activates from a process
    // thread while its main thread did the first activation): serialised, never taken on the audio path (Process).
    private readonly object _lifecycleLock = new();

    public void SetupProcessing(double sampleRateHz, int maxBlockFrames, bool offline)
    {
        lock (_lifecycleLock)
        {
            PluginLog.Info($"{Class.Name}: setupProcessing {sampleRateHz} Hz, {maxBlockFrames} frames, offline={offline} " +
                           $"(active={IsActive}, thread {System.Environment.CurrentManagedThreadId})");
            SampleRateHz = sampleRateHz;
            MaxBlockFrames = Math.Clamp(maxBlockFrames, 1, 1 << 16);
            Offline = offline;
        }
    }

    public void SetActive(bool active)
    {
        lock (_lifecycleLock) SetActiveCore(active);
    }

    private void SetActiveCore(bool active)
    {
        if (active == IsActive) return;
        if (active && !IsInitialized) Initialize();
        if (active)
        {
            try
            {
                OnActivate();
                EngineRunning = true;
            }
            catch (Exception e)
            {
                // An engine that refuses this setup (e.g. a sample rate it cannot run at) must not fail the host:
                // the plugin stays active, passes audio through or stays silent, and says why in the log.
                EngineRunning = false;
                PluginLog.Warn($"{Class.Name}: engine not started at {SampleRateHz} Hz / {MaxBlockFrames} frames " +
                               $"({e.GetType().Name}: {e.Message}); passing audio through");
            }
            IsActive = true;
            AfterActivate();
        }
        else
        {
            IsActive = false;
            PluginLog.Info($"{Class.Name}: deactivated (thread {System.Environment.CurrentManagedThreadId})");
            if (EngineRunning) OnDeactivate();
            EngineRunning = false;
        }
    }

    /// <summary>Main thread, after activation completed: a safe place to tell the host about a new latency.</summary>
    protected virtual void AfterActivate() { }

    /// <summary>Audio thread. Applies parameters, then renders in pieces no longer than the activated block size.</summary>
    public void Process(ref AudioBlock block)
    {
        if (!IsActive || block.Frames == 0)
        {
            if (block.Frames > 0) { block.OutLeft.Clear(); block.OutRight.Clear(); }
            return;
        }
        ApplyParameters();
        // Hosts may freewheel an export in a session activated for real time and say so only per block (Ardour does).
        if (EngineRunning) SetRenderingOffline(block.Offline);
        for (int start = 0; start < block.Frames; start += MaxBlockFrames)
        {
            int n = Math.Min(MaxBlockFrames, block.Frames - start);
            var piece = new AudioBlock
            {
                Frames = n,
                InLeft = block.InLeft.IsEmpty ? default : block.InLeft.Slice(start, n),
                InRight = block.InRight.IsEmpty ? default : block.InRight.Slice(start, n),
                OutLeft = block.OutLeft.Slice(start, n),
                OutRight = block.OutRight.IsEmpty ? default : block.OutRight.Slice(start, n),
                Notes = block.Notes,
            };
            Render(ref piece, start);
        }
    }

    /// <summary>Audio thread: tells the engine whether this block is rendered offline (see IRealtimeEngine.SetRenderingOffline).</summary>
    protected abstract void SetRenderingOffline(bool offline);

    /// <summary>Audio thread: push changed parameter values to the engine (setters only store atomics).</summary>
    protected abstract void ApplyParameters();

    /// <summary>Audio thread: render one piece; notes with offsets in [pieceStart, pieceStart + Frames) belong to it.</summary>
    protected abstract void Render(ref AudioBlock piece, int pieceStart);

    protected virtual void OnInitialize() { }
    protected virtual void OnTerminate() { }
    protected abstract void OnActivate();
    protected abstract void OnDeactivate();

    /// <summary>A parameter's current normalized value; read-only status parameters are computed here (any thread: reads atomics).</summary>
    public virtual double GetParameterNormalized(uint id) => Parameters.Find(id)?.Normalized ?? 0;

    public virtual string FormatParameter(Parameter p, double normalized) => p.Format(normalized);

    /// <summary>Extra state beyond the parameters (e.g. the exact kit seed).</summary>
    protected virtual byte[] SaveExtraState() => [];
    protected virtual void LoadExtraState(ReadOnlySpan<byte> extra) { }
    protected virtual bool ValidateExtraState(ReadOnlySpan<byte> extra) => true;

    public byte[] SaveState() => PluginState.Write(this, SaveExtraState());

    /// <summary>Loads a blob from <see cref="SaveState"/>; anything else leaves defaults and a log line. Main thread.</summary>
    public bool LoadState(ReadOnlySpan<byte> blob)
    {
        if (PluginState.TryRead(this, blob, out var values, out var extra, out var problem) && ValidateExtraState(extra))
        {
            Parameters.ResetAll();
            foreach (var (id, value) in values) Parameters.TrySet(id, value);
            LoadExtraState(extra);
            return true;
        }
        PluginLog.Warn($"{Class.Name}: state not loaded ({problem ?? "bad extra state"}, {blob.Length} bytes); defaults restored");
        Parameters.ResetAll();
        LoadExtraState([]);
        return false;
    }

    public virtual void Dispose() => Terminate();
}
