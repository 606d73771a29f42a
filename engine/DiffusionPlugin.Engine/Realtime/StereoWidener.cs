using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using DiffusionPlugin.Engine.Diffusion;

namespace DiffusionPlugin.Engine.Realtime;

/// <summary>
/// Diffusion Widener: makes a near-identical copy x′ of the input x (a diffusion variation, on overlapping windows
/// crossfaded by overlap-add), takes the side signal s = (x′ − x)/2 and outputs L = x + w·s, R = x − w·s.
/// L + R = 2x, so the mono sum is exactly the (latency-delayed) input whatever the model does. Stereo input: its mid
/// is widened and its own side kept.
/// <para>
/// Windows (at 48 kHz, scaled with the rate): hop H = 3,072, overlap R = 1,024, window N = H + R = 4,096; each window
/// is weighted by a raised-cosine rise over its first R samples, 1 in the middle, and the complementary fall over its
/// last R samples, so overlapping windows sum to exactly 1 and each sample is varied 1⅓ times on average (not twice,
/// as with 50 % overlap).
/// </para>
/// <para>
/// Latency, constant for a rate and maximum block size B (both fixed at Activate): N + B + slack, where the slack is
/// one hop when that fits in 8,192 samples at 48 kHz (scaled with the rate), else what is left of that budget
/// (possibly 0). At 48 kHz: 7,680 samples with 512-frame blocks, 8,192 with blocks of 1,024–4,096, N + B above that
/// (12,288 for 8,192-frame blocks: no window can be ready sooner).
/// </para>
/// <para>
/// Click-free handover: window w's weighted side is stored in two parts, its rise and middle for hop w and its fall
/// for the start of hop w + 1. At each hop boundary the audio thread decides, once for the whole hop, whether window
/// w is ready; the fall of window w − 1 is used in hop w exactly when window w − 1 was used in hop w − 1. The weights
/// of the parts in use, W, sum to 1 when both windows are there, and the velvet-noise decorrelator fills the rest:
/// s = (parts in use) + (1 − W)·decorrelator. Every window thus fades in and out along its own window shape whether
/// or not its neighbours arrived, so going to the decorrelator and coming back are both crossfades (over R samples)
/// and there is no step at hop boundaries. Hops whose window was missing count as <see cref="FallbackWindows"/>.
/// A window that comes back too late is simply never used.
/// </para>
/// Offline mode runs the windows synchronously in <see cref="Process"/> so renders are deterministic.
/// </summary>
/// <remarks>
/// Threads: Activate/Deactivate/Dispose from one non-audio thread; Process from the audio thread; parameters and
/// counters any thread. Audio reaches the worker through a power-of-two history ring the audio thread writes and
/// publishes with a release store of its write index; the worker writes a window's two halves and then release-stores
/// the window's stamp (window index + 1); the audio thread acquire-loads the stamp at the hop boundary before reading
/// the halves. A half is written once per lap of the ring (laps are far longer than the latency), so data the audio
/// thread has decided to use never changes under it. The worker skips windows whose hop the audio thread has already
/// decided (it publishes the last decided hop).
/// </remarks>
public sealed class StereoWidener : IStereoWidener, IGenerationJob
{
    /// <summary>Longest block processed in one piece; longer host blocks are processed in pieces of this size.</summary>
    public const int ChunkFrames = 8192;
    /// <summary>Latency budget at 48 kHz (scaled with the rate) that the slack is fitted into.</summary>
    public const int LatencyBudgetAt48kHz = 8192;
    /// <summary>
    /// Side level at width 1, relative to the mid, once the variation strength reaches <see cref="FullSideStrength"/>:
    /// 0.5 puts the inter-channel correlation of a widened mono source near 0.6 — clearly wide, still mono-safe.
    /// </summary>
    public const float SideLevelAtWidthOne = 0.5f;
    /// <summary>Variation strength from which the side is at its full level (below it, it fades to none at 0).</summary>
    public const float FullSideStrength = 0.25f;
    /// <summary>Most a window's difference signal is amplified to reach the side level (keeps model noise down).</summary>
    public const float MaxSideGain = 8f;
    private const int VelvetTaps = 24;
    private const double VelvetSeconds = 0.020;

    private readonly GenerationWorker _worker;

    // ---- parameters (atomics) ----
    private AtomicFloat _width = new(1f), _strength = new(0.3f), _mix = new(1f);
    private int _bypass;
    private int _steps = 3;
    private ulong _seed = 0x5EED_5D1DE;
    private long _fallbackWindows, _diffusionWindows;

    // ---- activation ----
    private double _rateHz;
    private bool _offline, _active;
    // Freewheel (host renders offline in a real-time activation): the worker is paused and Process runs its steps.
    private bool _freewheel;
    private int _hop, _overlap, _window, _latency, _maxBatch, _steadyBatch;
    private float[] _history = [], _sideIn = [], _rise = [], _fall = [];
    private float[] _fadeIn = [];              // r[i] = 0.5 − 0.5·cos(π·i/R) over the overlap; the fall is exactly 1 − r[i]
    private long[] _stamps = [];               // per window (index & _stampMask): window index + 1 once its halves are written
    private long _mask, _stampMask;
    private long _writeIndex;                  // audio writes (release), worker reads (acquire)
    private long _audioHop = -1;               // audio writes (release) the last hop it decided, worker reads
    private long _nextWindow;                  // worker writes, diagnostics read

    // ---- audio thread ----
    private long _clock;
    private long _hopIndex;
    private int _hopPos;
    private bool _useRise, _useFall;
    private float _appliedWidth;
    private readonly int[] _velvetDelay = new int[VelvetTaps];
    private readonly float[] _velvetGain = new float[VelvetTaps];

    // ---- worker ----
    private IDiffusionOperations? _ops;
    private float[] _winHost = [], _xPrime = [], _modelIn = [], _modelOut = [];
    private int _modelRateHz, _modelLength, _classId;
    private ResamplingPlan? _toModel, _fromModel;
    private DiffusionConditioning[] _cond = [];
    private ulong[] _seeds = [];
    private SamplingOptions _options = new() { Steps = 3 };

    internal StereoWidener(Func<IDiffusionOperations>? loadOperations, Func<IDiffusionOperations, ModelStatus> readyStatus)
    {
        _worker = new GenerationWorker("DiffusionWidener worker", loadOperations, readyStatus, "StereoWidener");
    }

    /// <inheritdoc/>
    public ModelStatus Status => _worker.Status;
    /// <inheritdoc/>
    public string StatusMessage => _worker.StatusMessage;
    /// <inheritdoc/>
    public int LatencySamples => Volatile.Read(ref _latency);
    /// <inheritdoc/>
    public float Width { get => _width.Value; set => _width.Value = float.IsFinite(value) ? Math.Clamp(value, 0f, 2f) : 1f; }
    /// <inheritdoc/>
    public float VariationStrength { get => _strength.Value; set => _strength.Value = float.IsFinite(value) ? Math.Clamp(value, 0f, 1f) : 0.3f; }
    /// <inheritdoc/>
    public float Mix { get => _mix.Value; set => _mix.Value = float.IsFinite(value) ? Math.Clamp(value, 0f, 1f) : 1f; }
    /// <inheritdoc/>
    public bool Bypass { get => Volatile.Read(ref _bypass) != 0; set => Volatile.Write(ref _bypass, value ? 1 : 0); }
    /// <summary>
    /// Sampler steps of the full schedule (quality against speed); a window at strength s runs ⌈s·Steps⌉ of them, so the
    /// default 3 gives one denoiser call per window at the usual small strengths (≤ 1/3). Any thread.
    /// </summary>
    public int Steps { get => Volatile.Read(ref _steps); set => Volatile.Write(ref _steps, Math.Clamp(value, 1, 100)); }
    /// <summary>Seed of the variation noise (per window it is mixed with the window index). Any thread.</summary>
    public ulong Seed { get => Volatile.Read(ref _seed); set => Volatile.Write(ref _seed, value); }
    /// <inheritdoc/>
    public long FallbackWindows => Volatile.Read(ref _fallbackWindows);
    /// <summary>Hops whose side signal came from the diffusion model. Any thread.</summary>
    public long DiffusionWindows => Volatile.Read(ref _diffusionWindows);
    /// <summary>Analysis window and hop, in samples at the activated rate (0 before Activate). Any thread.</summary>
    public int WindowSamples => _window;
    /// <summary>Hop between windows, in samples at the activated rate (0 before Activate). Any thread.</summary>
    public int HopSamples => _hop;
    /// <summary>Crossfade between neighbouring windows, in samples at the activated rate (0 before Activate). Any thread.</summary>
    public int OverlapSamples => _overlap;
    /// <summary>Most windows the worker puts in one denoiser batch (sized from the maximum block at Activate). Any thread.</summary>
    public int MaxBatchWindows => _maxBatch;

    /// <summary>
    /// Windows whose input has arrived but that the worker has neither computed nor skipped (diagnostics and tests;
    /// any thread, approximate while the worker runs).
    /// </summary>
    public long PendingWindows
    {
        get
        {
            long written = Volatile.Read(ref _writeIndex);
            if (_window == 0 || written < _window) return 0;
            long lastAvailable = (written - _window) / _hop;
            long next = Math.Max(Volatile.Read(ref _nextWindow), Volatile.Read(ref _audioHop) + 1);
            return Math.Max(0, lastAvailable - next + 1);
        }
    }

    // Activate/Deactivate/Dispose may come from different host threads (Ardour: main thread, then a process thread):
    // serialised so buffers are never resized under a running worker and two workers never share the model.
    private readonly object _lifecycleLock = new();

    /// <inheritdoc/>
    public void Activate(double sampleRateHz, int maxBlockFrames, bool offline)
    {
        lock (_lifecycleLock) ActivateCore(sampleRateHz, maxBlockFrames, offline);
    }

    private void ActivateCore(double sampleRateHz, int maxBlockFrames, bool offline)
    {
        if (!double.IsFinite(sampleRateHz) || sampleRateHz < 8000 || sampleRateHz > 768000)
            throw new ArgumentOutOfRangeException(nameof(sampleRateHz), sampleRateHz, "sample rate must be 8,000..768,000 Hz");
        Deactivate();
        _rateHz = sampleRateHz;
        _offline = offline;
        // 3,072-sample hop and 1,024-sample crossfade at 48 kHz (64 ms and 21 ms), scaled with the rate so the sound
        // does not depend on it. A longer window would not fit the latency budget; more overlap costs more model time.
        _hop = Math.Max(48, (int)Math.Round(3072 * sampleRateHz / 48000.0));
        _overlap = Math.Max(16, (int)Math.Round(1024 * sampleRateHz / 48000.0));
        _window = _hop + _overlap;
        // A hop boundary at output sample k needs the window [k, k + N) whole before the block that plays k starts, and
        // that block's own input is not there yet: latency ≥ N + B. The slack on top is the worker's time to compute.
        int block = Math.Clamp(maxBlockFrames, 0, ChunkFrames);
        int budget = (int)Math.Round(LatencyBudgetAt48kHz * sampleRateHz / 48000.0);
        int slack = Math.Clamp(budget - _window - block, 0, _hop);
        Volatile.Write(ref _latency, _window + block + slack);
        _steadyBatch = Math.Max(1, (block + _hop - 1) / _hop);
        _maxBatch = _steadyBatch + 1;

        long need = 4L * (_latency + _window + ChunkFrames);
        int capacity = (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)need);
        if (_history.Length != capacity)
        {
            _history = new float[capacity]; _sideIn = new float[capacity]; _rise = new float[capacity]; _fall = new float[capacity];
        }
        else { Array.Clear(_history); Array.Clear(_sideIn); Array.Clear(_rise); Array.Clear(_fall); }
        _mask = capacity - 1;
        int stampCount = (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)(capacity / _hop + 2));
        if (_stamps.Length != stampCount) _stamps = new long[stampCount]; else Array.Clear(_stamps);
        _stampMask = stampCount - 1;
        _writeIndex = 0; _nextWindow = 0;
        Volatile.Write(ref _audioHop, -1);
        _clock = 0;
        _hopIndex = -1; _hopPos = _hop; // the first output sample (k = 0) is the boundary of hop 0
        _useRise = false; _useFall = false;
        _appliedWidth = Bypass ? 0f : Width * Mix;

        // Velvet noise (Karjalainen & Järveläinen): sparse ±1 taps, one per grid cell at a random position, decaying,
        // normalised to unit energy. Cheap, and it decorrelates without colouring much.
        var rng = new FastRandom(0xE1_7E7);
        int span = (int)(VelvetSeconds * sampleRateHz);
        double energy = 0;
        for (int j = 0; j < VelvetTaps; j++)
        {
            double cell = (double)span / VelvetTaps;
            _velvetDelay[j] = 1 + (int)(j * cell + rng.NextFloat() * (cell - 1));
            _velvetGain[j] = (rng.NextFloat() < 0.5f ? -1f : 1f) * MathF.Exp(-3f * j / VelvetTaps);
            energy += _velvetGain[j] * _velvetGain[j];
        }
        float norm = (float)(1.0 / Math.Sqrt(energy));
        for (int j = 0; j < VelvetTaps; j++) _velvetGain[j] *= norm;

        _winHost = new float[_window]; _xPrime = new float[_window]; _fadeIn = new float[_overlap];
        // Raised-cosine rise r[i] and fall 1 − r[i]: overlapping windows sum to exactly 1 in floats too.
        for (int i = 0; i < _overlap; i++) _fadeIn[i] = 0.5f - 0.5f * MathF.Cos(MathF.PI * i / _overlap);
        _cond = new DiffusionConditioning[_maxBatch];
        _seeds = new ulong[_maxBatch];

        if (offline) _worker.PrepareSynchronously(this);
        else _worker.Start(this);
        _active = true;
    }

    /// <inheritdoc/>
    public void SetRenderingOffline(bool offline)
    {
        if (_active && !_offline) _freewheel = _worker.SetRenderingOffline(offline);
    }

    /// <inheritdoc/>
    public void Deactivate()
    {
        lock (_lifecycleLock)
        {
            _active = false;
            _freewheel = false;
            _worker.Stop();
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        lock (_lifecycleLock)
        {
            Deactivate();
            _worker.Dispose();
        }
    }

    // =====================================================================================================
    // Audio thread
    // =====================================================================================================

    /// <inheritdoc/>
    public void Process(ReadOnlySpan<float> inLeft, ReadOnlySpan<float> inRight, Span<float> outLeft, Span<float> outRight, int frames)
    {
        frames = Math.Clamp(frames, 0, Math.Min(Math.Min(inLeft.Length, inRight.Length), Math.Min(outLeft.Length, outRight.Length)));
        try
        {
            bool mono = Unsafe.AreSame(ref MemoryMarshal.GetReference(inLeft), ref MemoryMarshal.GetReference(inRight));
            if (!_active)
            {
                for (int i = 0; i < frames; i++)
                {
                    float l = AudioMath.Sanitize(inLeft[i]), r = mono ? l : AudioMath.Sanitize(inRight[i]);
                    outLeft[i] = l; outRight[i] = r;
                }
                return;
            }
            for (int done = 0; done < frames;)
            {
                int n = Math.Min(ChunkFrames, frames - done);
                ProcessChunk(inLeft.Slice(done, n), mono ? inLeft.Slice(done, n) : inRight.Slice(done, n),
                             outLeft.Slice(done, n), outRight.Slice(done, n), mono);
                done += n;
            }
        }
        catch (Exception)
        {
            // Unreachable by design; the host gets silence for one block, never an exception.
            outLeft[..frames].Clear(); outRight[..frames].Clear();
        }
    }

    private void ProcessChunk(ReadOnlySpan<float> inL, ReadOnlySpan<float> inR, Span<float> outL, Span<float> outR, bool mono)
    {
        int frames = inL.Length;
        long mask = _mask;
        float[] history = _history, sideIn = _sideIn, rise = _rise, fall = _fall, fadeIn = _fadeIn;

        // 1. Input into the history ring (inputs are read completely before any output is written: they may alias).
        for (int i = 0; i < frames; i++)
        {
            float l = AudioMath.Sanitize(inL[i]);
            float r = mono ? l : AudioMath.Sanitize(inR[i]);
            long idx = (_clock + i) & mask;
            history[idx] = 0.5f * (l + r);
            sideIn[idx] = 0.5f * (l - r);
        }
        Volatile.Write(ref _writeIndex, _clock + frames); // release: the samples above are visible to the worker

        if (_offline || _freewheel) while (_worker.StepSynchronously(this)) { }

        // 2. Output.
        float target = Bypass ? 0f : Width * Mix;
        float w = _appliedWidth, wStep = frames > 0 ? (target - w) / frames : 0f;
        float decLevel = SideLevel(VariationStrength); // velvet noise has unit gain: the same level as a diffusion window
        int hop = _hop, overlap = _overlap, latency = _latency, hopPos = _hopPos;
        long hopIndex = _hopIndex;
        bool useRise = _useRise, useFall = _useFall;
        long fallbackWindows = 0, diffusionWindows = 0;
        for (int i = 0; i < frames; i++)
        {
            long k = _clock + i - latency;
            float md = 0f, sd = 0f, s = 0f;
            if (k >= 0)
            {
                if (hopPos >= hop)
                {
                    // Hop boundary: decide this hop's sources once. Acquire the stamp before reading the halves.
                    hopIndex++;
                    hopPos = 0;
                    useFall = useRise;
                    useRise = Volatile.Read(ref _stamps[hopIndex & _stampMask]) == hopIndex + 1;
                    if (useRise) diffusionWindows++; else if (target > 0f) fallbackWindows++;
                }
                long ki = k & mask;
                md = history[ki]; sd = sideIn[ki];
                bool inOverlap = hopPos < overlap;
                if (useRise & (useFall | !inOverlap)) s = inOverlap ? rise[ki] + fall[ki] : rise[ki]; // weights sum to 1
                else
                {
                    float r = inOverlap ? fadeIn[hopPos] : 1f, weight = 0f;
                    if (useRise) { s += rise[ki]; weight += r; }
                    if (useFall & inOverlap) { s += fall[ki]; weight += 1f - r; }
                    float dec = 0f;
                    for (int j = 0; j < VelvetTaps; j++) dec += _velvetGain[j] * history[(k - _velvetDelay[j]) & mask];
                    s += (1f - weight) * decLevel * dec;
                }
                hopPos++;
            }
            w += wStep;
            float ws = w * s;
            outL[i] = md + sd + ws;
            outR[i] = md - sd - ws;
        }
        _hopPos = hopPos; _hopIndex = hopIndex; _useRise = useRise; _useFall = useFall;
        Volatile.Write(ref _audioHop, hopIndex); // release: the worker skips windows of hops already decided
        _appliedWidth = target;
        if (fallbackWindows != 0) Volatile.Write(ref _fallbackWindows, _fallbackWindows + fallbackWindows);
        if (diffusionWindows != 0) Volatile.Write(ref _diffusionWindows, _diffusionWindows + diffusionWindows);
        _clock += frames;
    }

    // =====================================================================================================
    // Worker thread (offline: the thread calling Process)
    // =====================================================================================================

    void IGenerationJob.OnModel(IDiffusionOperations? operations)
    {
        _ops = operations;
        if (operations == null) return;
        var d = operations.Denoiser;
        _modelRateHz = d.SampleRateHz;
        int multiple = Math.Max(1, d.LengthMultiple);
        int len = Resampler.ScaledLength(_window, _rateHz, _modelRateHz);
        _modelLength = (len + multiple - 1) / multiple * multiple;
        _toModel = new ResamplingPlan(_window, _rateHz, _modelLength, _modelRateHz);
        _fromModel = new ResamplingPlan(_modelLength, _modelRateHz, _window, _rateHz);
        _modelIn = new float[_maxBatch * _modelLength];
        _modelOut = new float[_maxBatch * _modelLength];
        // The general class: the widener's input is anything, not a drum hit.
        _classId = DrumMap.ResolveClassId(DrumClass.General, d.ClassNames);
        if (_classId < 0) _classId = DiffusionConditioning.Unconditional;
        _options = new SamplingOptions { Steps = Steps };
        // Bind every batch shape the worker will use, so no window pays for a first run of its shape.
        for (int b = 1; b <= _maxBatch; b++) operations.WarmUp(b, _modelLength, _options);
        _cond[0] = new DiffusionConditioning(_classId, 0.8f);
        _seeds[0] = 0;
        operations.Vary(_modelIn.AsSpan(0, _modelLength), _cond.AsSpan(0, 1), _seeds.AsSpan(0, 1), _modelLength,
                        VariationStrength > 0f ? VariationStrength : 0.3f, _options, _modelOut.AsSpan(0, _modelLength));
    }

    bool IGenerationJob.Step(IDiffusionOperations? operations) => Step();

    /// <summary>Side level relative to the mid at width 1 for a variation strength (the decorrelator uses it directly).</summary>
    public static float SideLevel(float strength) => SideLevelAtWidthOne * Math.Clamp(strength / FullSideStrength, 0f, 1f);

    /// <summary>
    /// Turns a window's variation x′ (in place) into its side signal: the part of x′ − x orthogonal to x, scaled to
    /// <see cref="SideLevel"/> × rms(x). Why orthogonal: a diffusion variation is largely a rescaled copy of its source
    /// (x′ ≈ αx + new detail); the αx part would only pan the image (L and R fully correlated at different levels) while
    /// the new detail is what sounds wide. Why scaled: how far a variation strays depends on the material (steady noise
    /// or tones come back almost exactly, transients less so); without it one Width would sound narrow on one track and
    /// wide on the next. The gain is capped by <see cref="MaxSideGain"/> and is 0 for silence; the windows' crossfades
    /// smooth it from one window to the next.
    /// </summary>
    private static void OrthogonalSide(ReadOnlySpan<float> x, Span<float> xPrime, float strength)
    {
        double xx = 0, dx = 0;
        for (int i = 0; i < x.Length; i++)
        {
            xx += x[i] * (double)x[i];
            dx += (xPrime[i] - x[i]) * (double)x[i];
        }
        float beta = xx < 1e-20 ? 0f : (float)(dx / xx);
        double dd = 0;
        for (int i = 0; i < x.Length; i++)
        {
            float d = xPrime[i] - x[i] - beta * x[i];
            xPrime[i] = d;
            dd += d * (double)d;
        }
        float gain = dd < 1e-20 || xx < 1e-20 ? 0f : (float)Math.Min(MaxSideGain, SideLevel(strength) * Math.Sqrt(xx / dd));
        for (int i = 0; i < xPrime.Length; i++) xPrime[i] *= gain;
    }

    /// <summary>
    /// Computes the oldest windows whose input has arrived and whose hop the audio thread has not yet decided, up to
    /// <see cref="MaxBatchWindows"/> in one denoiser batch; writes each window's two parts, then release-stores its
    /// stamp. False when there was nothing to do.
    /// </summary>
    private bool Step()
    {
        if (_ops == null) return false; // no model: the audio thread's decorrelator supplies the side signal
        long written = Volatile.Read(ref _writeIndex);
        int N = _window, H = _hop, R = _overlap, L = _modelLength;
        if (written < N) return false;
        long lastAvailable = (written - N) / H;
        long first = Math.Max(_nextWindow, Volatile.Read(ref _audioHop) + 1);
        if (first > lastAvailable)
        {
            if (first != _nextWindow) Volatile.Write(ref _nextWindow, first);
            return false;
        }
        int count = (int)Math.Min(lastAvailable - first + 1, _maxBatch);
        long mask = _mask;
        float strength = VariationStrength;
        int steps = Steps;
        if (_options.Steps != steps) _options = new SamplingOptions { Steps = steps };
        ulong seed = Seed;
        for (int b = 0; b < count; b++)
        {
            long t0 = (first + b) * H;
            for (int i = 0; i < N; i++) _winHost[i] = _history[(t0 + i) & mask];
            _toModel!.Apply(_winHost, _modelIn.AsSpan(b * L, L));
            _cond[b] = new DiffusionConditioning(_classId, 0.8f);
            _seeds[b] = AudioMath.Seed(seed, (ulong)(first + b));
        }
        _ops.Vary(_modelIn.AsSpan(0, count * L), _cond.AsSpan(0, count), _seeds.AsSpan(0, count), L, strength, _options,
                  _modelOut.AsSpan(0, count * L));
        AudioMath.Sanitize(_modelOut.AsSpan(0, count * L));
        for (int b = 0; b < count; b++)
        {
            long window = first + b, t0 = window * H;
            for (int i = 0; i < N; i++) _winHost[i] = _history[(t0 + i) & mask];
            _fromModel!.Apply(_modelOut.AsSpan(b * L, L), _xPrime);
            OrthogonalSide(_winHost, _xPrime, strength);
            for (int i = 0; i < R; i++)
            {
                float r = _fadeIn[i];
                _rise[(t0 + i) & mask] = r * _xPrime[i];
                _fall[(t0 + H + i) & mask] = (1f - r) * _xPrime[H + i];
            }
            for (int i = R; i < H; i++) _rise[(t0 + i) & mask] = _xPrime[i];
            Volatile.Write(ref _stamps[window & _stampMask], window + 1); // release: both parts are visible first
        }
        Volatile.Write(ref _nextWindow, first + count);
        return true;
    }
}
