namespace DiffusionPlugin.Engine.Tests.Realtime;

/// <summary>
/// A turnstile in front of <see cref="FakeDiffusionOperations"/>'s model calls that a test turns one call at a time:
/// <see cref="Allow"/> lets calls through, <see cref="WaitUntilParked"/> returns once the worker has used them all and
/// is waiting with its next call. The model is called only from the worker's thread, one call at a time, so a parked
/// call means everything the worker did before it (results written to the engine's rings included) is done, and that
/// it does nothing more until the test allows it: the test knows exactly what was generated, with no timing involved.
/// Starts closed. Any thread.
/// </summary>
internal sealed class ModelCallGate
{
    /// <summary>
    /// Longest a model call waits at a closed gate before going through anyway, so that a test that fails before it
    /// opens the gate still ends (its engine's Dispose waits for the call in flight). A safety net, never a timing
    /// assumption: no test relies on it.
    /// </summary>
    private static readonly TimeSpan AbandonedAfter = TimeSpan.FromSeconds(30);

    /// <summary>Longest <see cref="WaitUntilParked"/> waits before it fails (a worker that never calls the model again).</summary>
    private static readonly TimeSpan ParkTimeout = TimeSpan.FromSeconds(20);

    private readonly object _lock = new();
    private int _permits, _waiting;
    private bool _open;

    /// <summary>Lets <paramref name="calls"/> more model calls through. Test thread.</summary>
    public void Allow(int calls)
    {
        lock (_lock) { _permits += calls; Monitor.PulseAll(_lock); }
    }

    /// <summary>Lets every call through from now on (the end of a test, so its engine can stop). Test thread.</summary>
    public void Open()
    {
        lock (_lock) { _open = true; Monitor.PulseAll(_lock); }
    }

    /// <summary>
    /// Waits until every call allowed so far has gone through and the next one is waiting at the gate. Throws a
    /// <see cref="TimeoutException"/> after 20 s (the worker stopped calling the model). Test thread.
    /// </summary>
    public void WaitUntilParked()
    {
        var deadline = DateTime.UtcNow + ParkTimeout;
        lock (_lock)
        {
            while (_waiting == 0 || _permits > 0)
            {
                var left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero) throw new TimeoutException("the worker never came back to the model with a call");
                Monitor.Wait(_lock, left);
            }
        }
    }

    /// <summary>Called by the fake at the start of each model call: takes a permit, waiting for one. Worker thread.</summary>
    public void Enter()
    {
        var deadline = DateTime.UtcNow + AbandonedAfter;
        lock (_lock)
        {
            _waiting++;
            Monitor.PulseAll(_lock);
            try
            {
                while (!_open && _permits == 0)
                {
                    var left = deadline - DateTime.UtcNow;
                    if (left <= TimeSpan.Zero) return;
                    Monitor.Wait(_lock, left);
                }
                if (!_open) _permits--;
            }
            finally
            {
                _waiting--;
                Monitor.PulseAll(_lock);
            }
        }
    }
}
