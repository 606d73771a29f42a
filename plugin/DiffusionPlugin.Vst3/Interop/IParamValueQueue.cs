namespace DiffusionPlugin.Vst3.Interop;

/// <summary>IParamValueQueue, called on one host queue: getParameterId, getPointCount, getPoint, addPoint.</summary>
internal readonly unsafe struct IParamValueQueue
{
    public static readonly Tuid Iid = Tuid.FromWords(0x01263A18, 0xED074F6F, 0x98C9D356, 0x4686F9BA);

    private readonly void* _queue;
    public IParamValueQueue(void* queue) => _queue = queue;
    private nint* Vtbl => *(nint**)_queue;

    public bool IsNull => _queue == null;
    public uint ParameterId => ((delegate* unmanaged<void*, uint>)Vtbl[3])(_queue);
    public int PointCount => ((delegate* unmanaged<void*, int>)Vtbl[4])(_queue);

    public bool TryGetPoint(int index, out int sampleOffset, out double value)
    {
        int offset = 0;
        double v = 0;
        int r = ((delegate* unmanaged<void*, int, int*, double*, int>)Vtbl[5])(_queue, index, &offset, &v);
        sampleOffset = offset;
        value = v;
        return r == Result.Ok;
    }

    /// <summary>Appends a point (output queues); true when the host took it.</summary>
    public bool AddPoint(int sampleOffset, double value)
    {
        int index = 0;
        return ((delegate* unmanaged<void*, int, double, int*, int>)Vtbl[6])(_queue, sampleOffset, value, &index) == Result.Ok;
    }
}
