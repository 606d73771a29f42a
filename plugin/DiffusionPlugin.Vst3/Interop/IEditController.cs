using System.Runtime.InteropServices;

namespace DiffusionPlugin.Vst3.Interop;

/// <summary>ParameterInfo: id, title/short title/units (UTF-16, 128 each), step count, default, unit id, flags.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct ParameterInfo
{
    public uint Id;
    public fixed char Title[128];
    public fixed char ShortTitle[128];
    public fixed char Units[128];
    public int StepCount;
    public double DefaultNormalizedValue;
    public int UnitId;
    public int Flags;

    public const int CanAutomate = 1 << 0;
    public const int IsReadOnly = 1 << 1;
    public const int IsList = 1 << 3;
    public const int IsBypass = 1 << 16;
}

/// <summary>
/// IEditController: the parameter side. Implemented by the same object as IComponent (single component design:
/// getControllerClassId answers kResultFalse and hosts query the component for this interface).
/// </summary>
internal static unsafe class IEditController
{
    public static readonly Tuid Iid = Tuid.FromWords(0xDCD7BBE3, 0x7742448D, 0xA874AACC, 0x979C759E);
    public const int VtableEntries = 18;

    public static void Fill(nint* v)
    {
        FUnknown.Fill(v);
        v[3] = (nint)(delegate* unmanaged<void*, void*, int>)&IComponent.Initialize;
        v[4] = (nint)(delegate* unmanaged<void*, int>)&IComponent.Terminate;
        v[5] = (nint)(delegate* unmanaged<void*, void*, int>)&SetComponentState;
        v[6] = (nint)(delegate* unmanaged<void*, void*, int>)&SetState;
        v[7] = (nint)(delegate* unmanaged<void*, void*, int>)&GetState;
        v[8] = (nint)(delegate* unmanaged<void*, int>)&GetParameterCount;
        v[9] = (nint)(delegate* unmanaged<void*, int, ParameterInfo*, int>)&GetParameterInfo;
        v[10] = (nint)(delegate* unmanaged<void*, uint, double, char*, int>)&GetParamStringByValue;
        v[11] = (nint)(delegate* unmanaged<void*, uint, char*, double*, int>)&GetParamValueByString;
        v[12] = (nint)(delegate* unmanaged<void*, uint, double, double>)&NormalizedParamToPlain;
        v[13] = (nint)(delegate* unmanaged<void*, uint, double, double>)&PlainParamToNormalized;
        v[14] = (nint)(delegate* unmanaged<void*, uint, double>)&GetParamNormalized;
        v[15] = (nint)(delegate* unmanaged<void*, uint, double, int>)&SetParamNormalized;
        v[16] = (nint)(delegate* unmanaged<void*, void*, int>)&SetComponentHandler;
        v[17] = (nint)(delegate* unmanaged<void*, byte*, void*>)&CreateView;
    }

    private static ComponentObject Self(void* self) => NativeObject.From<ComponentObject>(self);

    [UnmanagedCallersOnly]
    private static int SetComponentState(void* self, void* stream)
    {
        // The component already holds this state (same object); nothing separate to mirror.
        try { return stream == null ? Result.InvalidArgument : Result.Ok; }
        catch (Exception e) { Guard.Report(e); return Result.InternalError; }
    }

    [UnmanagedCallersOnly]
    private static int SetState(void* self, void* stream) => Result.Ok;

    [UnmanagedCallersOnly]
    private static int GetState(void* self, void* stream) => Result.Ok;

    [UnmanagedCallersOnly]
    private static int GetParameterCount(void* self)
    {
        try { return Self(self).Plugin.Parameters.Count; }
        catch (Exception e) { Guard.Report(e); return 0; }
    }

    [UnmanagedCallersOnly]
    private static int GetParameterInfo(void* self, int index, ParameterInfo* info)
    {
        try
        {
            var parameters = Self(self).Plugin.Parameters;
            if (info == null || (uint)index >= (uint)parameters.Count) return Result.InvalidArgument;
            var p = parameters[index];
            *info = default;
            info->Id = p.Id;
            Strings.WriteUtf16(info->Title, 128, p.Title);
            Strings.WriteUtf16(info->ShortTitle, 128, p.ShortTitle);
            Strings.WriteUtf16(info->Units, 128, p.Units);
            info->StepCount = p.StepCount;
            info->DefaultNormalizedValue = p.DefaultNormalized;
            info->UnitId = 0; // kRootUnitId
            int flags = 0;
            if (p.ReadOnly) flags |= ParameterInfo.IsReadOnly; else flags |= ParameterInfo.CanAutomate;
            if (p.IsList) flags |= ParameterInfo.IsList;
            if (p.IsBypass) flags |= ParameterInfo.IsBypass;
            info->Flags = flags;
            return Result.Ok;
        }
        catch (Exception e) { Guard.Report(e); return Result.InternalError; }
    }

    [UnmanagedCallersOnly]
    private static int GetParamStringByValue(void* self, uint id, double normalized, char* text)
    {
        try
        {
            if (text == null) return Result.InvalidArgument;
            var p = Self(self).Plugin.Parameters.Find(id);
            if (p == null) return Result.InvalidArgument;
            Strings.WriteUtf16(text, 128, Self(self).Plugin.FormatParameter(p, normalized));
            return Result.Ok;
        }
        catch (Exception e) { Guard.Report(e); return Result.InternalError; }
    }

    [UnmanagedCallersOnly]
    private static int GetParamValueByString(void* self, uint id, char* text, double* normalized)
    {
        try
        {
            if (text == null || normalized == null) return Result.InvalidArgument;
            var p = Self(self).Plugin.Parameters.Find(id);
            if (p == null) return Result.InvalidArgument;
            if (!p.TryParse(Strings.ReadUtf16(text, 128), out double value)) return Result.False;
            *normalized = value;
            return Result.Ok;
        }
        catch (Exception e) { Guard.Report(e); return Result.InternalError; }
    }

    [UnmanagedCallersOnly]
    private static double NormalizedParamToPlain(void* self, uint id, double normalized)
    {
        try { return Self(self).Plugin.Parameters.Find(id)?.ToPlain(normalized) ?? normalized; }
        catch (Exception e) { Guard.Report(e); return normalized; }
    }

    [UnmanagedCallersOnly]
    private static double PlainParamToNormalized(void* self, uint id, double plain)
    {
        try { return Self(self).Plugin.Parameters.Find(id)?.ToNormalized(plain) ?? plain; }
        catch (Exception e) { Guard.Report(e); return 0; }
    }

    [UnmanagedCallersOnly]
    private static double GetParamNormalized(void* self, uint id)
    {
        try { return Self(self).Plugin.GetParameterNormalized(id); }
        catch (Exception e) { Guard.Report(e); return 0; }
    }

    [UnmanagedCallersOnly]
    private static int SetParamNormalized(void* self, uint id, double normalized)
    {
        try { return Self(self).Plugin.Parameters.TrySet(id, normalized) ? Result.Ok : Result.InvalidArgument; }
        catch (Exception e) { Guard.Report(e); return Result.InternalError; }
    }

    [UnmanagedCallersOnly]
    private static int SetComponentHandler(void* self, void* handler)
    {
        try { Self(self).SetComponentHandler(handler); return Result.Ok; }
        catch (Exception e) { Guard.Report(e); return Result.InternalError; }
    }

    [UnmanagedCallersOnly]
    private static void* CreateView(void* self, byte* name) => null; // no editor: hosts show generic controls
}
