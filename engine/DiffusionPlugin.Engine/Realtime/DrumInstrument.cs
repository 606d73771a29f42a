using System.Runtime.CompilerServices;
using DiffusionPlugin.Engine.Diffusion;

namespace DiffusionPlugin.Engine.Realtime;

/// <summary>
/// Diffusion Drums: MIDI drum notes in, stereo out. Each mapped note has an anchor hit generated from the kit seed
/// (the kit's identity); every played hit is a diffusion variation of that anchor at the <see cref="Humanize"/> strength.
/// A background worker keeps a small pool of ready variations per note (busiest and emptiest notes first); a note-on
/// takes one at once. When a pool is empty the least recently played variation is replayed, and before anything was
/// generated (or with no model) a synthesised fallback sound plays: a mapped note is never silent and never waits.
/// In offline mode (host renders faster than real time) each hit is generated synchronously inside
/// <see cref="Process"/>, so the same MIDI, kit seed and settings render bit-identically.
/// </summary>
/// <remarks>
/// Threads: <see cref="Activate"/>/<see cref="Deactivate"/>/<see cref="Dispose"/> from one non-audio thread;
/// <see cref="NoteOn"/>/<see cref="NoteOff"/>/<see cref="Process"/> from the audio thread; parameter properties and
/// counters from any thread (they are atomics). Slot ownership moves between the audio thread and the worker only
/// through two <see cref="SpscRing{T}"/>s: "please refill slot g" (audio → worker) and "slot g is ready" (worker →
/// audio), so each slot's audio has exactly one writer at a time and the audio thread never reads a slot being written.
/// </remarks>
public sealed class DrumInstrument : IDrumInstrument, IGenerationJob
{
    /// <summary>MIDI note numbers 0..127.</summary>
    public const int NoteCount = 128;
    /// <summary>Hard cap on simultaneously rendered voices, including ones fading out after a steal or choke.</summary>
    public const int VoiceCapacity = 256;
    /// <summary>Note events queued per block beyond this are dropped (and counted in <see cref="DroppedEvents"/>).</summary>
    public const int EventCapacity = 2048;
    /// <summary>Longest hit kept, in seconds (a longer model clip is truncated with a short fade).</summary>
    public const double MaxHitSeconds = 0.6;

    private const int StateAtWorker = 0, StateReady = 1, StatePlayed = 2;
    private const double StealFadeSeconds = 0.005, ChokeFadeSeconds = 0.010;
    /// <summary>Refill weight of a note nobody plays, relative to one hit per second of recent playing.</summary>
    private const float IdleWeight = 0.05f;
    /// <summary>Recent hits per second below which a note counts as idle (filled one at a time).</summary>
    private const float IdleBusyness = 0.01f;

    private readonly GenerationWorker _worker;
    private readonly int _slotsPerNote;
    private readonly int _batchSize;

    // ---- parameters (atomics, any thread) ----
    private ulong _kitSeed = 0x5EED_D12AUL;
    private AtomicFloat _humanize = new(0.3f);
    private AtomicFloat _guidance = new(1.5f);
    private AtomicFloat _outputGainDb = new(0f);
    private AtomicFloat _velocityJitter = new(0f);
    private AtomicFloat _timingJitterMs = new(0f);
    private AtomicFloat _stamina = new(0f);
    private int _steps = DefaultSteps;
    private int _maxVoices = 32;
    private int _kitEpoch;
    private readonly AtomicFloat[] _classLevels = new AtomicFloat[DrumMap.ClassCount];
    private readonly int[] _noteClass = new int[NoteCount];
    private readonly int[] _noteChokeGroup = new int[NoteCount];
    private readonly int[] _noteChokes = new int[NoteCount];
    private long _freshHits, _reusedHits, _fallbackHits, _droppedEvents;

    // ---- activation (written by Activate, read by both threads afterwards) ----
    private double _rateHz;
    private bool _offline, _active;
    // Freewheel (host renders offline in a real-time activation): the worker is paused and Process generates missing hits.
    private bool _freewheel;
    private int _slotCapacity;             // samples per slot at the host rate
    private float[] _slab = [];            // all slots' audio: slot g at [g * _slotCapacity, …)
    private int[] _noteFirstSlot = new int[NoteCount]; // -1 = this note got no slots at Activate
    private int[] _slotNote = [];
    private int _slotCount;
    private float[] _fallbackAudio = [];   // FallbackVariants synthesised hits per class at the host rate
    private int _fallbackLength;
    /// <summary>Seeded fallback hits per class, played in turn so that even the fallback never repeats back-to-back.</summary>
    internal const int FallbackVariants = 4;
    private readonly int[] _fallbackNext = new int[DrumMap.ClassCount];
    private readonly int[] _noteLastSlot = new int[NoteCount];
    private readonly bool[] _reuseFaster = new bool[NoteCount];
    // Draws the playback-rate nudge of reused hits; separate from _jitter so fresh hits do not depend on reuse.
    private FastRandom _reuseRandom;
    private SpscRing<int> _requests = new(1);           // audio → worker: slot to (re)fill
    private SpscRing<SlotResult> _results = new(1);     // worker → audio: slot filled
    private readonly long[] _noteHits = new long[NoteCount];        // audio writes, worker reads (busyness)
    private readonly AtomicFloat[] _noteVelocity = new AtomicFloat[NoteCount]; // audio writes, worker reads

    // ---- audio-thread state ----
    private int[] _slotState = [];
    private long[] _slotReadySeq = [];
    private long[] _slotLastPlayed = [];
    private int[] _slotVoices = [];
    private int[] _slotLength = [];
    private long _readySeq, _playSeq, _voiceOrder, _clock;
    private int _seenEpoch;
    private readonly Voice[] _voices = new Voice[VoiceCapacity];
    private int _voiceCount;
    private readonly NoteEvent[] _events = new NoteEvent[EventCapacity];
    private int _eventCount;
    private FastRandom _jitter;
    private bool _slotReused;   // set by TakeVariation: the slot it returned had been played before
    private readonly long[] _lastHitAt = new long[NoteCount];
    private readonly float[] _fatigue = new float[NoteCount];
    private readonly long[] _offlineHitIndex = new long[NoteCount];
    private float _appliedGain = 1f;

    // ---- worker-thread state ----
    private IDiffusionOperations? _ops;
    private int _modelRateHz, _modelLength;
    private float _guidanceMaxSigma = float.PositiveInfinity; // worker thread (set with the model)
    private SpectralCalibrationFilter? _calibration;          // worker thread (set with the model; null: none)
    private TimbrePrior? _timbre;                             // worker thread (set with the model; null: no timbre input)
    private readonly int[] _classIdFor = new int[DrumMap.ClassCount];
    private readonly float[]?[] _anchors = new float[NoteCount][];
    private readonly (ulong Seed, int ClassId, int ModelRate, bool Valid)[] _anchorKey = new (ulong, int, int, bool)[NoteCount];
    private float[] _batchSources = [], _batchOutput = [];
    private ResamplingPlan? _toHost;            // model clip → host rate, built once per model and activation
    private DiffusionConditioning[] _batchConditioning = [];
    private ulong[] _batchSeeds = [];
    private int[] _batchSlots = [], _batchNotes = [];
    private int[][] _pending = [];
    private int[] _pendingCount = new int[NoteCount];
    private readonly long[] _variationCounter = new long[NoteCount];
    private readonly long[] _seenHits = new long[NoteCount];
    private readonly float[] _busyness = new float[NoteCount];
    private long _lastBusyTicks;

    private struct Voice
    {
        public int Slot;        // global slot, or -1 - (class * FallbackVariants + variant) for a fallback sound
        public int Note;
        public int Pos, Length; // output frames played / to play (Length = source length / Rate)
        public int SourceLength;
        public float Rate;      // source frames per output frame: 1 for fresh hits, near 1 for reused ones
        public long StartAt;    // absolute sample clock of the first sample
        public long FadeAt;     // absolute sample clock where the fade-out starts; long.MaxValue = none
        public int FadeLength, FadeDone;
        public float Gain;
        public long Order;
    }

    private struct NoteEvent
    {
        public int Offset, Note;
        public float Velocity;
        public bool On;
    }

    private readonly record struct SlotResult(int Slot, int Length, int Epoch);

    internal DrumInstrument(Func<IDiffusionOperations>? loadOperations, Func<IDiffusionOperations, ModelStatus> readyStatus,
                            int slotsPerNote = 6, int batchSize = 4)
    {
        _slotsPerNote = Math.Clamp(slotsPerNote, 2, 64);
        _batchSize = Math.Clamp(batchSize, 1, 16);
        _worker = new GenerationWorker("DiffusionDrums worker", loadOperations, readyStatus, "DrumInstrument");
        for (int c = 0; c < _classLevels.Length; c++) _classLevels[c] = new AtomicFloat(1f);
        for (int n = 0; n < NoteCount; n++)
        {
            _noteClass[n] = (int)DrumMap.GeneralMidi(n);
            _noteChokeGroup[n] = DrumMap.DefaultChokeGroup(n);
            _noteChokes[n] = DrumMap.DefaultChokes(n);
            _noteVelocity[n] = new AtomicFloat(0.8f);
            _noteFirstSlot[n] = -1;
        }
    }

    // =====================================================================================================
    // Parameters and counters (any thread)
    // =====================================================================================================

    /// <inheritdoc/>
    public ModelStatus Status => _worker.Status;
    /// <inheritdoc/>
    public string StatusMessage => _worker.StatusMessage;
    /// <summary>Drums add no latency: hits start at their event's sample offset. Any thread.</summary>
    public int LatencySamples => 0;

    /// <inheritdoc/>
    public ulong KitSeed
    {
        get => Volatile.Read(ref _kitSeed);
        set { if (Volatile.Read(ref _kitSeed) != value) { Volatile.Write(ref _kitSeed, value); Interlocked.Increment(ref _kitEpoch); } }
    }

    /// <inheritdoc/>
    public float Humanize
    {
        get => _humanize.Value;
        set
        {
            float v = float.IsFinite(value) ? Math.Clamp(value, 0f, 1f) : 0f;
            float old = _humanize.Value;
            _humanize.Value = v;
            // Ready variations made at another strength are refreshed (a big move, or reaching exactly 0).
            if (MathF.Abs(old - v) >= 0.02f || (v == 0f && old != 0f)) Interlocked.Increment(ref _kitEpoch);
        }
    }

    /// <summary>Sampler steps per fresh hit until <see cref="Steps"/> is set: the shipped model's default (6 scores as
    /// 8 on held-out kits, see onnx-export/README.md). The plugin's "Quality (steps)" parameter starts here too.
    /// A constant: any thread.</summary>
    public const int DefaultSteps = 6;

    /// <inheritdoc/>
    public int Steps { get => Volatile.Read(ref _steps); set => Volatile.Write(ref _steps, Math.Clamp(value, 1, 200)); }
    /// <inheritdoc/>
    public float Guidance { get => _guidance.Value; set => _guidance.Value = float.IsFinite(value) ? Math.Clamp(value, 0f, 20f) : 1f; }
    /// <inheritdoc/>
    public float OutputGainDb { get => _outputGainDb.Value; set => _outputGainDb.Value = float.IsFinite(value) ? Math.Clamp(value, -96f, 24f) : 0f; }

    /// <summary>Standard deviation of the Gaussian velocity jitter, in velocity units (0..0.5; 0 = off). Any thread.</summary>
    public float VelocityJitter { get => _velocityJitter.Value; set => _velocityJitter.Value = float.IsFinite(value) ? Math.Clamp(value, 0f, 0.5f) : 0f; }

    /// <summary>Standard deviation, in ms, of the late-only timing jitter (hits are only ever delayed, by |N(0,σ)|, at most 4σ). Any thread.</summary>
    public float TimingJitterMs { get => _timingJitterMs.Value; set => _timingJitterMs.Value = float.IsFinite(value) ? Math.Clamp(value, 0f, 50f) : 0f; }

    /// <summary>Stamina 0..1: how much fast repeats of a note weaken (up to −6 dB at 1), recovering over ~250 ms. Any thread.</summary>
    public float Stamina { get => _stamina.Value; set => _stamina.Value = float.IsFinite(value) ? Math.Clamp(value, 0f, 1f) : 0f; }

    /// <summary>Polyphony limit (1..<see cref="VoiceCapacity"/>); beyond it the oldest voice is stolen with a short fade. Any thread.</summary>
    public int MaxVoices { get => Volatile.Read(ref _maxVoices); set => Volatile.Write(ref _maxVoices, Math.Clamp(value, 1, VoiceCapacity)); }

    /// <inheritdoc/>
    public void SetClassLevel(int classIndex, float level)
    {
        if ((uint)classIndex < (uint)_classLevels.Length) _classLevels[classIndex].Value = float.IsFinite(level) ? Math.Clamp(level, 0f, 2f) : 1f;
    }

    /// <inheritdoc/>
    public float GetClassLevel(int classIndex) => (uint)classIndex < (uint)_classLevels.Length ? _classLevels[classIndex].Value : 0f;

    /// <summary>
    /// Maps <paramref name="note"/> to a drum class (<see cref="DrumClass.None"/> = ignore the note); regenerates its
    /// anchor. A note that had no class at <see cref="Activate"/> plays the fallback sound of its new class until the
    /// next activation (pools are sized on activate). Any non-audio thread.
    /// </summary>
    public void SetNoteClass(int note, DrumClass drumClass)
    {
        if ((uint)note >= NoteCount) throw new ArgumentOutOfRangeException(nameof(note));
        Volatile.Write(ref _noteClass[note], (int)drumClass);
        Interlocked.Increment(ref _kitEpoch);
    }

    /// <summary>The class a note plays. Any thread.</summary>
    public DrumClass GetNoteClass(int note) => (uint)note < NoteCount ? (DrumClass)Volatile.Read(ref _noteClass[note]) : DrumClass.None;

    /// <summary>
    /// Choke rules for a note: it belongs to <paramref name="chokeGroup"/> (0 = none) and, when it sounds, silences
    /// every voice in <paramref name="chokes"/> (0 = none). Default: 42/44 choke group 1, 46 is in group 1. Any thread.
    /// </summary>
    public void SetChoke(int note, int chokeGroup, int chokes)
    {
        if ((uint)note >= NoteCount) throw new ArgumentOutOfRangeException(nameof(note));
        Volatile.Write(ref _noteChokeGroup[note], chokeGroup);
        Volatile.Write(ref _noteChokes[note], chokes);
    }

    /// <inheritdoc/>
    public long FreshHits => Volatile.Read(ref _freshHits);
    /// <inheritdoc/>
    public long ReusedHits => Volatile.Read(ref _reusedHits);
    /// <summary>Hits (counted in <see cref="ReusedHits"/> too) that played the synthesised fallback because nothing was generated yet. Any thread.</summary>
    public long FallbackHits => Volatile.Read(ref _fallbackHits);
    /// <summary>Note events dropped because more than <see cref="EventCapacity"/> arrived in one block. Any thread.</summary>
    public long DroppedEvents => Volatile.Read(ref _droppedEvents);
    /// <summary>Voices sounding now (audio thread exact; others approximate).</summary>
    public int ActiveVoices => Volatile.Read(ref _voiceCount);
    /// <summary>Units of work the worker has done (diagnostics). Any thread.</summary>
    public long WorkerSteps => _worker.Steps;

    /// <summary>Ready (never played) variations in a note's pool as the audio thread last saw them. Audio thread (tests, meters).</summary>
    public int ReadyVariations(int note)
    {
        if ((uint)note >= NoteCount || _noteFirstSlot[note] < 0 || !_active) return 0;
        int first = _noteFirstSlot[note], ready = 0;
        for (int g = first; g < first + _slotsPerNote; g++) if (_slotState[g] == StateReady) ready++;
        return ready;
    }

    /// <summary>Variations kept per mapped note.</summary>
    public int PoolSize => _slotsPerNote;

    // =====================================================================================================
    // Lifecycle (non-audio thread)
    // =====================================================================================================

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

        // Slots for every note mapped now; buffers are sized here once and never on the audio thread.
        int mapped = 0;
        for (int n = 0; n < NoteCount; n++) if (_noteClass[n] >= 0) mapped++;
        _slotCount = mapped * _slotsPerNote;
        _slotCapacity = (int)Math.Ceiling(MaxHitSeconds * sampleRateHz);
        long slabLength = (long)_slotCount * _slotCapacity;
        if (_slab.LongLength != slabLength) _slab = new float[slabLength];
        _slotNote = new int[_slotCount];
        _slotState = new int[_slotCount];
        _slotReadySeq = new long[_slotCount];
        _slotLastPlayed = new long[_slotCount];
        _slotVoices = new int[_slotCount];
        _slotLength = new int[_slotCount];
        _pending = new int[NoteCount][];
        _pendingCount = new int[NoteCount];
        for (int n = 0, g = 0; n < NoteCount; n++)
        {
            if (_noteClass[n] < 0) { _noteFirstSlot[n] = -1; continue; }
            _noteFirstSlot[n] = g;
            _pending[n] = new int[_slotsPerNote];
            for (int j = 0; j < _slotsPerNote; j++, g++) _slotNote[g] = n;
        }
        _requests = new SpscRing<int>(Math.Max(2, _slotCount));
        _results = new SpscRing<SlotResult>(Math.Max(2, _slotCount));
        // Every slot starts at the worker. The audio thread is not running yet; starting the worker thread (or the
        // host's first Process call) is a full barrier, so these writes are seen by both threads.
        for (int g = 0; g < _slotCount; g++) _requests.TryWrite(g);

        _fallbackLength = (int)Math.Ceiling(FallbackDrumSynth.LengthSeconds * sampleRateHz);
        _fallbackAudio = new float[DrumMap.ClassCount * FallbackVariants * _fallbackLength];
        for (int c = 0; c < DrumMap.ClassCount; c++)
            for (int v = 0; v < FallbackVariants; v++)
                FallbackDrumSynth.Render((DrumClass)c, 0, AudioMath.Seed(0xFA11BAC4 + (ulong)v, (ulong)c), sampleRateHz,
                    _fallbackAudio.AsSpan((c * FallbackVariants + v) * _fallbackLength, _fallbackLength));
        Array.Clear(_fallbackNext);
        Array.Fill(_noteLastSlot, int.MinValue);
        Array.Clear(_reuseFaster);
        _reuseRandom = new FastRandom(AudioMath.Seed(KitSeed, 0x2E05E));

        _voiceCount = 0; _eventCount = 0; _clock = 0; _readySeq = 0; _playSeq = 0; _voiceOrder = 0;
        _seenEpoch = Volatile.Read(ref _kitEpoch);
        _jitter = new FastRandom(AudioMath.Seed(KitSeed, 0x717735));
        Array.Fill(_lastHitAt, long.MinValue / 2);
        Array.Clear(_fatigue);
        Array.Clear(_offlineHitIndex);
        Array.Clear(_seenHits);
        Array.Clear(_busyness);
        // Until real playing says otherwise, the core kit (kicks, snares, hats) is filled first: with a slow model on a
        // CPU those are the notes a user plays within the first seconds.
        foreach (int n in (ReadOnlySpan<int>)[35, 36, 38, 40, 42, 44, 46]) _busyness[n] = 1f;
        for (int n = 0; n < NoteCount; n++) _seenHits[n] = Volatile.Read(ref _noteHits[n]);
        _appliedGain = AudioMath.DbToGain(OutputGainDb);
        _lastBusyTicks = Environment.TickCount64;

        if (offline)
        {
            // Offline: the model is used synchronously from Process; no thread, so no timing dependence.
            while (_requests.TryRead(out _)) { }
            _worker.PrepareSynchronously(this);
        }
        else
        {
            _worker.Start(this);
        }
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
    public void NoteOn(int sampleOffset, int note, float velocity01)
    {
        if ((uint)note >= NoteCount) return;
        if (!(velocity01 > 0f)) return; // velocity 0 is a note-off in MIDI; NaN is ignored
        QueueEvent(sampleOffset, note, Math.Min(velocity01, 1f), on: true);
    }

    /// <inheritdoc/>
    public void NoteOff(int sampleOffset, int note)
    {
        // Drum hits play to their end; note-offs are accepted (and ignored) so hosts can send them freely.
    }

    private void QueueEvent(int offset, int note, float velocity, bool on)
    {
        if (_eventCount >= EventCapacity) { Volatile.Write(ref _droppedEvents, _droppedEvents + 1); return; }
        _events[_eventCount++] = new NoteEvent { Offset = Math.Max(0, offset), Note = note, Velocity = velocity, On = on };
    }

    /// <inheritdoc/>
    public void Process(Span<float> left, Span<float> right, int frames)
    {
        frames = Math.Clamp(frames, 0, Math.Min(left.Length, right.Length));
        var outL = left[..frames];
        var outR = right[..frames];
        try
        {
            outL.Clear();
            if (!_active) { _eventCount = 0; outR.Clear(); return; }
            if (!_offline) DrainResults();
            CheckEpoch();
            SortEvents();
            for (int e = 0; e < _eventCount; e++)
            {
                ref var ev = ref _events[e];
                int offset = frames == 0 ? 0 : Math.Min(ev.Offset, frames - 1);
                if (ev.On) StartHit(offset, ev.Note, ev.Velocity);
            }
            _eventCount = 0;
            RenderVoices(outL, frames);
            float target = AudioMath.DbToGain(OutputGainDb);
            float g = _appliedGain, step = frames > 0 ? (target - g) / frames : 0f;
            for (int i = 0; i < frames; i++) { g += step; outL[i] = AudioMath.Sanitize(outL[i] * g); }
            _appliedGain = target;
            outL.CopyTo(outR);
            if (!_offline) ReleasePlayedSlots();
            _clock += frames;
        }
        catch (Exception)
        {
            // Unreachable by design; if it ever happens the host gets silence for one block, never an exception.
            outL.Clear(); outR.Clear(); _eventCount = 0;
        }
    }

    private void SortEvents()
    {
        // Insertion sort: stable, allocation-free, and events usually arrive in order already.
        for (int i = 1; i < _eventCount; i++)
        {
            var e = _events[i];
            int j = i - 1;
            while (j >= 0 && _events[j].Offset > e.Offset) { _events[j + 1] = _events[j]; j--; }
            _events[j + 1] = e;
        }
    }

    private void DrainResults()
    {
        while (_results.TryRead(out var r))
        {
            if (r.Epoch != _seenEpoch) { _slotState[r.Slot] = StateAtWorker; _requests.TryWrite(r.Slot); continue; }
            _slotState[r.Slot] = StateReady;
            _slotLength[r.Slot] = r.Length;
            _slotReadySeq[r.Slot] = ++_readySeq;
        }
    }

    private void CheckEpoch()
    {
        int epoch = Volatile.Read(ref _kitEpoch);
        if (epoch == _seenEpoch) return;
        _seenEpoch = epoch;
        if (_offline) return;
        // The kit (or humanize) changed: ready variations belong to the old kit, send them back to be remade.
        // Played ones stay until replaced, so a note keeps sounding meanwhile.
        for (int g = 0; g < _slotCount; g++)
            if (_slotState[g] == StateReady) { _slotState[g] = StateAtWorker; _requests.TryWrite(g); }
    }

    private void StartHit(int offset, int note, float velocity)
    {
        int cls = Volatile.Read(ref _noteClass[note]);
        if (cls < 0) return;

        float sigmaV = _velocityJitter.Value;
        if (sigmaV > 0) velocity = Math.Clamp(velocity + sigmaV * _jitter.NextGaussian(), 0.02f, 1f);
        long startAt = _clock + offset;
        float sigmaMs = _timingJitterMs.Value;
        if (sigmaMs > 0)
        {
            // Late only: a drummer may drag behind the grid, the plugin can never play before the event.
            float lateMs = Math.Min(MathF.Abs(_jitter.NextGaussian()) * sigmaMs, 4f * sigmaMs);
            startAt += (long)(lateMs * 0.001 * _rateHz);
        }
        float staminaGain = 1f;
        float stamina = _stamina.Value;
        {
            // Fatigue builds with each hit and recovers exponentially (τ = 250 ms); fast repeats come out weaker.
            long dt = startAt - _lastHitAt[note];
            float f = _fatigue[note] * MathF.Exp(-(float)(dt / (0.25 * _rateHz)));
            staminaGain = 1f - 0.5f * stamina * f;
            _fatigue[note] = f + (1f - f) * 0.35f;
            _lastHitAt[note] = startAt;
        }
        float gain = velocity * velocity * _classLevels[Math.Min(cls, _classLevels.Length - 1)].Value * staminaGain;

        int slot, length;
        _slotReused = false;
        if (_offline) (slot, length) = GenerateOfflineHit(note, velocity);
        else
        {
            if (_freewheel && ReadyVariations(note) == 0) GenerateFreewheelVariation(note, velocity);
            (slot, length) = TakeVariation(note, cls);
        }
        float rate = 1f;
        if (slot >= 0 && _slotReused)
        {
            // A reused variation (the worker is behind) is played 1.2-2.5 % faster or slower, as a drummer's stroke
            // moves the pitch slightly; the direction alternates per note, so two reused hits in a row never match.
            float magnitude = 0.012f + 0.013f * MathF.Abs(_reuseRandom.NextSigned());
            _reuseFaster[note] = !_reuseFaster[note];
            rate = _reuseFaster[note] ? 1f + magnitude : 1f - magnitude;
        }
        _noteLastSlot[note] = slot;
        int sourceLength = length;
        length = rate == 1f ? sourceLength : Math.Max(1, (int)((sourceLength - 1) / rate));

        // Chokes: this note silences every voice in its choke group, with a short fade at the event's time.
        int chokes = Volatile.Read(ref _noteChokes[note]);
        if (chokes != 0)
        {
            for (int v = 0; v < _voiceCount; v++)
            {
                ref var voice = ref _voices[v];
                if (voice.FadeAt == long.MaxValue && Volatile.Read(ref _noteChokeGroup[voice.Note]) == chokes)
                    BeginFade(ref voice, _clock + offset, ChokeFadeSeconds);
            }
        }

        // Polyphony: steal the oldest sounding voice (short fade) when the limit is reached.
        int limit = MaxVoices, sounding = 0;
        for (int v = 0; v < _voiceCount; v++) if (_voices[v].FadeAt == long.MaxValue) sounding++;
        while (sounding >= limit)
        {
            int oldest = -1;
            for (int v = 0; v < _voiceCount; v++)
                if (_voices[v].FadeAt == long.MaxValue && (oldest < 0 || _voices[v].Order < _voices[oldest].Order)) oldest = v;
            if (oldest < 0) break;
            BeginFade(ref _voices[oldest], _clock + offset, StealFadeSeconds);
            sounding--;
        }
        if (_voiceCount == VoiceCapacity) RemoveVoice(0); // voices are kept in start order: 0 is the oldest

        _voices[_voiceCount++] = new Voice
        {
            Slot = slot, Note = note, Pos = 0, Length = length, SourceLength = sourceLength, Rate = rate,
            StartAt = startAt, FadeAt = long.MaxValue,
            Gain = gain, Order = ++_voiceOrder,
        };
        if (slot >= 0) _slotVoices[slot]++;
        Volatile.Write(ref _noteHits[note], _noteHits[note] + 1);
        _noteVelocity[note].Value = velocity;
    }

    /// <summary>
    /// A fresh ready variation if there is one, else the least recently played one other than the one this note just
    /// played (sets <see cref="_slotReused"/>), else the next of the class's fallback sounds.
    /// </summary>
    private (int Slot, int Length) TakeVariation(int note, int cls)
    {
        _slotReused = false;
        int first = _noteFirstSlot[note];
        if (first >= 0)
        {
            int best = -1;
            for (int g = first; g < first + _slotsPerNote; g++)
                if (_slotState[g] == StateReady && (best < 0 || _slotReadySeq[g] < _slotReadySeq[best])) best = g;
            if (best >= 0)
            {
                _slotState[best] = StatePlayed;
                _slotLastPlayed[best] = ++_playSeq;
                Volatile.Write(ref _freshHits, _freshHits + 1);
                return (best, _slotLength[best]);
            }
            int last = _noteLastSlot[note];
            for (int g = first; g < first + _slotsPerNote; g++)
                if (_slotState[g] == StatePlayed && g != last && (best < 0 || _slotLastPlayed[g] < _slotLastPlayed[best])) best = g;
            if (best < 0 && last >= first && last < first + _slotsPerNote && _slotState[last] == StatePlayed) best = last;
            if (best >= 0)
            {
                _slotReused = true;
                _slotLastPlayed[best] = ++_playSeq;
                Volatile.Write(ref _reusedHits, _reusedHits + 1);
                return (best, _slotLength[best]);
            }
        }
        Volatile.Write(ref _reusedHits, _reusedHits + 1);
        Volatile.Write(ref _fallbackHits, _fallbackHits + 1);
        int c = Math.Min(cls, DrumMap.ClassCount - 1);
        int variant = _fallbackNext[c];
        _fallbackNext[c] = (variant + 1) % FallbackVariants;
        return (-1 - (c * FallbackVariants + variant), _fallbackLength);
    }

    private static void BeginFade(ref Voice voice, long at, double seconds, double rateHz)
    {
        voice.FadeAt = Math.Max(at, voice.StartAt);
        voice.FadeLength = Math.Max(1, (int)(seconds * rateHz));
        voice.FadeDone = 0;
    }

    private void BeginFade(ref Voice voice, long at, double seconds) => BeginFade(ref voice, at, seconds, _rateHz);

    /// <summary>
    /// Removes a voice keeping the others in start order: voices are always summed oldest first, so the float sum at a
    /// sample does not depend on where block boundaries fell (offline renders are bit-identical for any block size).
    /// </summary>
    private void RemoveVoice(int index)
    {
        int slot = _voices[index].Slot;
        if (slot >= 0) _slotVoices[slot]--;
        _voiceCount--;
        if (index < _voiceCount) Array.Copy(_voices, index + 1, _voices, index, _voiceCount - index);
    }

    private void RenderVoices(Span<float> mix, int frames)
    {
        long blockStart = _clock, blockEnd = _clock + frames;
        for (int v = 0; v < _voiceCount;)
        {
            ref var voice = ref _voices[v];
            if (voice.StartAt >= blockEnd) { v++; continue; }
            ReadOnlySpan<float> src = voice.Slot >= 0
                ? _slab.AsSpan(voice.Slot * _slotCapacity, voice.SourceLength)
                : _fallbackAudio.AsSpan((-1 - voice.Slot) * _fallbackLength, voice.SourceLength);
            int i = (int)Math.Max(0, voice.StartAt - blockStart);
            bool finished = false;
            if (voice.Rate != 1f)
            {
                // Reused hit at a nudged rate: linear interpolation; Length keeps index + 1 inside the source.
                while (i < frames && voice.Pos < voice.Length)
                {
                    long now = blockStart + i;
                    float g = voice.Gain;
                    if (now >= voice.FadeAt)
                    {
                        if (voice.FadeDone >= voice.FadeLength) break;
                        g *= 1f - (float)voice.FadeDone / voice.FadeLength;
                        voice.FadeDone++;
                    }
                    double at = voice.Pos * (double)voice.Rate;
                    int j = (int)at;
                    float f = (float)(at - j);
                    mix[i] += (src[j] + (src[j + 1] - src[j]) * f) * g;
                    voice.Pos++; i++;
                }
                finished = voice.Pos >= voice.Length || (voice.FadeAt != long.MaxValue && voice.FadeDone >= voice.FadeLength);
                if (finished) RemoveVoice(v);
                else v++;
                continue;
            }
            while (i < frames && !finished)
            {
                long now = blockStart + i;
                int remaining = voice.Length - voice.Pos;
                if (now < voice.FadeAt)
                {
                    int n = (int)Math.Min(Math.Min(frames - i, remaining), voice.FadeAt - now);
                    float g = voice.Gain;
                    var s = src.Slice(voice.Pos, n);
                    var d = mix.Slice(i, n);
                    for (int k = 0; k < n; k++) d[k] += s[k] * g;
                    voice.Pos += n; i += n;
                }
                else
                {
                    int n = Math.Min(Math.Min(frames - i, remaining), voice.FadeLength - voice.FadeDone);
                    float inv = 1f / voice.FadeLength;
                    for (int k = 0; k < n; k++)
                    {
                        float g = voice.Gain * (1f - (voice.FadeDone + k) * inv);
                        mix[i + k] += src[voice.Pos + k] * g;
                    }
                    voice.Pos += n; voice.FadeDone += n; i += n;
                    if (voice.FadeDone >= voice.FadeLength) finished = true;
                }
                if (voice.Pos >= voice.Length) finished = true;
            }
            if (finished) RemoveVoice(v); // the next voice moves into index v: do not advance
            else v++;
        }
    }

    /// <summary>
    /// Sends played variations back to the worker for refilling, keeping the most recently played one per note
    /// (the replay candidate when a pool runs dry) and any still sounding.
    /// </summary>
    private void ReleasePlayedSlots()
    {
        for (int n = 0; n < NoteCount; n++)
        {
            int first = _noteFirstSlot[n];
            if (first < 0) continue;
            int newest = -1;
            for (int g = first; g < first + _slotsPerNote; g++)
                if (_slotState[g] == StatePlayed && (newest < 0 || _slotLastPlayed[g] > _slotLastPlayed[newest])) newest = g;
            if (newest < 0) continue;
            for (int g = first; g < first + _slotsPerNote; g++)
            {
                if (g == newest || _slotState[g] != StatePlayed || _slotVoices[g] != 0) continue;
                if (!_requests.TryWrite(g)) return;
                _slotState[g] = StateAtWorker;
            }
        }
    }

    // =====================================================================================================
    // Generation (worker thread; offline: the thread calling Process)
    // =====================================================================================================

    void IGenerationJob.OnModel(IDiffusionOperations? operations)
    {
        _ops = operations;
        if (operations != null)
        {
            var d = operations.Denoiser;
            _modelRateHz = d.SampleRateHz;
            _guidanceMaxSigma = d.TunedSampling?.GuidanceMaxSigma ?? float.PositiveInfinity;
            _calibration = d.Calibration?.CreateFilter(d.ClassNames);
            _timbre = d.TimbrePrior;
            int multiple = Math.Max(1, d.LengthMultiple);
            int clip = Math.Min(d.ClipSamples, (int)(MaxHitSeconds * d.SampleRateHz));
            _modelLength = Math.Max(multiple, (clip + multiple - 1) / multiple * multiple);
            for (int c = 0; c < DrumMap.ClassCount; c++) _classIdFor[c] = DrumMap.ResolveClassId((DrumClass)c, d.ClassNames);
        }
        else
        {
            _modelRateHz = (int)Math.Round(_rateHz);
            _modelLength = _slotCapacity;
            _calibration = null;
            _timbre = null;
        }
        int batch = _batchSize;
        _batchSources = new float[batch * _modelLength];
        _batchOutput = new float[batch * _modelLength];
        _batchConditioning = new DiffusionConditioning[batch];
        _batchSeeds = new ulong[batch];
        _batchSlots = new int[batch];
        _batchNotes = new int[batch];
        for (int n = 0; n < NoteCount; n++) _anchorKey[n].Valid = false;
        // A precomputed plan is ~10× faster than resampling tap by tap; above ~8 MB of weights (very high host rates)
        // the direct resampler is used instead.
        int hostClip = Math.Min(_slotCapacity, Resampler.ScaledLength(_modelLength, _modelRateHz, _rateHz));
        _toHost = ResamplingPlan.WeightCount(hostClip, _modelRateHz, _rateHz) <= 2_000_000
            ? new ResamplingPlan(_modelLength, _modelRateHz, hostClip, _rateHz) : null;

        if (operations != null)
        {
            // Warm-up: the first call with a shape builds the session's buffers; do it now rather than on a real hit,
            // for every batch size a refill may use.
            for (int b = 1; b <= batch; b++) operations.WarmUp(b, _modelLength, Sampling());
            for (int b = 0; b < batch; b++) { _batchConditioning[b] = new DiffusionConditioning(ModelClass(DrumClass.General), 0.8f); _batchSeeds[b] = (ulong)b; }
            operations.Vary(_batchSources, _batchConditioning, _batchSeeds, _modelLength, 0.5f, Sampling(), _batchOutput);
            _calibration?.Prepare(_modelLength);
        }
    }

    bool IGenerationJob.Step(IDiffusionOperations? operations)
    {
        while (_requests.TryRead(out int g))
        {
            int n = _slotNote[g];
            _pending[n][_pendingCount[n]++] = g;
        }
        UpdateBusyness();

        // Busiest and emptiest first: score = slots waiting × (IdleWeight + recent hits per second). Demand dominates:
        // a note the groove plays is refilled before the ~40 idle GM notes get their spare variations (with a weight of
        // 1 an idle note's full pool outscored a kick that was down to its last two); idle notes still fill when the
        // played ones are full, breadth first (every note one variation before any gets a second).
        int count = 0;
        while (count < _batchSize)
        {
            int bestNote = -1; float bestScore = 0f;
            for (int n = 0; n < NoteCount; n++)
            {
                int pending = _pendingCount[n];
                if (pending == 0 || Volatile.Read(ref _noteClass[n]) < 0) continue;
                float score = pending * (IdleWeight + _busyness[n]);
                if (score > bestScore) { bestScore = score; bestNote = n; }
            }
            if (bestNote < 0) break;
            // An idle note is filled alone: a batch of idle notes (each needing its anchor too) would hold the worker
            // for several hits' time while the played notes' pools drain.
            bool idle = _busyness[bestNote] < IdleBusyness;
            if (idle && count > 0) break;
            _batchNotes[count] = bestNote;
            _batchSlots[count] = _pending[bestNote][--_pendingCount[bestNote]];
            count++;
            if (idle) break;
        }
        if (count == 0) return false;

        int epoch = Volatile.Read(ref _kitEpoch);
        ulong kitSeed = KitSeed;
        for (int b = 0; b < count; b++)
        {
            int n = _batchNotes[b];
            _batchSeeds[b] = AudioMath.Seed(kitSeed, (ulong)n, (ulong)(++_variationCounter[n]));
            _batchConditioning[b] = NoteConditioning(n, _noteVelocity[n].Value, kitSeed);
        }
        GenerateInto(count, kitSeed);
        if (_worker.StopRequested) { ReturnBatchToPending(count); return true; }
        for (int b = 0; b < count; b++)
        {
            int length = StoreHostRate(b, _batchSlots[b]);
            while (!_results.TryWrite(new SlotResult(_batchSlots[b], length, epoch)))
            {
                if (_worker.StopRequested) return true;
                Thread.Sleep(1); // cannot happen (the ring holds every slot), but never spin hot
            }
        }
        return true;
    }

    private void ReturnBatchToPending(int count)
    {
        for (int b = 0; b < count; b++) { int n = _batchNotes[b]; _pending[n][_pendingCount[n]++] = _batchSlots[b]; }
    }

    private void UpdateBusyness()
    {
        long now = Environment.TickCount64;
        float dt = Math.Max(0.001f, (now - _lastBusyTicks) / 1000f);
        if (now - _lastBusyTicks < 50) return;
        _lastBusyTicks = now;
        float decay = MathF.Exp(-dt / 2f);
        for (int n = 0; n < NoteCount; n++)
        {
            long hits = Volatile.Read(ref _noteHits[n]);
            long delta = hits - _seenHits[n];
            _seenHits[n] = hits;
            _busyness[n] = _busyness[n] * decay + delta / 2f; // ≈ hits per second over the last ~2 s
        }
    }

    private DrumClass NoteClass(int note)
    {
        int c = Volatile.Read(ref _noteClass[note]);
        return c < 0 ? DrumClass.Percussion : (DrumClass)Math.Min(c, DrumMap.ClassCount - 1);
    }

    private int ModelClass(DrumClass c)
    {
        int id = _classIdFor[(int)c];
        if (id < 0) id = _classIdFor[(int)DrumClass.General];
        return id < 0 ? DiffusionConditioning.Unconditional : id;
    }

    // Steps and guidance come from the parameters; where guidance acts comes with the model (its manifest's tuning).
    private SamplingOptions Sampling() => new() { Steps = Steps, Guidance = Guidance, GuidanceMaxSigma = _guidanceMaxSigma };

    /// <summary>
    /// Fills _batchOutput[0..count) with variations of each note's anchor at the Humanize strength (model rate).
    /// Expects _batchNotes, _batchSeeds and _batchConditioning set. Without a model it synthesises the fallback.
    /// </summary>
    private void GenerateInto(int count, ulong kitSeed)
    {
        float strength = Humanize;
        int L = _modelLength;
        if (_ops == null)
        {
            for (int b = 0; b < count; b++)
            {
                int n = _batchNotes[b];
                var dst = _batchOutput.AsSpan(b * L, L);
                var fresh = _batchSources.AsSpan(b * L, L);
                FallbackDrumSynth.Render(NoteClass(n), n, AudioMath.Seed(kitSeed, (ulong)n), _modelRateHz, dst);
                if (strength > 0)
                {
                    FallbackDrumSynth.Render(NoteClass(n), n, _batchSeeds[b], _modelRateHz, fresh);
                    for (int i = 0; i < L; i++) dst[i] = (1f - strength) * dst[i] + strength * fresh[i];
                }
            }
            return;
        }

        // Anchors: one seeded draw per note from the kit seed, cached until the seed, class or model changes.
        int missing = 0;
        Span<int> missingNotes = stackalloc int[count];
        for (int b = 0; b < count; b++)
        {
            int n = _batchNotes[b];
            int classId = _batchConditioning[b].ClassId;
            var key = _anchorKey[n];
            if (key.Valid && key.Seed == kitSeed && key.ClassId == classId && key.ModelRate == _modelRateHz && _anchors[n]?.Length == L) continue;
            bool dup = false;
            for (int m = 0; m < missing; m++) dup |= missingNotes[m] == n;
            if (!dup) missingNotes[missing++] = n;
        }
        if (missing > 0)
        {
            var cond = new DiffusionConditioning[missing];
            var seeds = new ulong[missing];
            for (int m = 0; m < missing; m++)
            {
                int n = missingNotes[m];
                cond[m] = NoteConditioning(n, 0.8f, kitSeed);
                seeds[m] = AudioMath.Seed(kitSeed, (ulong)n);
            }
            var anchors = new float[missing * L];
            _ops.Generate(cond, seeds, L, Sampling(), anchors);
            AudioMath.Sanitize(anchors);
            for (int m = 0; m < missing; m++)
            {
                int n = missingNotes[m];
                _anchors[n] = anchors.AsSpan(m * L, L).ToArray();
                _anchorKey[n] = (kitSeed, cond[m].ClassId, _modelRateHz, true);
            }
        }
        for (int b = 0; b < count; b++) _anchors[_batchNotes[b]].AsSpan().CopyTo(_batchSources.AsSpan(b * L, L));
        _batchSources.AsSpan(count * L).Clear();
        if (strength <= 0f)
        {
            // Humanize 0 is the anchor itself: no model call needed.
            _batchSources.AsSpan(0, count * L).CopyTo(_batchOutput);
            return;
        }
        _ops.Vary(_batchSources.AsSpan(0, count * L), _batchConditioning.AsSpan(0, count), _batchSeeds.AsSpan(0, count),
                  L, strength, Sampling(), _batchOutput.AsSpan(0, count * L));
    }

    /// <summary>Resamples batch item <paramref name="b"/> to the host rate into slot <paramref name="slot"/>; returns its length (tail finished by <see cref="OneShotTail"/>).</summary>
    private int StoreHostRate(int b, int slot)
    {
        int L = _modelLength;
        var src = _batchOutput.AsSpan(b * L, L);
        if (_calibration != null)
        {
            // The model's per-class EQ toward its training kits (e.g. the hiss on kicks), at the model's rate.
            AudioMath.Sanitize(src);
            _calibration.Apply(src, _batchConditioning[b].ClassId, _batchConditioning[b].Velocity);
        }
        int hostLength = Math.Min(_slotCapacity, Resampler.ScaledLength(L, _modelRateHz, _rateHz));
        var dst = _slab.AsSpan(slot * _slotCapacity, hostLength);
        if (_toHost != null) _toHost.Apply(src, dst);
        else Resampler.Resample(src, _modelRateHz, dst, _rateHz);
        AudioMath.Sanitize(dst);
        // A clean end: no click where the clip stops, no model noise floor under the decay (the calibration takes it
        // down, so a calibrated hit keeps its decay further: its own floor); voices then end (and slots return to the
        // pool) where the sound does.
        float floorDb = _calibration?.FinishFloorDb(_batchConditioning[b].ClassId) ?? OneShotTail.DefaultFloorDb;
        int end = OneShotTail.Finish(dst, _rateHz, floorDb, OneShotTail.MaxPeak); // never louder than the loudest recorded layer
        return Math.Max(1, end);
    }

    private void PrepareSingle(int note, ulong seed, float velocity, ulong kitSeed)
    {
        _batchNotes[0] = note;
        _batchSeeds[0] = seed;
        _batchConditioning[0] = NoteConditioning(note, velocity, kitSeed);
    }

    /// <summary>
    /// What the model is told for a hit of <paramref name="note"/>: its class, the velocity and, for a model with timbre
    /// conditioning, the note's timbre in this kit — one draw per kit seed and note (the anchor's), read at the hit's
    /// velocity, so the note keeps its character across the kit's hits and still brightens when played harder.
    /// </summary>
    private DiffusionConditioning NoteConditioning(int note, float velocity, ulong kitSeed)
    {
        int classId = ModelClass(NoteClass(note));
        var timbre = classId == DiffusionConditioning.Unconditional ? null : _timbre?.Draw(classId, velocity, AudioMath.Seed(kitSeed, (ulong)note));
        return new DiffusionConditioning(classId, velocity, timbre);
    }

    /// <summary>
    /// Freewheel, worker paused: makes one fresh variation of <paramref name="note"/> ready now, on the calling thread,
    /// with the pool bookkeeping the worker uses (so real-time playing continues seamlessly afterwards): slot requests
    /// are taken into the worker's pending lists, a played slot no voice reads is freed if none is pending, and the
    /// variation is stored and marked ready. Leaves things as they are when every slot of the note is sounding.
    /// </summary>
    private void GenerateFreewheelVariation(int note, float velocity)
    {
        int first = _noteFirstSlot[note];
        if (first < 0 || _batchOutput.Length == 0 || _pending[note] == null) return; // no job buffers before the first OnModel
        while (_requests.TryRead(out int g))
        {
            int n = _slotNote[g];
            _pending[n][_pendingCount[n]++] = g;
        }
        if (_pendingCount[note] == 0)
        {
            int free = -1;
            for (int g = first; g < first + _slotsPerNote; g++)
                if (_slotState[g] == StatePlayed && _slotVoices[g] == 0 && (free < 0 || _slotLastPlayed[g] < _slotLastPlayed[free])) free = g;
            if (free < 0)
            {
                // Every slot of this note is still sounding (a fast roll): as offline, cut the voices of the oldest.
                for (int g = first; g < first + _slotsPerNote; g++)
                    if (_slotState[g] == StatePlayed && (free < 0 || _slotLastPlayed[g] < _slotLastPlayed[free])) free = g;
                if (free < 0) return;
                CutVoicesOf(free);
            }
            _slotState[free] = StateAtWorker;
            _pending[note][_pendingCount[note]++] = free;
        }
        int slot = _pending[note][--_pendingCount[note]];
        _slotLength[slot] = GenerateSingleInto(slot, note, (ulong)(++_variationCounter[note]), velocity);
        _slotState[slot] = StateReady;
        _slotReadySeq[slot] = ++_readySeq;
    }

    /// <summary>
    /// Generates one variation of <paramref name="note"/> (variation index <paramref name="index"/> of the kit) into
    /// <paramref name="slot"/> at the host rate and returns its length. A model failure switches to the fallback sound
    /// (reported once) and generates that instead. Offline or freewheel only: the thread calling Process runs the job.
    /// </summary>
    private int GenerateSingleInto(int slot, int note, ulong index, float velocity)
    {
        ulong kitSeed = KitSeed;
        ulong seed = AudioMath.Seed(kitSeed, (ulong)note, index);
        try
        {
            PrepareSingle(note, seed, velocity, kitSeed);
            GenerateInto(1, kitSeed);
        }
        catch (Exception e) when (!OrtProcessExitGuard.IsExiting)
        {
            _worker.ReportFailure("generation failed", e);
            ((IGenerationJob)this).OnModel(null);
            PrepareSingle(note, seed, velocity, kitSeed);
            GenerateInto(1, kitSeed);
        }
        return StoreHostRate(0, slot);
    }

    /// <summary>Removes every voice reading <paramref name="slot"/> (its audio is about to be overwritten).</summary>
    private void CutVoicesOf(int slot)
    {
        for (int v = 0; v < _voiceCount;) if (_voices[v].Slot == slot) RemoveVoice(v); else v++;
    }

    /// <summary>Offline: generate this hit now, deterministically, into a slot no voice is reading.</summary>
    private (int Slot, int Length) GenerateOfflineHit(int note, float velocity)
    {
        int first = _noteFirstSlot[note];
        if (first < 0) return TakeVariation(note, Volatile.Read(ref _noteClass[note]));
        int slot = -1;
        for (int g = first; g < first + _slotsPerNote; g++)
            if (_slotVoices[g] == 0 && (slot < 0 || _slotLastPlayed[g] < _slotLastPlayed[slot])) slot = g;
        if (slot < 0)
        {
            // Every slot of this note is sounding (very fast repeats): cut the voices of the oldest one.
            slot = first;
            for (int g = first; g < first + _slotsPerNote; g++) if (_slotLastPlayed[g] < _slotLastPlayed[slot]) slot = g;
            CutVoicesOf(slot);
        }
        int length = GenerateSingleInto(slot, note, (ulong)(++_offlineHitIndex[note]), velocity);
        _slotLength[slot] = length;
        _slotState[slot] = StatePlayed;
        _slotLastPlayed[slot] = ++_playSeq;
        Volatile.Write(ref _freshHits, _freshHits + 1);
        return (slot, length);
    }
}
