using DiffusionPlugin.Vst3.Plugin;

namespace DiffusionPlugin.Vst3.Interop;

/// <summary>What every entry point does with an exception it caught: log it (never rethrow into the host).</summary>
internal static class Guard
{
    private static int _reported;

    public static void Report(Exception e)
    {
        // An exception on the audio thread is already a failure; logging it (which allocates) is the lesser harm,
        // but a flood of them must not fill the disk.
        if (Interlocked.Increment(ref _reported) <= 100)
            PluginLog.Error(e, "VST3 entry point failed");
    }
}
