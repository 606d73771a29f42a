namespace DiffusionPlugin.Vst3.Interop;

/// <summary>IComponentHandler, called on the host: beginEdit, performEdit, endEdit, restartComponent.</summary>
internal readonly unsafe struct IComponentHandler
{
    public static readonly Tuid Iid = Tuid.FromWords(0x93A0BEA3, 0x0BD045DB, 0x8E890B0C, 0xC1E46AC6);

    public const int LatencyChanged = 1 << 3;
    public const int ParamValuesChanged = 1 << 2;

    private readonly void* _handler;
    public IComponentHandler(void* handler) => _handler = handler;
    private nint* Vtbl => *(nint**)_handler;

    /// <summary>Asks the host to re-read what <paramref name="flags"/> names. UI/main thread only.</summary>
    public int RestartComponent(int flags) => ((delegate* unmanaged<void*, int, int>)Vtbl[6])(_handler, flags);
}
