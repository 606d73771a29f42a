namespace DiffusionPlugin.Vst3.Tests.Host;

/// <summary>Parameter description as read through IEditController::getParameterInfo.</summary>
internal sealed record ParameterEntry(uint Id, string Title, string Units, int StepCount, double Default, int Flags)
{
    public bool ReadOnly => (Flags & 2) != 0;
    public bool CanAutomate => (Flags & 1) != 0;
}

/// <summary>One plugin instance driven through its vtables, the way a DAW does.</summary>
internal sealed unsafe class PluginInstance : IDisposable
{
    public readonly void* Component;
    public readonly void* Processor;
    public readonly void* Controller;
    private int _maxBlock = 1024;

    public PluginInstance(void* component)
    {
        Component = component;
        Processor = PluginModule.Require(component, Iids.AudioProcessor, "IAudioProcessor");
        Controller = PluginModule.Require(component, Iids.EditController, "IEditController");
    }

    private static nint* V(void* o) => PluginModule.Vtbl(o);

    // IPluginBase / IComponent
    public int Initialize() => ((delegate* unmanaged<void*, void*, int>)V(Component)[3])(Component, null);
    public int Terminate() => ((delegate* unmanaged<void*, int>)V(Component)[4])(Component);
    public int GetControllerClassId(byte* cid) => ((delegate* unmanaged<void*, byte*, int>)V(Component)[5])(Component, cid);
    public int BusCount(int media, int direction) => ((delegate* unmanaged<void*, int, int, int>)V(Component)[7])(Component, media, direction);

    public (int Result, int Channels, string Name) BusInfo(int media, int direction, int index)
    {
        BusInfo info;
        int r = ((delegate* unmanaged<void*, int, int, int, BusInfo*, int>)V(Component)[8])(Component, media, direction, index, &info);
        return (r, info.ChannelCount, new string(info.Name));
    }

    public int ActivateBus(int media, int direction, int index, bool on)
        => ((delegate* unmanaged<void*, int, int, int, byte, int>)V(Component)[10])(Component, media, direction, index, on ? (byte)1 : (byte)0);
    public int SetActive(bool on) => ((delegate* unmanaged<void*, byte, int>)V(Component)[11])(Component, on ? (byte)1 : (byte)0);
    public int SetState(HostStream s) => ((delegate* unmanaged<void*, void*, int>)V(Component)[12])(Component, s.Pointer);
    public int GetState(HostStream s) => ((delegate* unmanaged<void*, void*, int>)V(Component)[13])(Component, s.Pointer);

    // IAudioProcessor
    public int SetBusArrangements(ulong[] inputs, ulong[] outputs)
    {
        fixed (ulong* i = inputs) fixed (ulong* o = outputs)
            return ((delegate* unmanaged<void*, ulong*, int, ulong*, int, int>)V(Processor)[3])(Processor, i, inputs.Length, o, outputs.Length);
    }

    public ulong BusArrangement(int direction, int index)
    {
        ulong a = 0;
        int r = ((delegate* unmanaged<void*, int, int, ulong*, int>)V(Processor)[4])(Processor, direction, index, &a);
        return r == TResult.Ok ? a : ulong.MaxValue;
    }

    public int CanProcessSampleSize(int size) => ((delegate* unmanaged<void*, int, int>)V(Processor)[5])(Processor, size);
    public uint LatencySamples => ((delegate* unmanaged<void*, uint>)V(Processor)[6])(Processor);

    public int SetupProcessing(double sampleRate, int maxBlock, bool offline = false)
    {
        _maxBlock = maxBlock;
        var setup = new ProcessSetup { ProcessMode = offline ? 2 : 0, SymbolicSampleSize = 0, MaxSamplesPerBlock = maxBlock, SampleRate = sampleRate };
        return ((delegate* unmanaged<void*, ProcessSetup*, int>)V(Processor)[7])(Processor, &setup);
    }

    public int SetProcessing(bool on) => ((delegate* unmanaged<void*, byte, int>)V(Processor)[8])(Processor, on ? (byte)1 : (byte)0);

    /// <summary>One process call: inputs and outputs are channel arrays of at least <paramref name="frames"/> samples.</summary>
    public int Process(float[][]? inputs, float[][] outputs, int frames, HostEventList? events = null, HostParameterChanges? changes = null,
                       HostParameterChanges? outputChanges = null, bool offlineBlock = false)
    {
        var inHandles = (inputs ?? []).Select(a => System.Runtime.InteropServices.GCHandle.Alloc(a, System.Runtime.InteropServices.GCHandleType.Pinned)).ToArray();
        var outHandles = outputs.Select(a => System.Runtime.InteropServices.GCHandle.Alloc(a, System.Runtime.InteropServices.GCHandleType.Pinned)).ToArray();
        try
        {
            float** inPtrs = stackalloc float*[Math.Max(1, inHandles.Length)];
            float** outPtrs = stackalloc float*[Math.Max(1, outHandles.Length)];
            for (int i = 0; i < inHandles.Length; i++) inPtrs[i] = (float*)inHandles[i].AddrOfPinnedObject();
            for (int i = 0; i < outHandles.Length; i++) outPtrs[i] = (float*)outHandles[i].AddrOfPinnedObject();
            var inBus = new AudioBusBuffers { NumChannels = inHandles.Length, Channels32 = inPtrs };
            var outBus = new AudioBusBuffers { NumChannels = outHandles.Length, Channels32 = outPtrs };
            var data = new ProcessData
            {
                ProcessMode = offlineBlock ? 2 : 0, SymbolicSampleSize = 0, NumSamples = frames,
                NumInputs = inputs == null ? 0 : 1, NumOutputs = 1,
                Inputs = inputs == null ? null : &inBus, Outputs = &outBus,
                InputEvents = events == null ? null : events.Pointer,
                InputParameterChanges = changes == null ? null : changes.Pointer,
                OutputParameterChanges = outputChanges == null ? null : outputChanges.Pointer,
            };
            return ((delegate* unmanaged<void*, ProcessData*, int>)V(Processor)[9])(Processor, &data);
        }
        finally
        {
            foreach (var h in inHandles) h.Free();
            foreach (var h in outHandles) h.Free();
        }
    }

    public uint TailSamples => ((delegate* unmanaged<void*, uint>)V(Processor)[10])(Processor);

    // IEditController
    public int ParameterCount => ((delegate* unmanaged<void*, int>)V(Controller)[8])(Controller);

    public ParameterEntry Parameter(int index)
    {
        ParameterInfo info;
        int r = ((delegate* unmanaged<void*, int, ParameterInfo*, int>)V(Controller)[9])(Controller, index, &info);
        if (r != TResult.Ok) throw new InvalidOperationException($"getParameterInfo({index}) = {r}");
        return new ParameterEntry(info.Id, new string(info.Title), new string(info.Units), info.StepCount, info.DefaultNormalizedValue, info.Flags);
    }

    public List<ParameterEntry> Parameters() => Enumerable.Range(0, ParameterCount).Select(Parameter).ToList();

    public string ParameterText(uint id, double normalized)
    {
        char* text = stackalloc char[128];
        int r = ((delegate* unmanaged<void*, uint, double, char*, int>)V(Controller)[10])(Controller, id, normalized, text);
        return r == TResult.Ok ? new string(text) : $"<error {r}>";
    }

    public double ParameterFromText(uint id, string text)
    {
        double value = double.NaN;
        fixed (char* p = text + "\0")
            ((delegate* unmanaged<void*, uint, char*, double*, int>)V(Controller)[11])(Controller, id, p, &value);
        return value;
    }

    public double ToPlain(uint id, double normalized) => ((delegate* unmanaged<void*, uint, double, double>)V(Controller)[12])(Controller, id, normalized);
    public double GetNormalized(uint id) => ((delegate* unmanaged<void*, uint, double>)V(Controller)[14])(Controller, id);
    public int SetNormalized(uint id, double value) => ((delegate* unmanaged<void*, uint, double, int>)V(Controller)[15])(Controller, id, value);
    public int SetComponentHandler(HostComponentHandler? h) => ((delegate* unmanaged<void*, void*, int>)V(Controller)[16])(Controller, h == null ? null : h.Pointer);
    public void* CreateView() { fixed (byte* name = "editor\0"u8) return ((delegate* unmanaged<void*, byte*, void*>)V(Controller)[17])(Controller, name); }

    /// <summary>Initialize, set up, activate and start processing, as a host does before the first block.</summary>
    public void Start(double sampleRate = 48000, int maxBlock = 1024, bool offline = false)
    {
        Check(Initialize(), "initialize");
        for (int d = 0; d < 2; d++)
            for (int i = 0; i < BusCount(0, d); i++) Check(ActivateBus(0, d, i, true), "activateBus");
        for (int i = 0; i < BusCount(1, 0); i++) Check(ActivateBus(1, 0, i, true), "activateBus(event)");
        Check(SetupProcessing(sampleRate, maxBlock, offline), "setupProcessing");
        Check(SetActive(true), "setActive");
        Check(SetProcessing(true), "setProcessing");
    }

    public void Stop()
    {
        Check(SetProcessing(false), "setProcessing(false)");
        Check(SetActive(false), "setActive(false)");
        Check(Terminate(), "terminate");
    }

    private static void Check(int r, string what)
    {
        if (r != TResult.Ok) throw new InvalidOperationException($"{what} returned {r}");
    }

    public void Dispose()
    {
        PluginModule.Release(Controller);
        PluginModule.Release(Processor);
        PluginModule.Release(Component);
    }
}
