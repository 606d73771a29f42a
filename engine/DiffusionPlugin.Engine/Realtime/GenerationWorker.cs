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
    // Hosts may (de)activate from more than one thread (Ardour 7.3: its main thread, then a process thread): two workers
    // alive at once would run one ONNX Runtime session and IoBinding concurrently, which ORT does not allow for one
    // binding. Start/Stop/Dispose are serialised here.
    private readonly object _lifecycle = new();
    // One thread per worker for its whole life, parked between activations. A host may re-activate from one of its own
    // real-time threads (Ardour 7.3 does); a thread created there would inherit that thread's scheduling class and
    // signal mask. The thread is therefore created once, at the first activation, and reused.
    private readonly object _signal = new();
    private IGenerationJob? _job;
    private bool _runRequested, _jobRunning, _exit;
    private volatile bool _stop;
    // Freewheel hand-over (see TryPauseForOffline): 0 running, 1 pause requested, 2 paused (the worker is between jobs'
    // steps and will not touch the job or the model until set back to 0).
    private int _pauseState;
    private const int Running = 0, PauseRequested = 1, Paused = 2;
    // Owned by the thread calling Process: the worker is paused for offline blocks; a pause timed out (until the next
    // real-time block). Reset by Start, before that thread processes again.
    private bool _freewheel, _freewheelGaveUp;
    /// <summary>Longest wait in an offline block for the worker to pause (covers a model load and warm-up).</summary>
    internal static readonly TimeSpan FreewheelPauseWait = TimeSpan.FromSeconds(20);
    private int _status = (int)ModelStatus.Loading;
    private volatile string _statusMessage = "loading";
    private long _steps;

    public GenerationWorker(string name, Func<IDiffusionOperations>? load, Func<IDiffusionOperations, ModelStatus> readyStatus, string logComponent)
    {
        _name = name; _load = load; _readyStatus = readyStatus; _component = logComponent;
    }

    public ModelStatus Status => (ModelStatus)Volatile.Read(ref _status);
    public string StatusMessage => _statusMessage;
    public bool IsRunning => Volatile.Read(ref _jobRunning);
    /// <summary>Units of work done (diagnostics, any thread).</summary>
    public long Steps => Interlocked.Read(ref _steps);
    /// <summary>True while a stop is requested: long jobs may poll it between model calls.</summary>
    public bool StopRequested => _stop;

    /// <summary>Starts the thread: load (first time only) + warm-up, then the job's loop. Non-audio thread.</summary>
    public void Start(IGenerationJob job)
    {
        lock (_lifecycle)
        {
            Stop();
            _stop = false;
            Interlocked.Exchange(ref _pauseState, Running);
            _freewheel = false;
            _freewheelGaveUp = false;
            lock (_signal)
            {
                _job = job;
                _runRequested = true;
                Monitor.PulseAll(_signal);
            }
            if (_thread == null)
            {
                _thread = new Thread(Loop)
                {
                    IsBackground = true,
                    Priority = ThreadPriority.BelowNormal,
                    Name = _name,
                };
                _thread.Start();
            }
        }
    }

    /// <summary>Asks the loop to stop and joins it (waits for the model call in flight). Non-audio thread.</summary>
    public void Stop()
    {
        lock (_lifecycle)
        {
            if (_thread == null) return;
            _stop = true;
            // Waits for the job in flight (and one requested but not yet picked up) to end; the thread stays parked.
            lock (_signal)
                while (_runRequested || _jobRunning) Monitor.Wait(_signal);
        }
    }

    /// <summary>Offline mode: loads the model on the calling thread if needed and hands it to the job. Non-audio thread.</summary>
    public void PrepareSynchronously(IGenerationJob job)
    {
        if (Thread.CurrentThread != _thread) Stop(); // offline use while a worker thread still runs the model: stop it first
        EnsureLoaded();
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                job.OnModel(_operations);
                return;
            }
            catch (OperationCanceledException) when (OrtProcessExitGuard.IsExiting) { throw; }
            catch (Exception e) when (_operations != null && _load != null && attempt <= MaxWarmUpReloads)
            {
                // A session that loaded can still fail its first real run (memory, a provider error): a fresh session is
                // worth a try before the fallback.
                _log.Warning(e, "{Worker}: warm-up failed; reloading the model (attempt {Attempt} of {Max})", _name, attempt, MaxWarmUpReloads);
                var ops = _operations;
                _operations = null;
                try { ops.Dispose(); } catch (Exception) { /* a broken session may fail to dispose too */ }
                _loadAttempted = false;
                EnsureLoaded();
            }
            catch (Exception e)
            {
                ReportFailure("warm-up failed", e);
                job.OnModel(null);
                return;
            }
        }
    }

    /// <summary>How many times a failed warm-up reloads the model before the fallback takes over.</summary>
    internal const int MaxWarmUpReloads = 2;

    /// <summary>
    /// The thread calling Process, per block: whether the host renders it offline in a real-time activation. Pauses
    /// the worker on the first offline block (<see cref="TryPauseForOffline"/>; a pause that times out is not tried
    /// again until a real-time block) and resumes it on the first real-time one. Returns true while the caller runs
    /// the job itself. Lock-free except for the bounded wait of an offline block.
    /// </summary>
    public bool SetRenderingOffline(bool offline)
    {
        if (offline == _freewheel) return _freewheel;
        if (offline)
        {
            if (_freewheelGaveUp) return false;
            _freewheel = TryPauseForOffline(FreewheelPauseWait);
            _freewheelGaveUp = !_freewheel;
        }
        else
        {
            _freewheel = false;
            _freewheelGaveUp = false;
            ResumeAfterOffline();
        }
        return _freewheel;
    }

    /// <summary>
    /// Freewheel (a host rendering faster than real time in a session activated for real time; VST3 kOffline per
    /// block): asks the worker to stop between steps and waits until it has, so the calling thread may run the job
    /// synchronously (<see cref="StepSynchronously"/>) with no time pressure. Waits through a model load still under
    /// way (the render should have the model from its first hit), at most <paramref name="maxWait"/>. True once the
    /// worker is paused (or not running at all). Called from the host's processing thread only in offline blocks,
    /// where waiting is allowed; never in real time. Pair with <see cref="ResumeAfterOffline"/>.
    /// </summary>
    private bool TryPauseForOffline(TimeSpan maxWait)
    {
        if (_thread == null) return true;
        Interlocked.CompareExchange(ref _pauseState, PauseRequested, Running);
        long deadline = Environment.TickCount64 + (long)maxWait.TotalMilliseconds;
        while (Volatile.Read(ref _pauseState) != Paused)
        {
            // No job asked for and none running (never started, stopped, ended by a failure): nothing runs the model.
            // Loop() publishes _jobRunning before it clears _runRequested, so this never misses a job being picked up.
            if (!Volatile.Read(ref _runRequested) && !Volatile.Read(ref _jobRunning)) return true;
            if (Environment.TickCount64 >= deadline)
            {
                // Give up (the load takes too long): withdraw the request unless the worker paused just now.
                return Interlocked.CompareExchange(ref _pauseState, Running, PauseRequested) == Paused;
            }
            Thread.Sleep(1);
        }
        return true;
    }

    /// <summary>Lets a worker paused by <see cref="TryPauseForOffline"/> go on (real-time blocks again). Lock-free: audio thread.</summary>
    private void ResumeAfterOffline() => Interlocked.Exchange(ref _pauseState, Running);

    /// <summary>Offline mode: one job step on the calling thread, with the same failure handling as the worker.</summary>
    public bool StepSynchronously(IGenerationJob job)
    {
        try { return job.Step(_operations); }
        catch (OperationCanceledException) when (OrtProcessExitGuard.IsExiting) { return false; }
        catch (Exception e)
        {
            ReportFailure("generation failed", e);
            job.OnModel(null);
            return true;
        }
    }

    private void Loop()
    {
        LowerThreadPriorityOnLinux();
        while (true)
        {
            IGenerationJob job;
            lock (_signal)
            {
                while (!_runRequested && !_exit) Monitor.Wait(_signal);
                if (!_runRequested) return; // exit requested and nothing left to run
                job = _job!;
                Volatile.Write(ref _jobRunning, true);
                Volatile.Write(ref _runRequested, false);
            }
            try { Run(job); }
            finally
            {
                lock (_signal)
                {
                    _jobRunning = false;
                    Monitor.PulseAll(_signal);
                }
            }
        }
    }

    private void Run(IGenerationJob job)
    {
        try
        {
            PrepareSynchronously(job);
            while (!_stop)
            {
                if (Volatile.Read(ref _pauseState) != Running)
                {
                    // The host is rendering offline and the thread calling Process runs the job meanwhile.
                    Interlocked.CompareExchange(ref _pauseState, Paused, PauseRequested);
                    Thread.Sleep(1);
                    continue;
                }
                bool worked;
                try { worked = job.Step(_operations); }
                catch (OperationCanceledException) when (OrtProcessExitGuard.IsExiting) { throw; }
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
        catch (OperationCanceledException) when (OrtProcessExitGuard.IsExiting)
        {
            // The host called exit() with this plugin still alive: ORT's statics are being destroyed, so the model is
            // neither called nor released again; the job keeps playing what it has until the process is gone.
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
        catch (Exception) when (OrtProcessExitGuard.IsExiting)
        {
            _operations = null; // exit() under way: nothing to report, the process is going away
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
        lock (_lifecycle)
        {
            Stop();
            var t = _thread;
            if (t != null)
            {
                lock (_signal)
                {
                    _exit = true;
                    Monitor.PulseAll(_signal);
                }
                t.Join();
                _thread = null;
            }
            var ops = _operations;
            _operations = null;
            try { ops?.Dispose(); } catch (Exception e) { _log.Warning(e, "{Worker}: model dispose failed", _name); }
        }
    }
}
