using System.Runtime.InteropServices;

namespace DiffusionPlugin.Engine.Diffusion;

/// <summary>
/// Keeps ONNX Runtime calls out of the window in which the C library's <c>exit()</c> destroys ORT's static objects.
/// <para>
/// Why: a plugin's worker may be inside a model call when its host calls <c>exit()</c> without first destroying the
/// plugin (Ardour's luasession does at <c>os.exit</c>; a host that crashes on quit does too). <c>exit()</c> then runs
/// libonnxruntime's static destructors (the tensor-type singletons and the type registry) while the worker still uses
/// them, and the call fails with "GetElementType is not implemented" or "Invalid tensor data type 1" — or crashes the
/// host on its way out. Measured under Ardour 7.3: every such failure was logged after the export had been written,
/// i.e. during the exit.
/// </para>
/// <para>
/// How: once enabled, every successful model load registers <see cref="OnProcessExit"/> with <c>__cxa_atexit</c>.
/// Exit handlers run last-registered-first, so it runs before the destructors ORT registered while that session was
/// created. It closes the gate and waits (bounded) for calls in flight to leave ORT; later calls are refused with
/// <see cref="OperationCanceledException"/> and nothing native is released any more. Enabled only where the .NET
/// runtime outlives <c>exit()</c> handlers: the NativeAOT plugin library (CoreCLR tears itself down at exit).
/// </para>
/// Thread rules: <see cref="Enable"/> from any thread, once at start-up; the rest from the threads that call ORT.
/// </summary>
public static unsafe class OrtProcessExitGuard
{
    /// <summary>Longest wait at exit for a call in flight (a batch-16 CPU call takes about 0.1–0.3 s).</summary>
    public static readonly TimeSpan MaxExitWait = TimeSpan.FromSeconds(5);

    private static int _enabled;
    private static int _exiting;
    private static int _callsInFlight;

    /// <summary>True once the process has started to exit: ORT must not be called or released any more.</summary>
    public static bool IsExiting => Volatile.Read(ref _exiting) != 0;

    /// <summary>Turns the guard on (the plugin library does at ModuleEntry). Any thread.</summary>
    public static void Enable() => Interlocked.Exchange(ref _enabled, 1);

    /// <summary>Enters ORT; false once the process is exiting (the caller must then not touch ORT).</summary>
    internal static bool TryEnter()
    {
        Interlocked.Increment(ref _callsInFlight);
        if (Volatile.Read(ref _exiting) == 0) return true;
        Interlocked.Decrement(ref _callsInFlight);
        return false;
    }

    /// <summary>Leaves ORT (pairs with a successful <see cref="TryEnter"/>).</summary>
    internal static void Leave() => Interlocked.Decrement(ref _callsInFlight);

    /// <summary>Enters ORT or throws <see cref="OperationCanceledException"/> when the process is exiting.</summary>
    internal static void Enter()
    {
        if (!TryEnter()) throw new OperationCanceledException("the process is exiting: ONNX Runtime is no longer called");
    }

    /// <summary>
    /// Registers the exit handler after a session has been created (so it runs before the destructors ORT registered
    /// for it). Registered again on each load because ORT may register more of its statics lazily; each entry costs a
    /// few bytes and the handler is idempotent. No-op unless enabled and on glibc/macOS.
    /// </summary>
    internal static void RegisterAfterLoad()
    {
        if (Volatile.Read(ref _enabled) == 0 || !(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS())) return;
        try
        {
            CxaAtExit(&OnProcessExit, null, null);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // No __cxa_atexit (not glibc/libSystem): the guard simply stays off.
        }
    }

    /// <summary>Runs <see cref="OnProcessExit"/>'s logic in-process (tests: what exit() would do).</summary>
    internal static void SimulateExitForTests() => CloseAndDrain();

    /// <summary>Re-opens the gate after <see cref="SimulateExitForTests"/>.</summary>
    internal static void ResetForTests() => Interlocked.Exchange(ref _exiting, 0);

    [UnmanagedCallersOnly]
    private static void OnProcessExit(void* argument)
    {
        try { CloseAndDrain(); }
        catch { /* an exit handler must never throw */ }
    }

    private static void CloseAndDrain()
    {
        // Full fence on both sides (Interlocked here, Interlocked.Increment in TryEnter): a caller either sees the
        // closed gate, or is counted before the drain below reads the count.
        Interlocked.Exchange(ref _exiting, 1);
        long deadline = Environment.TickCount64 + (long)MaxExitWait.TotalMilliseconds;
        while (Volatile.Read(ref _callsInFlight) > 0 && Environment.TickCount64 < deadline) Thread.Sleep(1);
    }

    [DllImport("libc", EntryPoint = "__cxa_atexit")]
    private static extern int CxaAtExit(delegate* unmanaged<void*, void> function, void* argument, void* dsoHandle);
}
