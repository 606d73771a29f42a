using DiffusionPlugin.Vst3.Tests.Host;

namespace DiffusionPlugin.Vst3.Tests;

/// <summary>The allocation counter is library-wide: nothing else may process while these tests measure.</summary>
[CollectionDefinition(nameof(ProcessAllocationCollection), DisableParallelization = true)]
public sealed class ProcessAllocationCollection;

/// <summary>The published binary's real-time process path allocates nothing, measured inside the plugin's own runtime.</summary>
[Collection(nameof(ProcessAllocationCollection))]
public class ProcessAllocationTests
{
    private readonly PluginModule _module = PluginModule.Shared;

    [Fact]
    public void Real_time_process_calls_allocate_nothing_with_notes_automation_status_reports_and_odd_block_sizes()
    {
        using var drums = _module.Create(Signals.Drums);
        using var widener = _module.Create(Signals.Widener);
        drums.Start(48000, 1024);
        widener.Start(48000, 1024);
        uint gain = Signals.ParameterId(drums, "Output Gain"), width = Signals.ParameterId(widener, "Width");
        var rng = new Random(5);
        var outL = new float[1024]; var outR = new float[1024];
        var inL = Signals.Noise(1024, seed: 3); var inR = Signals.Noise(1024, seed: 4);
        // Host objects are made in the test's own runtime beforehand: only the plugin's allocations are counted.
        var events = Enumerable.Range(0, 8).Select(i => { var e = new HostEventList(); e.NoteOn(i * 37, 35 + i * 3, 0.8f); return e; }).ToArray();
        var changes = new HostParameterChanges();
        changes.Set(gain, 0.6);
        var widthChanges = new HostParameterChanges();
        widthChanges.Set(width, 0.7);
        var outputs = Enumerable.Range(0, 2).Select(_ => new HostParameterChanges()).ToArray();
        var sizes = Enumerable.Range(0, 3000).Select(_ => rng.Next(0, 1025)).ToArray();
        void Blocks(int from, int to)
        {
            for (int b = from; b < to; b++)
            {
                int n = sizes[b];
                Assert.Equal(0, drums.Process(null, [outL, outR], n, b % 5 == 0 ? events[b / 5 % events.Length] : null,
                                              b % 50 == 0 ? changes : null, outputs[0]));
                Assert.Equal(0, widener.Process([inL, inR], [outL, outR], n, changes: b % 50 == 0 ? widthChanges : null, outputChanges: outputs[1]));
                foreach (var o in outputs) { foreach (var q in o.Queues) q.Dispose(); o.Queues.Clear(); }
            }
        }
        Blocks(0, 300); // every path once (statics are initialised on first use)
        long before = _module.ProcessAllocatedBytes();
        Blocks(300, sizes.Length);
        Assert.Equal(0, _module.ProcessAllocatedBytes() - before);
        foreach (var e in events) e.Dispose();
        changes.Dispose(); widthChanges.Dispose();
        foreach (var o in outputs) o.Dispose();
        drums.Stop();
        widener.Stop();
    }
}
