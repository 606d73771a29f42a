using System.Runtime.InteropServices;
using DiffusionPlugin.Vst3.Plugin;

namespace DiffusionPlugin.Vst3.Interop;

/// <summary>PClassInfoW: PClassInfo2 with UTF-16 name, vendor, version and SDK version.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct PClassInfoW
{
    public fixed byte Cid[16];
    public int Cardinality;
    public fixed byte Category[32];
    public fixed char Name[64];
    public uint ClassFlags;
    public fixed byte SubCategories[128];
    public fixed char Vendor[64];
    public fixed char Version[64];
    public fixed char SdkVersion[64];
}

/// <summary>IPluginFactory3: adds Unicode class infos and the host context. The one factory object implements 1, 2 and 3.</summary>
internal static unsafe class IPluginFactory3
{
    public static readonly Tuid Iid = Tuid.FromWords(0x4555A2AB, 0xC1234E57, 0x9B122910, 0x36878931);
    public const int VtableEntries = IPluginFactory2.VtableEntries + 2;

    public static void Fill(nint* v)
    {
        IPluginFactory2.Fill(v);
        v[8] = (nint)(delegate* unmanaged<void*, int, PClassInfoW*, int>)&GetClassInfoUnicode;
        v[9] = (nint)(delegate* unmanaged<void*, void*, int>)&SetHostContext;
    }

    [UnmanagedCallersOnly]
    private static int GetClassInfoUnicode(void* self, int index, PClassInfoW* info)
    {
        try
        {
            if (info == null || (uint)index >= (uint)PluginClasses.All.Count) return Result.InvalidArgument;
            var c = PluginClasses.All[index];
            ClassIds.Of(c).CopyTo(info->Cid);
            info->Cardinality = PClassInfo.ManyInstances;
            Strings.WriteAscii(info->Category, 32, PluginClasses.AudioModuleCategory);
            Strings.WriteUtf16(info->Name, 64, c.Name);
            info->ClassFlags = 0;
            Strings.WriteAscii(info->SubCategories, 128, c.SubCategories);
            Strings.WriteUtf16(info->Vendor, 64, PluginClasses.Vendor);
            Strings.WriteUtf16(info->Version, 64, PluginClasses.Version);
            Strings.WriteUtf16(info->SdkVersion, 64, PluginClasses.SdkVersion);
            return Result.Ok;
        }
        catch (Exception e) { Guard.Report(e); return Result.InternalError; }
    }

    [UnmanagedCallersOnly]
    private static int SetHostContext(void* self, void* context) => Result.Ok;
}
