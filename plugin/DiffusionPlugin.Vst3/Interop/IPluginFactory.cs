using System.Runtime.InteropServices;
using DiffusionPlugin.Vst3.Plugin;

namespace DiffusionPlugin.Vst3.Interop;

/// <summary>PFactoryInfo: who made the module (vendor 64, url 256, email 128 chars, flags).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct PFactoryInfo
{
    public fixed byte Vendor[64];
    public fixed byte Url[256];
    public fixed byte Email[128];
    public int Flags;

    public const int FlagUnicode = 1 << 4;
}

/// <summary>PClassInfo: id, cardinality, category (32) and name (64).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct PClassInfo
{
    public fixed byte Cid[16];
    public int Cardinality;
    public fixed byte Category[32];
    public fixed byte Name[64];

    public const int ManyInstances = 0x7FFFFFFF;
}

/// <summary>
/// IPluginFactory: the module's entry object. Implemented together with IPluginFactory2 and 3 in one vtable,
/// since each extends the one before.
/// </summary>
internal static unsafe class IPluginFactory
{
    public static readonly Tuid Iid = Tuid.FromWords(0x7A4D811C, 0x52114A1F, 0xAED9D2EE, 0x0B43BF9F);
    public const int VtableEntries = FUnknown.VtableEntries + 4;

    public static void Fill(nint* v)
    {
        FUnknown.Fill(v);
        v[3] = (nint)(delegate* unmanaged<void*, PFactoryInfo*, int>)&GetFactoryInfo;
        v[4] = (nint)(delegate* unmanaged<void*, int>)&CountClasses;
        v[5] = (nint)(delegate* unmanaged<void*, int, PClassInfo*, int>)&GetClassInfo;
        v[6] = (nint)(delegate* unmanaged<void*, byte*, byte*, void**, int>)&CreateInstance;
    }

    [UnmanagedCallersOnly]
    private static int GetFactoryInfo(void* self, PFactoryInfo* info)
    {
        try
        {
            if (info == null) return Result.InvalidArgument;
            Strings.WriteAscii(info->Vendor, 64, PluginClasses.Vendor);
            Strings.WriteAscii(info->Url, 256, PluginClasses.Url);
            Strings.WriteAscii(info->Email, 128, PluginClasses.Email);
            info->Flags = PFactoryInfo.FlagUnicode;
            return Result.Ok;
        }
        catch (Exception e) { Guard.Report(e); return Result.InternalError; }
    }

    [UnmanagedCallersOnly]
    private static int CountClasses(void* self)
    {
        try { return PluginClasses.All.Count; }
        catch (Exception e) { Guard.Report(e); return 0; }
    }

    [UnmanagedCallersOnly]
    private static int GetClassInfo(void* self, int index, PClassInfo* info)
    {
        try
        {
            if (info == null || (uint)index >= (uint)PluginClasses.All.Count) return Result.InvalidArgument;
            var c = PluginClasses.All[index];
            ClassIds.Of(c).CopyTo(info->Cid);
            info->Cardinality = PClassInfo.ManyInstances;
            Strings.WriteAscii(info->Category, 32, PluginClasses.AudioModuleCategory);
            Strings.WriteAscii(info->Name, 64, c.Name);
            return Result.Ok;
        }
        catch (Exception e) { Guard.Report(e); return Result.InternalError; }
    }

    [UnmanagedCallersOnly]
    private static int CreateInstance(void* self, byte* cid, byte* iid, void** obj)
    {
        try
        {
            if (obj == null) return Result.InvalidArgument;
            *obj = null;
            foreach (var c in PluginClasses.All)
            {
                if (!ClassIds.Of(c).Matches(cid)) continue;
                var component = new ComponentObject(c);
                int r = component.QueryInterface(iid, obj);
                if (r != Result.Ok)
                {
                    // Nobody holds it: take one reference and drop it so the instance is freed.
                    component.AddRef();
                    component.Release();
                }
                return r;
            }
            return Result.False;
        }
        catch (Exception e) { Guard.Report(e); return Result.InternalError; }
    }
}
