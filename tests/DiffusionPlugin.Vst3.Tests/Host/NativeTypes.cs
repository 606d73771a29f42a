using System.Runtime.InteropServices;

namespace DiffusionPlugin.Vst3.Tests.Host;

// The host side of the VST3 binary interface, written for the tests from the SDK's interface definitions
// (pluginterfaces/base and pluginterfaces/vst). Deliberately independent of the plugin's own Interop folder,
// so a layout mistake there shows up here instead of being mirrored.

/// <summary>Interface ids as Linux lays them out: each 32-bit word big-endian.</summary>
internal static class Iids
{
    public static byte[] Make(uint a, uint b, uint c, uint d)
    {
        var id = new byte[16];
        for (int w = 0; w < 4; w++)
        {
            uint v = w switch { 0 => a, 1 => b, 2 => c, _ => d };
            id[4 * w] = (byte)(v >> 24); id[4 * w + 1] = (byte)(v >> 16); id[4 * w + 2] = (byte)(v >> 8); id[4 * w + 3] = (byte)v;
        }
        return id;
    }

    public static readonly byte[] FUnknown = Make(0x00000000, 0x00000000, 0xC0000000, 0x00000046);
    public static readonly byte[] PluginFactory2 = Make(0x0007B650, 0xF24B4C0B, 0xA464EDB9, 0xF00B2ABB);
    public static readonly byte[] PluginFactory3 = Make(0x4555A2AB, 0xC1234E57, 0x9B122910, 0x36878931);
    public static readonly byte[] Component = Make(0xE831FF31, 0xF2D54301, 0x928EBBEE, 0x25697802);
    public static readonly byte[] AudioProcessor = Make(0x42043F99, 0xB7DA453C, 0xA569E79D, 0x9AAEC33D);
    public static readonly byte[] EditController = Make(0xDCD7BBE3, 0x7742448D, 0xA874AACC, 0x979C759E);
    public static readonly byte[] ProcessContextRequirements = Make(0x2A654303, 0xEF764E3D, 0x95B5FE83, 0x730EF6D0);
    public static readonly byte[] BStream = Make(0xC3BF6EA2, 0x30994752, 0x9B6BF990, 0x1EE33E9B);
    public static readonly byte[] EventList = Make(0x3A2C4214, 0x346349FE, 0xB2C4F397, 0xB9695A44);
    public static readonly byte[] ParameterChanges = Make(0xA4779663, 0x0BB64A56, 0xB44384A8, 0x466FEB9D);
    public static readonly byte[] ParamValueQueue = Make(0x01263A18, 0xED074F6F, 0x98C9D356, 0x4686F9BA);
    public static readonly byte[] ComponentHandler = Make(0x93A0BEA3, 0x0BD045DB, 0x8E890B0C, 0xC1E46AC6);
}

internal static class TResult
{
    public const int Ok = 0, False = 1, InvalidArgument = 2, NoInterface = -1;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct PClassInfo2
{
    public fixed byte Cid[16];
    public int Cardinality;
    public fixed byte Category[32];
    public fixed byte Name[64];
    public uint ClassFlags;
    public fixed byte SubCategories[128];
    public fixed byte Vendor[64];
    public fixed byte Version[64];
    public fixed byte SdkVersion[64];
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct PClassInfoW
{
    public fixed byte Cid[16];
    public int Cardinality;
    public fixed byte Category[32];
    public fixed char Name[64];
    public uint ClassFlags;
    public fixed byte SubCategories[128];
    public fixed char Vendor[64];
    public fixed char Version[64];
    public fixed char SdkVersion[64];
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct BusInfo
{
    public int MediaType, Direction, ChannelCount;
    public fixed char Name[128];
    public int BusType;
    public uint Flags;
}

[StructLayout(LayoutKind.Sequential)]
internal struct ProcessSetup
{
    public int ProcessMode, SymbolicSampleSize, MaxSamplesPerBlock;
    public double SampleRate;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct AudioBusBuffers
{
    public int NumChannels;
    public ulong SilenceFlags;
    public float** Channels32;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct ProcessData
{
    public int ProcessMode, SymbolicSampleSize, NumSamples, NumInputs, NumOutputs;
    public AudioBusBuffers* Inputs;
    public AudioBusBuffers* Outputs;
    public void* InputParameterChanges, OutputParameterChanges, InputEvents, OutputEvents, ProcessContext;
}

/// <summary>Event with the note-on member of the union: 48 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NoteOnEvent
{
    public int BusIndex, SampleOffset;
    public double PpqPosition;
    public ushort Flags, Type;
    public int UnionPadding; // the union starts 8-aligned, at byte 24
    public short Channel, Pitch;
    public float Tuning, Velocity;
    public int Length, NoteId;
    public int Tail;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct ParameterInfo
{
    public uint Id;
    public fixed char Title[128];
    public fixed char ShortTitle[128];
    public fixed char Units[128];
    public int StepCount;
    public double DefaultNormalizedValue;
    public int UnitId, Flags;
}
