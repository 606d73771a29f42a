namespace DiffusionPlugin.Vst3.Interop;

/// <summary>The module's single factory object (IPluginFactory, 2 and 3 through one vtable). Lives as long as the process.</summary>
internal sealed unsafe class FactoryObject : NativeObject
{
    private static readonly nint Vtable = BuildVtable();
    private static FactoryObject? _instance;
    private static readonly object Gate = new();

    private FactoryObject() : base([Vtable]) { AddRef(); }

    private static nint BuildVtable()
    {
        var v = AllocateVtable(IPluginFactory3.VtableEntries);
        IPluginFactory3.Fill(v);
        return (nint)v;
    }

    /// <summary>The factory pointer GetPluginFactory hands out, with one reference for the caller.</summary>
    public static void* Get()
    {
        lock (Gate)
        {
            // The module keeps its own reference, so a host releasing its last one never frees the shared factory.
            _instance ??= new FactoryObject();
            _instance.AddRef();
            return _instance.Slot(0);
        }
    }

    protected override int SlotFor(byte* iid)
        => FUnknown.Iid.Matches(iid) || IPluginFactory.Iid.Matches(iid) || IPluginFactory2.Iid.Matches(iid)
           || IPluginFactory3.Iid.Matches(iid) ? 0 : -1;
}
