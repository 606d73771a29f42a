using System.Runtime.InteropServices;

namespace DiffusionPlugin.Vst3.Interop;

/// <summary>FUnknown: queryInterface, addRef, release — the first three entries of every VST3 vtable.</summary>
internal static unsafe class FUnknown
{
    public static readonly Tuid Iid = Tuid.FromWords(0x00000000, 0x00000000, 0xC0000000, 0x00000046);
    public const int VtableEntries = 3;

    /// <summary>Writes the three FUnknown entries at the start of <paramref name="vtable"/>.</summary>
    public static void Fill(nint* vtable)
    {
        vtable[0] = (nint)(delegate* unmanaged<void*, byte*, void**, int>)&QueryInterface;
        vtable[1] = (nint)(delegate* unmanaged<void*, uint>)&AddRef;
        vtable[2] = (nint)(delegate* unmanaged<void*, uint>)&Release;
    }

    [UnmanagedCallersOnly]
    private static int QueryInterface(void* self, byte* iid, void** obj)
    {
        try { return NativeObject.From<NativeObject>(self).QueryInterface(iid, obj); }
        catch (Exception e) { Guard.Report(e); if (obj != null) *obj = null; return Result.InternalError; }
    }

    [UnmanagedCallersOnly]
    private static uint AddRef(void* self)
    {
        try { return NativeObject.From<NativeObject>(self).AddRef(); }
        catch (Exception e) { Guard.Report(e); return 0; }
    }

    [UnmanagedCallersOnly]
    private static uint Release(void* self)
    {
        try { return NativeObject.From<NativeObject>(self).Release(); }
        catch (Exception e) { Guard.Report(e); return 0; }
    }

    /// <summary>Calls release on a host object (vtable entry 2).</summary>
    public static void ReleaseHostObject(void* obj)
    {
        if (obj == null) return;
        var vtbl = *(nint**)obj;
        ((delegate* unmanaged<void*, uint>)vtbl[2])(obj);
    }

    /// <summary>Calls addRef on a host object (vtable entry 1).</summary>
    public static void AddRefHostObject(void* obj)
    {
        if (obj == null) return;
        var vtbl = *(nint**)obj;
        ((delegate* unmanaged<void*, uint>)vtbl[1])(obj);
    }

    /// <summary>Asks a host object for another interface; null when it has none.</summary>
    public static void* QueryHostObject(void* obj, in Tuid iid)
    {
        if (obj == null) return null;
        var vtbl = *(nint**)obj;
        void* result = null;
        var id = iid;
        Span<byte> bytes = id;
        fixed (byte* p = bytes)
        {
            int r = ((delegate* unmanaged<void*, byte*, void**, int>)vtbl[0])(obj, p, &result);
            return r == Result.Ok ? result : null;
        }
    }
}
