using System.Runtime.InteropServices;

namespace DiffusionPlugin.Vst3.Interop;

/// <summary>Finds the file this shared library was loaded from (dladdr on one of its own functions).</summary>
internal static unsafe partial class ModulePath
{
    [StructLayout(LayoutKind.Sequential)]
    private struct DlInfo
    {
        public byte* FileName;
        public void* BaseAddress;
        public byte* SymbolName;
        public void* SymbolAddress;
    }

    [LibraryImport("libc.so.6", EntryPoint = "dladdr")]
    private static partial int DlAddr(void* address, DlInfo* info);

    /// <summary>Absolute path of the loaded .so, or null when it cannot be told (e.g. running as managed code in tests).</summary>
    public static string? OfThisLibrary()
    {
        try
        {
            DlInfo info;
            if (DlAddr(Exports.AnyFunctionAddress, &info) == 0 || info.FileName == null) return null;
            var path = Strings.ReadAscii(info.FileName, 4096);
            if (!path.EndsWith(".so", StringComparison.Ordinal)) return null;
            return Path.GetFullPath(path);
        }
        catch (Exception)
        {
            return null;
        }
    }
}
