using BenchmarkDotNet.Attributes;
using DiffusionPlugin.Engine.Realtime;

namespace DiffusionPlugin.Benchmarks;

/// <summary>
/// process() of both engines on 512-frame blocks at 48 kHz while their workers generate (fake model, 5 ms/item).
/// MemoryDiagnoser must show 0 B allocated per call. Percentiles (median, p99.9) come from RealtimeFigures
/// (`dotnet run -c Release --project tests/DiffusionPlugin.Benchmarks -- realtime-figures`).
/// </summary>
[MemoryDiagnoser]
public class RealtimeBenchmarks
{
    private const int Block = 512;
    private DrumInstrument _drums = null!;
    private StereoWidener _widener = null!;
    private readonly float[] _l = new float[Block], _r = new float[Block], _in = new float[Block];
    private int _call;

    [GlobalSetup]
    public void Setup()
    {
        _drums = RealtimeEngines.CreateDrums(new EngineOptions(), () => new RealtimeFakeModel());
        _drums.MaxVoices = 16;
        _drums.Activate(48000, Block, offline: false);
        _widener = RealtimeEngines.CreateWidener(new EngineOptions(), () => new RealtimeFakeModel { CostMsPerItem = 2 });
        _widener.Activate(48000, Block, offline: false);
        var rng = new Random(1);
        for (int i = 0; i < Block; i++) _in[i] = (float)(rng.NextDouble() * 2 - 1) * 0.3f;
        Thread.Sleep(500);
    }

    [GlobalCleanup]
    public void Cleanup() { _drums.Dispose(); _widener.Dispose(); }

    [Benchmark]
    public void DrumsProcess512With16Voices()
    {
        int c = _call++;
        _drums.NoteOn(c % Block, 35 + c % 40, 0.8f);
        _drums.NoteOn((c * 7) % Block, 36 + (c * 3) % 40, 0.6f);
        _drums.Process(_l, _r, Block);
    }

    [Benchmark]
    public void WidenerProcess512() => _widener.Process(_in, _in, _l, _r, Block);
}
