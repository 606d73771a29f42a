using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace DiffusionPlugin.Engine.Realtime;

/// <summary>A 64-bit index alone on its own cache lines (128 bytes of padding each side). Not generic: explicit layout must not be.</summary>
[StructLayout(LayoutKind.Explicit, Size = 256)]
internal struct PaddedIndex
{
    [FieldOffset(128)] public long Value;
}

/// <summary>
/// A bounded, lock-free single-producer / single-consumer ring of unmanaged items (audio samples, hit handles,
/// requests). Capacity is a power of two fixed at construction; nothing is allocated afterwards.
/// </summary>
/// <remarks>
/// <para>Thread rules: exactly one thread calls the producer members (<see cref="TryWrite(in T)"/>,
/// <see cref="Write(ReadOnlySpan{T})"/>, <see cref="FreeCount"/>) and exactly one thread calls the consumer members
/// (<see cref="TryRead(out T)"/>, <see cref="Read(Span{T})"/>, <see cref="Count"/>). Either may be the audio thread.</para>
/// <para>Memory ordering. The producer stores the items first and then publishes the new tail with
/// <c>Volatile.Write</c> (a release store); the consumer loads the tail with
/// <c>Volatile.Read</c> (an acquire load) before it reads the items, so every item it sees below the
/// tail is completely written. Symmetrically the consumer releases the head after it has copied the items out, and the
/// producer acquires the head before it reuses those slots, so a slot is never overwritten while being read.
/// Each side also keeps a private cached copy of the other side's index and re-reads the shared one only when the cache
/// says the ring looks full (producer) or empty (consumer): this keeps the two cache lines from bouncing on every item.
/// Head and tail are 64-bit and only ever grow, so wrap-around is a mask, never a comparison of wrapped values.</para>
/// <para>Head, tail and the cached copies live on separate 128-byte lines (<see cref="PaddedIndex"/>) so the producer
/// and the consumer never false-share (128 bytes covers adjacent-line prefetch on x86 and 128-byte lines on Apple/ARM).</para>
/// </remarks>
public sealed class SpscRing<T> where T : unmanaged
{
    private readonly T[] _items;
    private readonly long _mask;
    private PaddedIndex _head;        // next item to read; written by the consumer only
    private PaddedIndex _tail;        // next slot to write; written by the producer only
    private PaddedIndex _cachedHead;  // producer's private copy of _head
    private PaddedIndex _cachedTail;  // consumer's private copy of _tail

    /// <summary>Creates a ring holding at least <paramref name="minimumCapacity"/> items (rounded up to a power of two). Any thread.</summary>
    public SpscRing(int minimumCapacity)
    {
        if (minimumCapacity < 1 || minimumCapacity > 1 << 30)
            throw new ArgumentOutOfRangeException(nameof(minimumCapacity), minimumCapacity, "capacity must be 1..2^30");
        int capacity = (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)minimumCapacity);
        _items = new T[capacity];
        _mask = capacity - 1;
    }

    /// <summary>Number of slots (a power of two). Any thread.</summary>
    public int Capacity => _items.Length;

    /// <summary>Items ready to read. Exact for the consumer, a lower bound for anyone else.</summary>
    public int Count => (int)(Volatile.Read(ref _tail.Value) - Volatile.Read(ref _head.Value));

    /// <summary>Slots free to write. Exact for the producer, a lower bound for anyone else.</summary>
    public int FreeCount => _items.Length - (int)(Volatile.Read(ref _tail.Value) - Volatile.Read(ref _head.Value));

    /// <summary>Appends one item; false (and nothing written) when the ring is full. Producer thread only.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryWrite(in T item)
    {
        long tail = _tail.Value; // only this thread writes it
        if (tail - _cachedHead.Value >= _items.Length)
        {
            _cachedHead.Value = Volatile.Read(ref _head.Value); // acquire: the consumer is done with those slots
            if (tail - _cachedHead.Value >= _items.Length) return false;
        }
        _items[tail & _mask] = item;
        Volatile.Write(ref _tail.Value, tail + 1); // release: the item is visible before the new tail
        return true;
    }

    /// <summary>Appends as many of <paramref name="items"/> as fit, in order; returns how many. Producer thread only.</summary>
    public int Write(ReadOnlySpan<T> items)
    {
        long tail = _tail.Value;
        long free = _items.Length - (tail - _cachedHead.Value);
        if (free < items.Length)
        {
            _cachedHead.Value = Volatile.Read(ref _head.Value);
            free = _items.Length - (tail - _cachedHead.Value);
        }
        int n = (int)Math.Min(free, items.Length);
        if (n <= 0) return 0;
        int start = (int)(tail & _mask);
        int first = Math.Min(n, _items.Length - start);
        items[..first].CopyTo(_items.AsSpan(start, first));
        if (n > first) items.Slice(first, n - first).CopyTo(_items.AsSpan(0, n - first));
        Volatile.Write(ref _tail.Value, tail + n);
        return n;
    }

    /// <summary>Takes the oldest item; false when the ring is empty. Consumer thread only.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryRead(out T item)
    {
        long head = _head.Value; // only this thread writes it
        if (head >= _cachedTail.Value)
        {
            _cachedTail.Value = Volatile.Read(ref _tail.Value); // acquire: items below the tail are written
            if (head >= _cachedTail.Value) { item = default; return false; }
        }
        item = _items[head & _mask];
        Volatile.Write(ref _head.Value, head + 1); // release: the slot may be reused only after we copied it
        return true;
    }

    /// <summary>Takes up to <paramref name="destination"/>.Length oldest items, in order; returns how many. Consumer thread only.</summary>
    public int Read(Span<T> destination)
    {
        long head = _head.Value;
        long available = _cachedTail.Value - head;
        if (available < destination.Length)
        {
            _cachedTail.Value = Volatile.Read(ref _tail.Value);
            available = _cachedTail.Value - head;
        }
        int n = (int)Math.Min(available, destination.Length);
        if (n <= 0) return 0;
        int start = (int)(head & _mask);
        int first = Math.Min(n, _items.Length - start);
        _items.AsSpan(start, first).CopyTo(destination);
        if (n > first) _items.AsSpan(0, n - first).CopyTo(destination[first..]);
        Volatile.Write(ref _head.Value, head + n);
        return n;
    }

    /// <summary>
    /// Forgets every item. Only while neither side is running (e.g. between Deactivate and Activate).
    /// </summary>
    public void Reset()
    {
        Volatile.Write(ref _head.Value, 0);
        Volatile.Write(ref _tail.Value, 0);
        _cachedHead.Value = 0;
        _cachedTail.Value = 0;
    }
}
