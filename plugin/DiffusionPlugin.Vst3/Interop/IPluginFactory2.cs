using System.Runtime.InteropServices;
using DiffusionPlugin.Vst3.Plugin;

namespace DiffusionPlugin.Vst3.Interop;

/// <summary>PClassInfo2: PClassInfo plus class flags, sub-categories, vendor, version and SDK version.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct PClassInfo2
{
    public fixed byte Cid[16];
    public int Cardinality;
    public fixed byte Category[32];
    public fixed byte Name[64];
    public uint ClassFlags;
    public fixed byte SubCategories[128];
    public fixed byte Vendor[64];
    public fixed byte Version[64];
    public fixed byte SdkVersion[64];
}

/// <summary>IPluginFactory2: adds getClassInfo2.</summary>
internal static unsafe class IPluginFactory2
{
    public static readonly Tuid Iid = Tuid.FromWords(0x0007B650, 0xF24B4C0B, 0xA464EDB9, 0xF00B2ABB);
    public const int VtableEntries = IPluginFactory.VtableEntries + 1;

    public static void Fill(nint* v)
    {
        IPluginFactory.Fill(v);
        v[7] = (nint)(delegate* unmanaged<void*, int, PClassInfo2*, int>)&GetClassInfo2;
    }

    [UnmanagedCallersOnly]
    private static int GetClassInfo2(void* self, int index, PClassInfo2* info)
    {
        try
        {
            if (info == null || (uint)index >= (uint)PluginClasses.All.Count) return Result.InvalidArgument;
            var c = PluginClasses.All[index];
            ClassIds.Of(c).CopyTo(info->Cid);
            info->Cardinality = PClassInfo.ManyInstances;
            Strings.WriteAscii(info->Category, 32, PluginClasses.AudioModuleCategory);
            Strings.WriteAscii(info->Name, 64, c.Name);
            info->ClassFlags = 0;
            Strings.WriteAscii(info->SubCategories, 128, c.SubCategories);
            Strings.WriteAscii(info->Vendor, 64, PluginClasses.Vendor);
            Strings.WriteAscii(info->Version, 64, PluginClasses.Version);
            Strings.WriteAscii(info->SdkVersion, 64, PluginClasses.SdkVersion);
            return Result.Ok;
        }
        catch (Exception e) { Guard.Report(e); return Result.InternalError; }
    }
}
