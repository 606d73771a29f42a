namespace DiffusionPlugin.Vst3.Interop;

/// <summary>IParameterChanges, called on the host's list of per-parameter queues: getParameterCount, getParameterData, addParameterData.</summary>
internal readonly unsafe struct IParameterChanges
{
    public static readonly Tuid Iid = Tuid.FromWords(0xA4779663, 0x0BB64A56, 0xB44384A8, 0x466FEB9D);

    private readonly void* _changes;
    public IParameterChanges(void* changes) => _changes = changes;
    private nint* Vtbl => *(nint**)_changes;

    public int Count => ((delegate* unmanaged<void*, int>)Vtbl[3])(_changes);

    public IParamValueQueue Queue(int index) => new(((delegate* unmanaged<void*, int, void*>)Vtbl[4])(_changes, index));

    /// <summary>The host's queue for <paramref name="id"/> in an output list (created on first use); null if refused.</summary>
    public IParamValueQueue AddParameterData(uint id)
    {
        int index = 0;
        return new(((delegate* unmanaged<void*, uint*, int*, void*>)Vtbl[5])(_changes, &id, &index));
    }
}
