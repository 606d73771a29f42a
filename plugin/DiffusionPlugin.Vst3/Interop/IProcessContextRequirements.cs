using System.Runtime.InteropServices;

namespace DiffusionPlugin.Vst3.Interop;

/// <summary>IProcessContextRequirements: which ProcessContext fields the plugin needs. Ours needs none.</summary>
internal static unsafe class IProcessContextRequirements
{
    public static readonly Tuid Iid = Tuid.FromWords(0x2A654303, 0xEF764E3D, 0x95B5FE83, 0x730EF6D0);
    public const int VtableEntries = 4;

    public static void Fill(nint* v)
    {
        FUnknown.Fill(v);
        v[3] = (nint)(delegate* unmanaged<void*, uint>)&GetProcessContextRequirements;
    }

    [UnmanagedCallersOnly]
    private static uint GetProcessContextRequirements(void* self) => 0;
}
