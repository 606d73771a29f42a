using System.Runtime.InteropServices;

namespace DiffusionPlugin.Vst3.Interop;

/// <summary>
/// Event (48 bytes on 64-bit): bus, sample offset, ppq position, flags, type, then a union whose note-on and
/// note-off members are read through the offsets below.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 48)]
internal struct Event
{
    [FieldOffset(0)] public int BusIndex;
    [FieldOffset(4)] public int SampleOffset;
    [FieldOffset(8)] public double PpqPosition;
    [FieldOffset(16)] public ushort Flags;
    [FieldOffset(18)] public ushort Type;
    // NoteOnEvent: channel, pitch, tuning, velocity, length, noteId.
    [FieldOffset(24)] public short Channel;
    [FieldOffset(26)] public short Pitch;
    [FieldOffset(28)] public float NoteOnTuning;
    [FieldOffset(32)] public float NoteOnVelocity;
    // NoteOffEvent: channel, pitch, velocity, noteId, tuning.
    [FieldOffset(28)] public float NoteOffVelocity;

    public const ushort NoteOn = 0;
    public const ushort NoteOff = 1;
}

/// <summary>IEventList, called on the host's list: getEventCount, getEvent, addEvent.</summary>
internal readonly unsafe struct IEventList
{
    public static readonly Tuid Iid = Tuid.FromWords(0x3A2C4214, 0x346349FE, 0xB2C4F397, 0xB9695A44);

    private readonly void* _list;
    public IEventList(void* list) => _list = list;
    private nint* Vtbl => *(nint**)_list;

    public int Count => ((delegate* unmanaged<void*, int>)Vtbl[3])(_list);

    public bool TryGet(int index, out Event e)
    {
        Event local = default;
        int r = ((delegate* unmanaged<void*, int, Event*, int>)Vtbl[4])(_list, index, &local);
        e = local;
        return r == Result.Ok;
    }
}
