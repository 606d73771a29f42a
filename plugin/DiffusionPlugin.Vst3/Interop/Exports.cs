using System.Runtime.InteropServices;
using System.Text;
using DiffusionPlugin.Vst3.Plugin;

namespace DiffusionPlugin.Vst3.Interop;

/// <summary>The module's C exports: what a Linux VST3 host looks up with dlsym.</summary>
internal static unsafe class Exports
{
    private static int _entryCount;

    /// <summary>Called by the host right after dlopen; <paramref name="sharedLibraryHandle"/> is the dlopen handle.</summary>
    [UnmanagedCallersOnly(EntryPoint = "ModuleEntry")]
    public static byte ModuleEntry(void* sharedLibraryHandle)
    {
        try
        {
            // The .NET runtime of this library outlives the host's exit(): let the engine keep ORT out of it.
            DiffusionPlugin.Engine.Diffusion.OrtProcessExitGuard.Enable();
            if (Interlocked.Increment(ref _entryCount) == 1)
                PluginLog.Info($"ModuleEntry: {PluginEnvironment.Current.Describe()}");
            return 1;
        }
        catch (Exception e) { Guard.Report(e); return 1; }
    }

    /// <summary>Called by the host before dlclose. The library stays resident (-z nodelete), so nothing is torn down.</summary>
    [UnmanagedCallersOnly(EntryPoint = "ModuleExit")]
    public static byte ModuleExit()
    {
        try
        {
            if (Interlocked.Decrement(ref _entryCount) <= 0)
            {
                Interlocked.Exchange(ref _entryCount, 0);
                PluginLog.Info("ModuleExit");
                PluginLog.Flush();
            }
            return 1;
        }
        catch (Exception e) { Guard.Report(e); return 1; }
    }

    [UnmanagedCallersOnly(EntryPoint = "GetPluginFactory")]
    public static void* GetPluginFactory()
    {
        try { return FactoryObject.Get(); }
        catch (Exception e) { Guard.Report(e); return null; }
    }

    /// <summary>
    /// Writes the bundle's moduleinfo.json (UTF-8) into <paramref name="buffer"/> and returns its length in bytes;
    /// with a buffer too small it writes nothing and returns the length needed. Used by plugin/build-bundle.sh.
    /// </summary>
    [UnmanagedCallersOnly(EntryPoint = "DiffusionPlugin_ModuleInfoJson")]
    public static int ModuleInfoJson(byte* buffer, int capacity)
    {
        try
        {
            var bytes = Encoding.UTF8.GetBytes(ModuleInfo.Json(c => ClassIds.Of(c).ToHex()));
            if (buffer != null && capacity >= bytes.Length) Marshal.Copy(bytes, 0, (nint)buffer, bytes.Length);
            return bytes.Length;
        }
        catch (Exception e) { Guard.Report(e); return -1; }
    }

    /// <summary>
    /// Managed bytes allocated inside every real-time IAudioProcessor::process call (not kOffline ones) since the
    /// library was loaded, summed over all instances and threads (diagnostics: tests and benchmarks prove the audio path allocates nothing through the
    /// real binary a host loads). Any thread.
    /// </summary>
    [UnmanagedCallersOnly(EntryPoint = "DiffusionPlugin_ProcessAllocatedBytes")]
    public static long ProcessAllocatedBytes() => ComponentObject.ProcessAllocatedBytes;

    /// <summary>An address inside this library, for dladdr.</summary>
    public static void* AnyFunctionAddress => (delegate* unmanaged<void*>)&GetPluginFactory;
}
