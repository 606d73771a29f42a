using DiffusionPlugin.Vst3.Plugin;

namespace DiffusionPlugin.Vst3.Interop;

/// <summary>
/// One plugin instance as the host sees it: IComponent, IAudioProcessor, IEditController and
/// IProcessContextRequirements on one object (single component). Translates pointers into spans and plain values
/// for the pointer-free <see cref="AudioPlugin"/> above.
/// </summary>
internal sealed unsafe class ComponentObject : NativeObject
{
    private const int ComponentSlot = 0, ProcessorSlot = 1, ControllerSlot = 2, ContextSlot = 3;
    private const int MaxNotesPerBlock = 1024;
    private const int MaxStateBytes = 1 << 20;

    private static readonly nint ComponentVtable = Build(IComponent.VtableEntries, &IComponent.Fill);
    private static readonly nint ProcessorVtable = Build(IAudioProcessor.VtableEntries, &IAudioProcessor.Fill);
    private static readonly nint ControllerVtable = Build(IEditController.VtableEntries, &IEditController.Fill);
    private static readonly nint ContextVtable = Build(IProcessContextRequirements.VtableEntries, &IProcessContextRequirements.Fill);

    private readonly NoteEvent[] _notes = new NoteEvent[MaxNotesPerBlock];
    private void* _handler;
    private int _initializeCount;

    public AudioPlugin Plugin { get; }

    public ComponentObject(PluginClassInfo pluginClass)
        : base([ComponentVtable, ProcessorVtable, ControllerVtable, ContextVtable])
    {
        Plugin = pluginClass.Create(PluginEnvironment.Current);
    }

    private static nint Build(int entries, delegate*<nint*, void> fill)
    {
        var v = AllocateVtable(entries);
        fill(v);
        return (nint)v;
    }

    protected override int SlotFor(byte* iid)
    {
        if (FUnknown.Iid.Matches(iid) || IPluginBase.Iid.Matches(iid) || IComponent.Iid.Matches(iid)) return ComponentSlot;
        if (IAudioProcessor.Iid.Matches(iid)) return ProcessorSlot;
        if (IEditController.Iid.Matches(iid)) return ControllerSlot;
        if (IProcessContextRequirements.Iid.Matches(iid)) return ContextSlot;
        return -1;
    }

    // Hosts initialize the component and, finding the controller on the same object, may initialize it too:
    // count the calls and work only on the first initialize and the last terminate.
    public int Initialize(void* context)
    {
        if (Interlocked.Increment(ref _initializeCount) == 1) Plugin.Initialize();
        return Result.Ok;
    }

    public int Terminate()
    {
        int left = Interlocked.Decrement(ref _initializeCount);
        if (left < 0) { Interlocked.Exchange(ref _initializeCount, 0); return Result.Ok; }
        if (left == 0)
        {
            Plugin.Terminate();
            SetComponentHandler(null);
        }
        return Result.Ok;
    }

    protected override void OnFinalRelease()
    {
        if (Volatile.Read(ref _initializeCount) > 0) Plugin.Terminate();
        SetComponentHandler(null);
        Plugin.Dispose();
    }

    private IReadOnlyList<BusSpec> Buses(int mediaType, int direction) => (mediaType, direction) switch
    {
        (MediaTypes.Audio, MediaTypes.Input) => Plugin.AudioInputs,
        (MediaTypes.Audio, MediaTypes.Output) => Plugin.AudioOutputs,
        (MediaTypes.Event, MediaTypes.Input) => Plugin.EventInputs,
        _ => Array.Empty<BusSpec>(),
    };

    public int GetBusCount(int mediaType, int direction) => Buses(mediaType, direction).Count;

    public int GetBusInfo(int mediaType, int direction, int index, BusInfo* info)
    {
        var buses = Buses(mediaType, direction);
        if ((uint)index >= (uint)buses.Count) return Result.InvalidArgument;
        var bus = buses[index];
        *info = default;
        info->MediaType = mediaType;
        info->Direction = direction;
        info->ChannelCount = bus.ChannelCount;
        Strings.WriteUtf16(info->Name, 128, bus.Name);
        info->BusType = 0; // kMain
        info->Flags = BusInfo.DefaultActive;
        return Result.Ok;
    }

    public int ActivateBus(int mediaType, int direction, int index, bool state)
        => (uint)index < (uint)Buses(mediaType, direction).Count ? Result.Ok : Result.InvalidArgument;

    public int SetActive(bool state)
    {
        Plugin.SetActive(state);
        return Result.Ok;
    }

    public int SetState(void* stream)
    {
        if (stream == null) return Result.InvalidArgument;
        var bytes = new IBStream(stream).ReadToEnd(MaxStateBytes);
        Plugin.LoadState(bytes);
        return Result.Ok;
    }

    public int GetState(void* stream)
    {
        if (stream == null) return Result.InvalidArgument;
        return new IBStream(stream).Write(Plugin.SaveState()) ? Result.Ok : Result.False;
    }

    public int SetBusArrangements(ReadOnlySpan<ulong> inputs, ReadOnlySpan<ulong> outputs)
    {
        Span<int> inChannels = stackalloc int[inputs.Length];
        Span<int> outChannels = stackalloc int[outputs.Length];
        for (int i = 0; i < inputs.Length; i++) inChannels[i] = Speakers.ForChannels(Speakers.ChannelCount(inputs[i])) == inputs[i] ? Speakers.ChannelCount(inputs[i]) : -1;
        for (int i = 0; i < outputs.Length; i++) outChannels[i] = Speakers.ForChannels(Speakers.ChannelCount(outputs[i])) == outputs[i] ? Speakers.ChannelCount(outputs[i]) : -1;
        return Plugin.TrySetChannelCounts(inChannels, outChannels) ? Result.True : Result.False;
    }

    public int GetBusArrangement(int direction, int index, ulong* arrangement)
    {
        var buses = Buses(MediaTypes.Audio, direction);
        if ((uint)index >= (uint)buses.Count) return Result.InvalidArgument;
        *arrangement = Speakers.ForChannels(buses[index].ChannelCount);
        return Result.Ok;
    }

    public int LatencySamples => Plugin.LatencySamples;
    public int TailSamples => Plugin.TailSamples;

    public int SetupProcessing(in ProcessSetup setup)
    {
        if (setup.SymbolicSampleSize != ProcessSetup.Sample32) return Result.False;
        if (!(setup.SampleRate > 0) || setup.MaxSamplesPerBlock < 0) return Result.InvalidArgument;
        Plugin.SetupProcessing(setup.SampleRate, setup.MaxSamplesPerBlock, setup.ProcessMode == ProcessSetup.ModeOffline);
        return Result.Ok;
    }

    public void SetComponentHandler(void* handler)
    {
        if (handler == _handler) return;
        if (handler != null) FUnknown.AddRefHostObject(handler);
        var old = _handler;
        _handler = handler;
        Plugin.RestartRequested = handler == null ? null : RestartComponent;
        if (old != null) FUnknown.ReleaseHostObject(old);
    }

    private void RestartComponent(RestartReason reason)
    {
        var h = _handler;
        if (h == null) return;
        int flags = reason == RestartReason.Latency ? IComponentHandler.LatencyChanged : IComponentHandler.ParamValuesChanged;
        new IComponentHandler(h).RestartComponent(flags);
    }

    private const int MaxReadOnlyParameters = 8;

    private static long _processAllocatedBytes;

    /// <summary>Managed bytes allocated inside real-time process calls so far, all instances (see Exports.ProcessAllocatedBytes).</summary>
    public static long ProcessAllocatedBytes => Interlocked.Read(ref _processAllocatedBytes);

    /// <summary>Audio thread: runs <see cref="ProcessCore"/> and counts what it allocated (a thread-local read: no cost).</summary>
    public int Process(ProcessData* d)
    {
        // Offline blocks (a freewheeling export) may generate and allocate: they have no deadline. Real time may not.
        if (d->ProcessMode == ProcessSetup.ModeOffline) return ProcessCore(d);
        long before = GC.GetAllocatedBytesForCurrentThread();
        int result = ProcessCore(d);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        if (allocated != 0) Interlocked.Add(ref _processAllocatedBytes, allocated);
        return result;
    }

    /// <summary>Audio thread: reads parameter changes and notes, exposes the buffers as spans, runs the plugin.</summary>
    private int ProcessCore(ProcessData* d)
    {
        if (d->InputParameterChanges != null)
        {
            var changes = new IParameterChanges(d->InputParameterChanges);
            int count = changes.Count;
            for (int i = 0; i < count; i++)
            {
                var queue = changes.Queue(i);
                if (queue.IsNull) continue;
                int points = queue.PointCount;
                // Applied at block start: the last point is where the host wants the parameter to be.
                if (points > 0 && queue.TryGetPoint(points - 1, out _, out double value))
                    Plugin.Parameters.TrySet(queue.ParameterId, value);
            }
        }

        int frames = Math.Max(0, d->NumSamples);
        int noteCount = 0;
        if (d->InputEvents != null)
        {
            var events = new IEventList(d->InputEvents);
            int count = events.Count;
            for (int i = 0; i < count && noteCount < _notes.Length; i++)
            {
                if (!events.TryGet(i, out var e)) continue;
                int offset = Math.Clamp(e.SampleOffset, 0, Math.Max(0, frames - 1));
                if (e.Type == Event.NoteOn)
                    _notes[noteCount++] = e.NoteOnVelocity > 0
                        ? new NoteEvent(offset, e.Pitch, Math.Clamp(e.NoteOnVelocity, 0f, 1f), true)
                        : new NoteEvent(offset, e.Pitch, 0f, false);
                else if (e.Type == Event.NoteOff)
                    _notes[noteCount++] = new NoteEvent(offset, e.Pitch, e.NoteOffVelocity, false);
            }
        }

        if (frames > 0 && d->SymbolicSampleSize != ProcessSetup.Sample32) return Result.False;

        var block = new AudioBlock
        {
            Frames = frames, Notes = new ReadOnlySpan<NoteEvent>(_notes, 0, noteCount),
            Offline = d->ProcessMode == ProcessSetup.ModeOffline,
        };
        if (frames > 0 && d->NumOutputs > 0 && d->Outputs != null)
        {
            var output = d->Outputs;
            var channels = output->ChannelBuffers;
            if (channels != null && output->NumChannels > 0 && channels[0] != null)
            {
                block.OutLeft = new Span<float>(channels[0], frames);
                block.OutRight = output->NumChannels > 1 && channels[1] != null ? new Span<float>(channels[1], frames) : default;
            }
            output->SilenceFlags = 0;
        }
        if (frames > 0 && d->NumInputs > 0 && d->Inputs != null)
        {
            var input = d->Inputs;
            var channels = input->ChannelBuffers;
            if (channels != null && input->NumChannels > 0 && channels[0] != null)
            {
                block.InLeft = new ReadOnlySpan<float>(channels[0], frames);
                block.InRight = input->NumChannels > 1 && channels[1] != null ? new ReadOnlySpan<float>(channels[1], frames) : block.InLeft;
            }
        }
        if (block.Frames > 0 && block.OutLeft.IsEmpty) block.Frames = 0;
        Plugin.Process(ref block);
        if (d->OutputParameterChanges != null) ReportReadOnlyParameters(new IParameterChanges(d->OutputParameterChanges));
        return Result.Ok;
    }

    /// <summary>Audio thread: status values that changed go to the host's output parameter changes (no allocation).</summary>
    private void ReportReadOnlyParameters(IParameterChanges output)
    {
        Span<uint> ids = stackalloc uint[MaxReadOnlyParameters];
        Span<double> values = stackalloc double[MaxReadOnlyParameters];
        int n = Plugin.CollectReadOnlyChanges(ids, values);
        for (int i = 0; i < n; i++)
        {
            var queue = output.AddParameterData(ids[i]);
            if (!queue.IsNull) queue.AddPoint(0, values[i]);
        }
    }
}
