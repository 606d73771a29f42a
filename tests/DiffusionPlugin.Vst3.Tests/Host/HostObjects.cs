using System.Runtime.InteropServices;

namespace DiffusionPlugin.Vst3.Tests.Host;

/// <summary>
/// An object the test host hands to the plugin: one unmanaged block [vtable, GCHandle]. The host owns it
/// (reference counts are tracked only to see that the plugin balances them).
/// </summary>
internal abstract unsafe class HostObject : IDisposable
{
    private readonly nint* _block;
    private GCHandle _handle;
    public int RefCount;

    protected HostObject(nint vtable)
    {
        _handle = GCHandle.Alloc(this);
        _block = (nint*)NativeMemory.Alloc((nuint)(2 * sizeof(nint)));
        _block[0] = vtable;
        _block[1] = GCHandle.ToIntPtr(_handle);
        RefCount = 1;
    }

    public void* Pointer => _block;
    protected abstract byte[] Iid { get; }

    public static T From<T>(void* self) where T : HostObject => (T)GCHandle.FromIntPtr(((nint*)self)[1]).Target!;

    protected static nint* NewVtable(int entries)
    {
        var v = (nint*)NativeMemory.AllocZeroed((nuint)(entries * sizeof(nint)));
        v[0] = (nint)(delegate* unmanaged<void*, byte*, void**, int>)&QueryInterface;
        v[1] = (nint)(delegate* unmanaged<void*, uint>)&AddRef;
        v[2] = (nint)(delegate* unmanaged<void*, uint>)&Release;
        return v;
    }

    [UnmanagedCallersOnly]
    private static int QueryInterface(void* self, byte* iid, void** obj)
    {
        var o = From<HostObject>(self);
        var asked = new ReadOnlySpan<byte>(iid, 16);
        if (asked.SequenceEqual(o.Iid) || asked.SequenceEqual(Iids.FUnknown))
        {
            Interlocked.Increment(ref o.RefCount);
            *obj = self;
            return TResult.Ok;
        }
        *obj = null;
        return TResult.NoInterface;
    }

    [UnmanagedCallersOnly]
    private static uint AddRef(void* self) => (uint)Interlocked.Increment(ref From<HostObject>(self).RefCount);

    [UnmanagedCallersOnly]
    private static uint Release(void* self) => (uint)Interlocked.Decrement(ref From<HostObject>(self).RefCount);

    public void Dispose()
    {
        _handle.Free();
        NativeMemory.Free(_block);
    }
}

/// <summary>IBStream over a byte list: read, write, seek, tell.</summary>
internal sealed unsafe class HostStream : HostObject
{
    private static readonly nint Vtable = Build();
    public readonly List<byte> Bytes = new();
    public int Position;

    public HostStream(byte[]? contents = null) : base(Vtable) { if (contents != null) Bytes.AddRange(contents); }
    protected override byte[] Iid => Iids.BStream;

    private static nint Build()
    {
        var v = NewVtable(7);
        v[3] = (nint)(delegate* unmanaged<void*, byte*, int, int*, int>)&Read;
        v[4] = (nint)(delegate* unmanaged<void*, byte*, int, int*, int>)&Write;
        v[5] = (nint)(delegate* unmanaged<void*, long, int, long*, int>)&Seek;
        v[6] = (nint)(delegate* unmanaged<void*, long*, int>)&Tell;
        return (nint)v;
    }

    [UnmanagedCallersOnly]
    private static int Read(void* self, byte* buffer, int count, int* read)
    {
        var s = From<HostStream>(self);
        int n = Math.Max(0, Math.Min(count, s.Bytes.Count - s.Position));
        for (int i = 0; i < n; i++) buffer[i] = s.Bytes[s.Position + i];
        s.Position += n;
        if (read != null) *read = n;
        return TResult.Ok;
    }

    [UnmanagedCallersOnly]
    private static int Write(void* self, byte* buffer, int count, int* written)
    {
        var s = From<HostStream>(self);
        for (int i = 0; i < count; i++)
        {
            if (s.Position < s.Bytes.Count) s.Bytes[s.Position] = buffer[i]; else s.Bytes.Add(buffer[i]);
            s.Position++;
        }
        if (written != null) *written = count;
        return TResult.Ok;
    }

    [UnmanagedCallersOnly]
    private static int Seek(void* self, long pos, int mode, long* result)
    {
        var s = From<HostStream>(self);
        long target = mode switch { 0 => pos, 1 => s.Position + pos, _ => s.Bytes.Count + pos };
        if (target < 0 || target > s.Bytes.Count) return TResult.InvalidArgument;
        s.Position = (int)target;
        if (result != null) *result = target;
        return TResult.Ok;
    }

    [UnmanagedCallersOnly]
    private static int Tell(void* self, long* pos)
    {
        if (pos != null) *pos = From<HostStream>(self).Position;
        return TResult.Ok;
    }
}

/// <summary>IEventList of note-ons: getEventCount, getEvent, addEvent.</summary>
internal sealed unsafe class HostEventList : HostObject
{
    private static readonly nint Vtable = Build();
    public readonly List<NoteOnEvent> Events = new();

    public HostEventList() : base(Vtable) { }
    protected override byte[] Iid => Iids.EventList;

    public void NoteOn(int sampleOffset, int pitch, float velocity)
        => Events.Add(new NoteOnEvent { SampleOffset = sampleOffset, Type = 0, Pitch = (short)pitch, Velocity = velocity, NoteId = -1 });

    public void NoteOff(int sampleOffset, int pitch)
        => Events.Add(new NoteOnEvent { SampleOffset = sampleOffset, Type = 1, Pitch = (short)pitch, NoteId = -1 });

    private static nint Build()
    {
        var v = NewVtable(6);
        v[3] = (nint)(delegate* unmanaged<void*, int>)&Count;
        v[4] = (nint)(delegate* unmanaged<void*, int, NoteOnEvent*, int>)&Get;
        v[5] = (nint)(delegate* unmanaged<void*, NoteOnEvent*, int>)&Add;
        return (nint)v;
    }

    [UnmanagedCallersOnly] private static int Count(void* self) => From<HostEventList>(self).Events.Count;

    [UnmanagedCallersOnly]
    private static int Get(void* self, int index, NoteOnEvent* e)
    {
        var list = From<HostEventList>(self).Events;
        if ((uint)index >= (uint)list.Count) return TResult.InvalidArgument;
        *e = list[index];
        return TResult.Ok;
    }

    [UnmanagedCallersOnly] private static int Add(void* self, NoteOnEvent* e) { From<HostEventList>(self).Events.Add(*e); return TResult.Ok; }
}

/// <summary>IParamValueQueue: one parameter's points in a block.</summary>
internal sealed unsafe class HostParamQueue : HostObject
{
    private static readonly nint Vtable = Build();
    public readonly uint Id;
    public readonly List<(int Offset, double Value)> Points = new();

    public HostParamQueue(uint id) : base(Vtable) => Id = id;
    protected override byte[] Iid => Iids.ParamValueQueue;

    private static nint Build()
    {
        var v = NewVtable(7);
        v[3] = (nint)(delegate* unmanaged<void*, uint>)&GetId;
        v[4] = (nint)(delegate* unmanaged<void*, int>)&Count;
        v[5] = (nint)(delegate* unmanaged<void*, int, int*, double*, int>)&GetPoint;
        v[6] = (nint)(delegate* unmanaged<void*, int, double, int*, int>)&AddPoint;
        return (nint)v;
    }

    [UnmanagedCallersOnly] private static uint GetId(void* self) => From<HostParamQueue>(self).Id;
    [UnmanagedCallersOnly] private static int Count(void* self) => From<HostParamQueue>(self).Points.Count;

    [UnmanagedCallersOnly]
    private static int GetPoint(void* self, int index, int* offset, double* value)
    {
        var points = From<HostParamQueue>(self).Points;
        if ((uint)index >= (uint)points.Count) return TResult.InvalidArgument;
        *offset = points[index].Offset;
        *value = points[index].Value;
        return TResult.Ok;
    }

    [UnmanagedCallersOnly]
    private static int AddPoint(void* self, int offset, double value, int* index)
    {
        var points = From<HostParamQueue>(self).Points;
        points.Add((offset, value));
        *index = points.Count - 1;
        return TResult.Ok;
    }
}

/// <summary>IParameterChanges: the queues of one block.</summary>
internal sealed unsafe class HostParameterChanges : HostObject
{
    private static readonly nint Vtable = Build();
    public readonly List<HostParamQueue> Queues = new();

    public HostParameterChanges() : base(Vtable) { }
    protected override byte[] Iid => Iids.ParameterChanges;

    public void Set(uint id, double normalized, int offset = 0)
    {
        var q = new HostParamQueue(id);
        q.Points.Add((offset, normalized));
        Queues.Add(q);
    }

    private static nint Build()
    {
        var v = NewVtable(6);
        v[3] = (nint)(delegate* unmanaged<void*, int>)&Count;
        v[4] = (nint)(delegate* unmanaged<void*, int, void*>)&GetData;
        v[5] = (nint)(delegate* unmanaged<void*, uint*, int*, void*>)&AddData;
        return (nint)v;
    }

    [UnmanagedCallersOnly] private static int Count(void* self) => From<HostParameterChanges>(self).Queues.Count;

    [UnmanagedCallersOnly]
    private static void* GetData(void* self, int index)
    {
        var queues = From<HostParameterChanges>(self).Queues;
        return (uint)index < (uint)queues.Count ? queues[index].Pointer : null;
    }

    /// <summary>Output lists: the plugin asks for a parameter's queue, created on first use (as a host does).</summary>
    [UnmanagedCallersOnly]
    private static void* AddData(void* self, uint* id, int* index)
    {
        var queues = From<HostParameterChanges>(self).Queues;
        for (int i = 0; i < queues.Count; i++)
        {
            if (queues[i].Id != *id) continue;
            *index = i;
            return queues[i].Pointer;
        }
        var q = new HostParamQueue(*id);
        queues.Add(q);
        *index = queues.Count - 1;
        return q.Pointer;
    }

    public new void Dispose()
    {
        foreach (var q in Queues) q.Dispose();
        base.Dispose();
    }
}

/// <summary>IComponentHandler that records what the plugin asks for.</summary>
internal sealed unsafe class HostComponentHandler : HostObject
{
    private static readonly nint Vtable = Build();
    public readonly List<int> RestartFlags = new();
    public readonly List<(uint Id, double Value)> Edits = new();

    public HostComponentHandler() : base(Vtable) { }
    protected override byte[] Iid => Iids.ComponentHandler;

    private static nint Build()
    {
        var v = NewVtable(7);
        v[3] = (nint)(delegate* unmanaged<void*, uint, int>)&BeginEdit;
        v[4] = (nint)(delegate* unmanaged<void*, uint, double, int>)&PerformEdit;
        v[5] = (nint)(delegate* unmanaged<void*, uint, int>)&EndEdit;
        v[6] = (nint)(delegate* unmanaged<void*, int, int>)&Restart;
        return (nint)v;
    }

    [UnmanagedCallersOnly] private static int BeginEdit(void* self, uint id) => TResult.Ok;
    [UnmanagedCallersOnly] private static int PerformEdit(void* self, uint id, double v) { From<HostComponentHandler>(self).Edits.Add((id, v)); return TResult.Ok; }
    [UnmanagedCallersOnly] private static int EndEdit(void* self, uint id) => TResult.Ok;
    [UnmanagedCallersOnly] private static int Restart(void* self, int flags) { From<HostComponentHandler>(self).RestartFlags.Add(flags); return TResult.Ok; }
}
