using DiffusionPlugin.Engine.Diffusion;
using Serilog;

namespace DiffusionPlugin.Engine.Realtime;

/// <summary>
/// What a <see cref="GenerationWorker"/> runs. All members are called on the worker's thread (or, in offline mode,
/// synchronously on the thread that drives the engine), never concurrently.
/// </summary>
internal interface IGenerationJob
{
    /// <summary>A model is ready (or null: fallback). Allocate model-shaped buffers and warm up here.</summary>
    void OnModel(IDiffusionOperations? operations);

    /// <summary>Do one unit of work; false when there was nothing to do (the worker then naps briefly).</summary>
    bool Step(IDiffusionOperations? operations);
}

/// <summary>
/// Owns the diffusion model (an <see cref="IDiffusionOperations"/>) and one background thread, below the audio thread's
/// priority, that runs an <see cref="IGenerationJob"/>. Loads the model on that thread (so Activate never waits on ONNX
/// Runtime), warms it up, and if loading or any generation fails, disposes the model, switches to fallback, records
/// <see cref="Status"/>/<see cref="StatusMessage"/> and logs — the audio thread only ever reads the status atomic.
/// The model outlives Start/Stop cycles, so re-activating does not reload it.
/// Thread rules: Start/Stop/Dispose/RunSynchronously from one non-audio thread; Status any thread.
/// </summary>
internal sealed class GenerationWorker : IDisposable
{
    private readonly string _name;
    private readonly Func<IDiffusionOperations>? _load;
    private readonly Func<IDiffusionOperations, ModelStatus> _readyStatus;
    private readonly string _component;
    // Resolved at each use (rare: load, failure) so a host that configures logging after creating the engine is honoured.
    private ILogger _log => RealtimeSeams.Logger(_component);
    private IDiffusionOperations? _operations;
    private bool _loadAttempted;
    private Thread? _thread;
    private volatile bool _stop;
    private int _status = (int)ModelStatus.Loading;
    private volatile string _statusMessage = "loading";
    private long _steps;

    public GenerationWorker(string name, Func<IDiffusionOperations>? load, Func<IDiffusionOperations, ModelStatus> readyStatus, string logComponent)
    {
        _name = name; _load = load; _readyStatus = readyStatus; _component = logComponent;
    }

    public ModelStatus Status => (ModelStatus)Volatile.Read(ref _status);
    public string StatusMessage => _statusMessage;
    public bool IsRunning => _thread is { IsAlive: true };
    /// <summary>Units of work done (diagnostics, any thread).</summary>
    public long Steps => Interlocked.Read(ref _steps);
    /// <summary>True while a stop is requested: long jobs may poll it between model calls.</summary>
    public bool StopRequested => _stop;

    /// <summary>Starts the thread: load (first time only) + warm-up, then the job's loop. Non-audio thread.</summary>
    public void Start(IGenerationJob job)
    {
        Stop();
        _stop = false;
        _thread = new Thread(() => Run(job))
        {
            IsBackground = true,
            Priority = ThreadPriority.BelowNormal,
            Name = _name,
        };
        _thread.Start();
    }

    /// <summary>Asks the loop to stop and joins it (waits for the model call in flight). Non-audio thread.</summary>
    public void Stop()
    {
        var t = _thread;
        if (t == null) return;
        _stop = true;
        t.Join();
        _thread = null;
    }

    /// <summary>Offline mode: loads the model on the calling thread if needed and hands it to the job. Non-audio thread.</summary>
    public void PrepareSynchronously(IGenerationJob job)
    {
        EnsureLoaded();
        try { job.OnModel(_operations); }
        catch (Exception e) { ReportFailure("warm-up failed", e); job.OnModel(null); }
    }

    /// <summary>Offline mode: one job step on the calling thread, with the same failure handling as the worker.</summary>
    public bool StepSynchronously(IGenerationJob job)
    {
        try { return job.Step(_operations); }
        catch (Exception e)
        {
            ReportFailure("generation failed", e);
            job.OnModel(null);
            return true;
        }
    }

    private void Run(IGenerationJob job)
    {
        LowerThreadPriorityOnLinux();
        try
        {
            PrepareSynchronously(job);
            while (!_stop)
            {
                bool worked;
                try { worked = job.Step(_operations); }
                catch (Exception e)
                {
                    ReportFailure("generation failed", e);
                    job.OnModel(null);
                    worked = true;
                }
                if (worked) Interlocked.Increment(ref _steps);
                else Thread.Sleep(1);
            }
        }
        catch (Exception e)
        {
            // Never let the worker take the host down: the job keeps its last buffers and the audio thread keeps playing.
            ReportFailure("worker stopped", e);
        }
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "setpriority", SetLastError = true)]
    private static extern int SetPriority(int which, int who, int prio);

    /// <summary>
    /// Thread.Priority is not applied on Linux, so the worker raises its own nice value instead (per thread under
    /// NPTL; no privilege needed to lower one's priority). On a 2-core machine this is what keeps ONNX Runtime from
    /// competing with the host's audio thread. Best effort: a failure only means normal priority.
    /// </summary>
    private void LowerThreadPriorityOnLinux()
    {
        if (!OperatingSystem.IsLinux()) return;
        try
        {
            const int PrioProcess = 0, Nice = 5;
            if (SetPriority(PrioProcess, 0, Nice) != 0)
                _log.Debug("{Worker}: setpriority failed (errno {Errno}); running at normal priority", _name, System.Runtime.InteropServices.Marshal.GetLastPInvokeError());
        }
        catch (Exception e)
        {
            _log.Debug(e, "{Worker}: could not lower the worker's priority", _name);
        }
    }

    private void EnsureLoaded()
    {
        if (_loadAttempted) return;
        _loadAttempted = true;
        if (_load == null)
        {
            SetStatus(ModelStatus.Fallback, "no model configured: built-in fallback sound");
            return;
        }
        try
        {
            _operations = _load();
            var status = _readyStatus(_operations);
            var d = _operations.Denoiser;
            SetStatus(status, $"model ready ({(status == ModelStatus.ReadyCuda ? "CUDA" : "CPU")}, {d.SampleRateHz} Hz, {d.ClassNames.Count} classes)");
            _log.Information("{Worker}: model loaded: {Message}", _name, _statusMessage);
        }
        catch (Exception e)
        {
            _operations = null;
            string why = e is ModelLoadException ? e.Message : $"{e.GetType().Name}: {e.Message}";
            SetStatus(ModelStatus.Fallback, $"model not loaded ({why}); built-in fallback in use");
            _log.Warning(e, "{Worker}: model not loaded, using the fallback: {Reason}", _name, why);
        }
    }

    /// <summary>Disposes the model, switches to fallback, sets the status and logs. Worker (or offline) thread only.</summary>
    public void ReportFailure(string what, Exception e)
    {
        var ops = _operations;
        _operations = null;
        try { ops?.Dispose(); } catch (Exception) { /* a broken model may fail to dispose too */ }
        SetStatus(ModelStatus.Fallback, $"{what} ({e.GetType().Name}: {e.Message}); built-in fallback in use");
        _log.Error(e, "{Worker}: {What}; switched to the fallback", _name, what);
    }

    private void SetStatus(ModelStatus status, string message)
    {
        _statusMessage = message;
        Volatile.Write(ref _status, (int)status);
    }

    public void Dispose()
    {
        Stop();
        var ops = _operations;
        _operations = null;
        try { ops?.Dispose(); } catch (Exception e) { _log.Warning(e, "{Worker}: model dispose failed", _name); }
    }
}
