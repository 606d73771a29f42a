using System.Runtime.InteropServices;

namespace DiffusionPlugin.Vst3.Interop;

/// <summary>BusInfo: media type, direction, channel count, UTF-16 name (128), bus type, flags.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct BusInfo
{
    public int MediaType;
    public int Direction;
    public int ChannelCount;
    public fixed char Name[128];
    public int BusType;
    public uint Flags;

    public const uint DefaultActive = 1;
}

/// <summary>RoutingInfo: media type, bus index, channel.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct RoutingInfo
{
    public int MediaType;
    public int BusIndex;
    public int Channel;
}

/// <summary>Media types and bus directions.</summary>
internal static class MediaTypes
{
    public const int Audio = 0;
    public const int Event = 1;
    public const int Input = 0;
    public const int Output = 1;
}

/// <summary>IComponent: buses, activation and state of the processing part.</summary>
internal static unsafe class IComponent
{
    public static readonly Tuid Iid = Tuid.FromWords(0xE831FF31, 0xF2D54301, 0x928EBBEE, 0x25697802);
    public const int VtableEntries = 14;

    public static void Fill(nint* v)
    {
        FUnknown.Fill(v);
        v[3] = (nint)(delegate* unmanaged<void*, void*, int>)&Initialize;
        v[4] = (nint)(delegate* unmanaged<void*, int>)&Terminate;
        v[5] = (nint)(delegate* unmanaged<void*, byte*, int>)&GetControllerClassId;
        v[6] = (nint)(delegate* unmanaged<void*, int, int>)&SetIoMode;
        v[7] = (nint)(delegate* unmanaged<void*, int, int, int>)&GetBusCount;
        v[8] = (nint)(delegate* unmanaged<void*, int, int, int, BusInfo*, int>)&GetBusInfo;
        v[9] = (nint)(delegate* unmanaged<void*, RoutingInfo*, RoutingInfo*, int>)&GetRoutingInfo;
        v[10] = (nint)(delegate* unmanaged<void*, int, int, int, byte, int>)&ActivateBus;
        v[11] = (nint)(delegate* unmanaged<void*, byte, int>)&SetActive;
        v[12] = (nint)(delegate* unmanaged<void*, void*, int>)&SetState;
        v[13] = (nint)(delegate* unmanaged<void*, void*, int>)&GetState;
    }

    private static ComponentObject Self(void* self) => NativeObject.From<ComponentObject>(self);

    [UnmanagedCallersOnly]
    internal static int Initialize(void* self, void* context)
    {
        try { return Self(self).Initialize(context); }
        catch (Exception e) { Guard.Report(e); return Result.InternalError; }
    }

    [UnmanagedCallersOnly]
    internal static int Terminate(void* self)
    {
        try { return Self(self).Terminate(); }
        catch (Exception e) { Guard.Report(e); return Result.InternalError; }
    }

    [UnmanagedCallersOnly]
    private static int GetControllerClassId(void* self, byte* classId)
    {
        // Single component: the controller is this object (queryInterface IEditController), there is no separate class.
        try
        {
            if (classId != null) new Span<byte>(classId, 16).Clear();
            return Result.False;
        }
        catch (Exception e) { Guard.Report(e); return Result.InternalError; }
    }

    [UnmanagedCallersOnly]
    private static int SetIoMode(void* self, int mode) => Result.Ok;

    [UnmanagedCallersOnly]
    private static int GetBusCount(void* self, int mediaType, int direction)
    {
        try { return Self(self).GetBusCount(mediaType, direction); }
        catch (Exception e) { Guard.Report(e); return 0; }
    }

    [UnmanagedCallersOnly]
    private static int GetBusInfo(void* self, int mediaType, int direction, int index, BusInfo* info)
    {
        try { return info == null ? Result.InvalidArgument : Self(self).GetBusInfo(mediaType, direction, index, info); }
        catch (Exception e) { Guard.Report(e); return Result.InternalError; }
    }

    [UnmanagedCallersOnly]
    private static int GetRoutingInfo(void* self, RoutingInfo* inInfo, RoutingInfo* outInfo) => Result.NotImplemented;

    [UnmanagedCallersOnly]
    private static int ActivateBus(void* self, int mediaType, int direction, int index, byte state)
    {
        try { return Self(self).ActivateBus(mediaType, direction, index, state != 0); }
        catch (Exception e) { Guard.Report(e); return Result.InternalError; }
    }

    [UnmanagedCallersOnly]
    private static int SetActive(void* self, byte state)
    {
        try { return Self(self).SetActive(state != 0); }
        catch (Exception e) { Guard.Report(e); return Result.InternalError; }
    }

    [UnmanagedCallersOnly]
    private static int SetState(void* self, void* stream)
    {
        try { return Self(self).SetState(stream); }
        catch (Exception e) { Guard.Report(e); return Result.InternalError; }
    }

    [UnmanagedCallersOnly]
    private static int GetState(void* self, void* stream)
    {
        try { return Self(self).GetState(stream); }
        catch (Exception e) { Guard.Report(e); return Result.InternalError; }
    }
}
