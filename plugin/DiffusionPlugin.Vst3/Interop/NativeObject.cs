using System.Runtime.InteropServices;

namespace DiffusionPlugin.Vst3.Interop;

/// <summary>
/// A managed object handed to the host as one C++-style object with several interface pointers.
/// Each interface gets a slot of two words in one unmanaged block: [vtable pointer, GCHandle of this object].
/// The host's reference count owns the object: at zero the handle and the block are freed.
/// </summary>
internal abstract unsafe class NativeObject
{
    private readonly nint* _slots;
    private readonly int _slotCount;
    private GCHandle _handle;
    private int _refCount;

    protected NativeObject(ReadOnlySpan<nint> vtables)
    {
        _slotCount = vtables.Length;
        _slots = (nint*)NativeMemory.AllocZeroed((nuint)(_slotCount * 2 * sizeof(nint)));
        _handle = GCHandle.Alloc(this, GCHandleType.Normal);
        for (int i = 0; i < _slotCount; i++)
        {
            _slots[2 * i] = vtables[i];
            _slots[2 * i + 1] = GCHandle.ToIntPtr(_handle);
        }
    }

    /// <summary>The interface pointer of slot <paramref name="index"/> (what the host calls methods on).</summary>
    protected void* Slot(int index) => _slots + 2 * index;

    /// <summary>The slot that implements <paramref name="iid"/>, or -1.</summary>
    protected abstract int SlotFor(byte* iid);

    /// <summary>Recovers the managed object behind an interface pointer the host passed back.</summary>
    public static T From<T>(void* self) where T : NativeObject
        => (T)GCHandle.FromIntPtr(((nint*)self)[1]).Target!;

    public int QueryInterface(byte* iid, void** obj)
    {
        if (obj == null) return Result.InvalidArgument;
        int slot = SlotFor(iid);
        if (slot < 0) { *obj = null; return Result.NoInterface; }
        AddRef();
        *obj = Slot(slot);
        return Result.Ok;
    }

    public uint AddRef() => (uint)Interlocked.Increment(ref _refCount);

    public uint Release()
    {
        int left = Interlocked.Decrement(ref _refCount);
        if (left == 0)
        {
            try { OnFinalRelease(); }
            finally
            {
                _handle.Free();
                NativeMemory.Free(_slots);
            }
        }
        return (uint)Math.Max(left, 0);
    }

    /// <summary>Called once when the host drops the last reference.</summary>
    protected virtual void OnFinalRelease() { }

    /// <summary>Builds a vtable in unmanaged memory that lives as long as the process (the library is never unloaded).</summary>
    public static nint* AllocateVtable(int entries) => (nint*)NativeMemory.AllocZeroed((nuint)(entries * sizeof(nint)));
}
