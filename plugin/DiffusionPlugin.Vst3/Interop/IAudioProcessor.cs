using System.Runtime.InteropServices;

namespace DiffusionPlugin.Vst3.Interop;

/// <summary>ProcessSetup: mode, sample size, max block, sample rate.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct ProcessSetup
{
    public int ProcessMode;
    public int SymbolicSampleSize;
    public int MaxSamplesPerBlock;
    public double SampleRate;

    public const int ModeOffline = 2;
    public const int Sample32 = 0;
    public const int Sample64 = 1;
}

/// <summary>AudioBusBuffers: channel count, silence flags, channel pointers (float** for 32-bit).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct AudioBusBuffers
{
    public int NumChannels;
    public ulong SilenceFlags;
    public void** ChannelBuffers;
}

/// <summary>ProcessData: everything one process call gets.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct ProcessData
{
    public int ProcessMode;
    public int SymbolicSampleSize;
    public int NumSamples;
    public int NumInputs;
    public int NumOutputs;
    public AudioBusBuffers* Inputs;
    public AudioBusBuffers* Outputs;
    public void* InputParameterChanges;
    public void* OutputParameterChanges;
    public void* InputEvents;
    public void* OutputEvents;
    public void* ProcessContext;
}

/// <summary>Speaker arrangements this plugin understands.</summary>
internal static class Speakers
{
    public const ulong Mono = 1UL << 19;
    public const ulong Stereo = 0x3;

    public static int ChannelCount(ulong arrangement) => System.Numerics.BitOperations.PopCount(arrangement);
    public static ulong ForChannels(int channels) => channels == 1 ? Mono : channels == 2 ? Stereo : 0;
}

/// <summary>IAudioProcessor: arrangements, setup, latency and the process call.</summary>
internal static unsafe class IAudioProcessor
{
    public static readonly Tuid Iid = Tuid.FromWords(0x42043F99, 0xB7DA453C, 0xA569E79D, 0x9AAEC33D);
    public const int VtableEntries = 11;

    public static void Fill(nint* v)
    {
        FUnknown.Fill(v);
        v[3] = (nint)(delegate* unmanaged<void*, ulong*, int, ulong*, int, int>)&SetBusArrangements;
        v[4] = (nint)(delegate* unmanaged<void*, int, int, ulong*, int>)&GetBusArrangement;
        v[5] = (nint)(delegate* unmanaged<void*, int, int>)&CanProcessSampleSize;
        v[6] = (nint)(delegate* unmanaged<void*, uint>)&GetLatencySamples;
        v[7] = (nint)(delegate* unmanaged<void*, ProcessSetup*, int>)&SetupProcessing;
        v[8] = (nint)(delegate* unmanaged<void*, byte, int>)&SetProcessing;
        v[9] = (nint)(delegate* unmanaged<void*, ProcessData*, int>)&Process;
        v[10] = (nint)(delegate* unmanaged<void*, uint>)&GetTailSamples;
    }

    private static ComponentObject Self(void* self) => NativeObject.From<ComponentObject>(self);

    [UnmanagedCallersOnly]
    private static int SetBusArrangements(void* self, ulong* inputs, int numIns, ulong* outputs, int numOuts)
    {
        try
        {
            if (numIns < 0 || numOuts < 0 || (numIns > 0 && inputs == null) || (numOuts > 0 && outputs == null))
                return Result.InvalidArgument;
            return Self(self).SetBusArrangements(new ReadOnlySpan<ulong>(inputs, numIns), new ReadOnlySpan<ulong>(outputs, numOuts));
        }
        catch (Exception e) { Guard.Report(e); return Result.InternalError; }
    }

    [UnmanagedCallersOnly]
    private static int GetBusArrangement(void* self, int direction, int index, ulong* arrangement)
    {
        try { return arrangement == null ? Result.InvalidArgument : Self(self).GetBusArrangement(direction, index, arrangement); }
        catch (Exception e) { Guard.Report(e); return Result.InternalError; }
    }

    [UnmanagedCallersOnly]
    private static int CanProcessSampleSize(void* self, int symbolicSampleSize)
        => symbolicSampleSize == ProcessSetup.Sample32 ? Result.True : Result.False;

    [UnmanagedCallersOnly]
    private static uint GetLatencySamples(void* self)
    {
        try { return (uint)Math.Max(0, Self(self).LatencySamples); }
        catch (Exception e) { Guard.Report(e); return 0; }
    }

    [UnmanagedCallersOnly]
    private static int SetupProcessing(void* self, ProcessSetup* setup)
    {
        try { return setup == null ? Result.InvalidArgument : Self(self).SetupProcessing(*setup); }
        catch (Exception e) { Guard.Report(e); return Result.InternalError; }
    }

    [UnmanagedCallersOnly]
    private static int SetProcessing(void* self, byte state) => Result.Ok;

    [UnmanagedCallersOnly]
    private static int Process(void* self, ProcessData* data)
    {
        try { return data == null ? Result.InvalidArgument : Self(self).Process(data); }
        catch (Exception e) { Guard.Report(e); return Result.InternalError; }
    }

    [UnmanagedCallersOnly]
    private static uint GetTailSamples(void* self)
    {
        try { return (uint)Math.Max(0, Self(self).TailSamples); }
        catch (Exception e) { Guard.Report(e); return 0; }
    }
}
