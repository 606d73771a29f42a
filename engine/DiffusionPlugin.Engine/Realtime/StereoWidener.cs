using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using DiffusionPlugin.Engine.Diffusion;

namespace DiffusionPlugin.Engine.Realtime;

/// <summary>
/// Diffusion Widener: makes a near-identical copy x′ of the input x (a diffusion variation, on overlapping Hann
/// windows crossfaded by overlap-add), takes the side signal s = (x′ − x)/2 and outputs L = x + w·s, R = x − w·s.
/// L + R = 2x, so the mono sum is exactly the (latency-delayed) input whatever the model does. Stereo input: its mid
/// is widened and its own side kept. Latency is constant for a rate and block size: window + hop + min(block, hop)
/// (6,656 samples at 48 kHz with 512-frame blocks, never more than 8,192 at 48 kHz).
/// When the worker is late (or there is no model) a velvet-noise decorrelator supplies s for those samples; each hop
/// so covered is counted in <see cref="FallbackWindows"/>. Offline mode runs the windows synchronously in
/// <see cref="Process"/> so renders are deterministic.
/// </summary>
/// <remarks>
/// Threads: Activate/Deactivate/Dispose from one non-audio thread; Process from the audio thread; parameters and
/// counters any thread. Audio reaches the worker through a power-of-two history ring the audio thread writes and
/// publishes with a release store of its write index; the worker publishes finished side samples the same way
/// (see <see cref="Step"/> for the ordering argument). Nothing else is shared.
/// </remarks>
public sealed class StereoWidener : IStereoWidener, IGenerationJob
{
    /// <summary>Longest block processed in one piece; longer host blocks are processed in pieces of this size.</summary>
    public const int ChunkFrames = 8192;
    private const int VelvetTaps = 24;
    private const double VelvetSeconds = 0.020;
    private const int BlendSamples = 256;

    private readonly GenerationWorker _worker;

    // ---- parameters (atomics) ----
    private AtomicFloat _width = new(1f), _strength = new(0.3f), _mix = new(1f);
    private int _bypass;
    private int _steps = 4;
    private ulong _seed = 0x5EED_5D1DE;
    private long _fallbackWindows, _diffusionWindows;

    // ---- activation ----
    private double _rateHz;
    private bool _offline, _active;
    private int _hop, _window, _latency;
    private float[] _history = [], _sideIn = [], _side = [];
    private long _mask;
    private long _writeIndex;                 // audio writes (release), worker reads (acquire)
    private long _sideValidFrom, _sideCompleteTo; // worker writes (release), audio reads (acquire)

    // ---- audio thread ----
    private long _clock;
    private int _untilHop;
    private float _blend, _appliedWidth;
    private readonly int[] _velvetDelay = new int[VelvetTaps];
    private readonly float[] _velvetGain = new float[VelvetTaps];

    // ---- worker ----
    private IDiffusionOperations? _ops;
    private long _t0;
    private float[] _accum = [], _winHost = [], _xPrime = [], _hann = [], _modelIn = [], _modelOut = [];
    private int _modelRateHz, _modelLength, _classId;
    private readonly DiffusionConditioning[] _cond = new DiffusionConditioning[1];
    private readonly ulong[] _seeds = new ulong[1];

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
    /// <summary>Sampler steps per window (quality against speed). Any thread.</summary>
    public int Steps { get => Volatile.Read(ref _steps); set => Volatile.Write(ref _steps, Math.Clamp(value, 1, 100)); }
    /// <summary>Seed of the variation noise (per window it is mixed with the window index). Any thread.</summary>
    public ulong Seed { get => Volatile.Read(ref _seed); set => Volatile.Write(ref _seed, value); }
    /// <inheritdoc/>
    public long FallbackWindows => Volatile.Read(ref _fallbackWindows);
    /// <summary>Hops whose side signal came from the diffusion model. Any thread.</summary>
    public long DiffusionWindows => Volatile.Read(ref _diffusionWindows);
    /// <summary>Analysis window and hop, in samples at the activated rate (0 before Activate). Any thread.</summary>
    public int WindowSamples => _window;
    public int HopSamples => _hop;

    /// <inheritdoc/>
    public void Activate(double sampleRateHz, int maxBlockFrames, bool offline)
    {
        if (!double.IsFinite(sampleRateHz) || sampleRateHz < 8000 || sampleRateHz > 768000)
            throw new ArgumentOutOfRangeException(nameof(sampleRateHz), sampleRateHz, "sample rate must be 8,000..768,000 Hz");
        Deactivate();
        _rateHz = sampleRateHz;
        _offline = offline;
        // 2,048-sample hop at 48 kHz (≈43 ms), scaled with the rate so the sound does not depend on it.
        _hop = Math.Max(64, (int)Math.Round(2048 * sampleRateHz / 48000.0));
        _window = 2 * _hop;
        int blockAllowance = Math.Clamp(maxBlockFrames, 0, _hop);
        Volatile.Write(ref _latency, _window + _hop + blockAllowance);

        long need = 4L * (_latency + _window + ChunkFrames);
        int capacity = (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)need);
        if (_history.Length != capacity)
        {
            _history = new float[capacity]; _sideIn = new float[capacity]; _side = new float[capacity];
        }
        else { Array.Clear(_history); Array.Clear(_sideIn); Array.Clear(_side); }
        _mask = capacity - 1;
        _writeIndex = 0; _sideValidFrom = 0; _sideCompleteTo = 0;
        _clock = 0; _untilHop = _latency + 1; // first hop boundary at input sample k = 0 _blend = 0f; _appliedWidth = Bypass ? 0f : Width * Mix;

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

        _t0 = 0;
        _accum = new float[_window]; _winHost = new float[_window]; _xPrime = new float[_window]; _hann = new float[_window];
        // Periodic Hann at 50 % overlap sums to exactly 1, so the crossfaded windows add up to the full side signal.
        for (int i = 0; i < _window; i++) _hann[i] = 0.5f - 0.5f * MathF.Cos(2f * MathF.PI * i / _window);

        if (offline) _worker.PrepareSynchronously(this);
        else _worker.Start(this);
        _active = true;
    }

    /// <inheritdoc/>
    public void Deactivate()
    {
        _active = false;
        _worker.Stop();
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        Deactivate();
        _worker.Dispose();
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
        float[] history = _history, sideIn = _sideIn, side = _side;

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

        if (_offline) while (_worker.StepSynchronously(this)) { }

        // 2. Output. Acquire completeTo before validFrom: see Step for why this order is safe.
        long complete = Volatile.Read(ref _sideCompleteTo);
        long validFrom = Volatile.Read(ref _sideValidFrom);
        float target = Bypass ? 0f : Width * Mix;
        float w = _appliedWidth, wStep = frames > 0 ? (target - w) / frames : 0f;
        float decLevel = 0.7f * VariationStrength; // rough match of the diffusion side's level, (x′−x)/2
        float blend = _blend;
        const float blendStep = 1f / BlendSamples;
        int hop = _hop, latency = _latency;
        long fallbackWindows = 0, diffusionWindows = 0;
        for (int i = 0; i < frames; i++)
        {
            long k = _clock + i - latency;
            float md = 0f, sd = 0f, s = 0f;
            if (k >= 0)
            {
                long ki = k & mask;
                md = history[ki]; sd = sideIn[ki];
                bool available = k >= validFrom && k < complete;
                if (--_untilHop <= 0)
                {
                    _untilHop = hop;
                    if (available) diffusionWindows++; else if (target > 0f) fallbackWindows++;
                }
                blend = available ? Math.Min(1f, blend + blendStep) : 0f;
                float diff = available ? side[ki] : 0f;
                float dec = 0f;
                if (blend < 1f)
                {
                    for (int j = 0; j < VelvetTaps; j++) dec += _velvetGain[j] * history[(k - _velvetDelay[j]) & mask];
                    dec *= decLevel;
                }
                s = blend * diff + (1f - blend) * dec;
            }
            else if (--_untilHop <= 0) _untilHop = hop;
            w += wStep;
            float ws = w * s;
            outL[i] = md + sd + ws;
            outR[i] = md - sd - ws;
        }
        _blend = blend;
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
        _modelIn = new float[_modelLength];
        _modelOut = new float[_modelLength];
        _classId = DrumMap.ResolveClassId(DrumClass.General, d.ClassNames);
        if (_classId < 0) _classId = DiffusionConditioning.Unconditional;
        // Warm-up with the real shape so the first window is not slow.
        _cond[0] = new DiffusionConditioning(_classId, 0.8f);
        _seeds[0] = 0;
        operations.Vary(_modelIn, _cond, _seeds, _modelLength, 0.5f, new SamplingOptions { Steps = Steps }, _modelOut);
    }

    bool IGenerationJob.Step(IDiffusionOperations? operations) => Step();

    /// <summary>
    /// One window: vary history[t0, t0+N), add its windowed side into the overlap-add accumulator, publish hop
    /// [t0, t0+H). Ordering: validFrom is released before the hop's samples, and the samples before completeTo; the
    /// audio thread acquires completeTo and then validFrom, so whenever it sees a new completeTo it also sees the
    /// validFrom that goes with it and only samples that are fully written. A stale (completeTo, validFrom) pair at
    /// worst makes the range look empty, and the audio thread then uses the decorrelator.
    /// </summary>
    private bool Step()
    {
        if (_ops == null) return false; // no model: the audio thread's decorrelator supplies the side signal
        long written = Volatile.Read(ref _writeIndex);
        int N = _window, H = _hop;
        if (_t0 + N > written) return false;
        if (written - _latency >= _t0 + H)
        {
            // Too late for this hop (the audio thread already played it): jump to the newest complete window.
            long t0 = (written - N) / H * H;
            if (t0 > _t0)
            {
                _t0 = t0;
                Array.Clear(_accum);
                Volatile.Write(ref _sideValidFrom, _t0);
            }
        }
        long mask = _mask;
        for (int i = 0; i < N; i++) _winHost[i] = _history[(_t0 + i) & mask];

        Resampler.Resample(_winHost, _rateHz, _modelIn, _modelRateHz);
        _cond[0] = new DiffusionConditioning(_classId, 0.8f);
        _seeds[0] = AudioMath.Seed(Seed, (ulong)(_t0 / H));
        _ops.Vary(_modelIn, _cond, _seeds, _modelLength, VariationStrength, new SamplingOptions { Steps = Steps }, _modelOut);
        AudioMath.Sanitize(_modelOut);
        Resampler.Resample(_modelOut, _modelRateHz, _xPrime, _rateHz);

        for (int i = 0; i < N; i++) _accum[i] += _hann[i] * 0.5f * (_xPrime[i] - _winHost[i]);
        for (int i = 0; i < H; i++) _side[(_t0 + i) & mask] = _accum[i];
        Volatile.Write(ref _sideCompleteTo, _t0 + H); // release: the hop's samples are visible first
        Array.Copy(_accum, H, _accum, 0, N - H);
        Array.Clear(_accum, N - H, H);
        _t0 += H;
        return true;
    }
}
