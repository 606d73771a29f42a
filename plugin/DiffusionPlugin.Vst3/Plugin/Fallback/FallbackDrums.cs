using DiffusionPlugin.Engine.Realtime;

namespace DiffusionPlugin.Vst3.Plugin.Fallback;

/// <summary>
/// The drum instrument without a model: a small synthesized kit (pitched sine sweeps and filtered noise per
/// General MIDI drum note). The kit seed fixes each note's anchor sound; humanize draws each hit's pitch, decay and
/// noise around it, so consecutive hits differ as a drummer's do. Real-time safe after Activate.
/// </summary>
internal sealed class FallbackDrums : IDrumInstrument
{
    private const int MaxVoices = 64;
    private const int MaxPending = 512;
    private const int ClassCount = 11;

    private struct Voice
    {
        public bool Active;
        public int Age;
        public int ClassIndex;
        public float Amplitude, StartHz, EndHz, SweepRate, Decay, ToneMix, NoiseMix, Pan;
        public double Phase;
        public uint Noise;
        public float LastNoise;
    }

    private readonly string _reason;
    private readonly Voice[] _voices = new Voice[MaxVoices];
    private readonly (int Offset, int Note, float Velocity, bool On)[] _pending = new (int, int, float, bool)[MaxPending];
    private readonly float[] _classLevels = Enumerable.Repeat(1f, ClassCount).ToArray();
    private int _pendingCount;
    private double _sampleRateHz = 48000;
    private long _kitSeed = 1, _freshHits, _hitCounter;
    private float _humanize = 0.35f, _guidance = 2f, _gainDb;
    private int _steps = 8;

    public FallbackDrums(string reason) => _reason = reason;

    public ModelStatus Status => ModelStatus.Fallback;
    public string StatusMessage => _reason;
    public int LatencySamples => 0;

    public ulong KitSeed { get => (ulong)Interlocked.Read(ref _kitSeed); set => Interlocked.Exchange(ref _kitSeed, (long)value); }
    public float Humanize { get => Volatile.Read(ref _humanize); set => Volatile.Write(ref _humanize, Math.Clamp(float.IsFinite(value) ? value : 0f, 0f, 1f)); }
    public int Steps { get => Volatile.Read(ref _steps); set => Volatile.Write(ref _steps, Math.Max(1, value)); }
    public float Guidance { get => Volatile.Read(ref _guidance); set => Volatile.Write(ref _guidance, value); }
    public float OutputGainDb { get => Volatile.Read(ref _gainDb); set => Volatile.Write(ref _gainDb, Math.Clamp(float.IsFinite(value) ? value : 0f, -60f, 24f)); }
    public void SetClassLevel(int classIndex, float level)
    {
        if ((uint)classIndex < ClassCount) Volatile.Write(ref _classLevels[classIndex], Math.Clamp(float.IsFinite(level) ? level : 1f, 0f, 2f));
    }
    public float GetClassLevel(int classIndex) => (uint)classIndex < ClassCount ? Volatile.Read(ref _classLevels[classIndex]) : 0f;

    public long FreshHits => Interlocked.Read(ref _freshHits);
    public long ReusedHits => 0;

    public void Activate(double sampleRateHz, int maxBlockFrames, bool offline)
    {
        _sampleRateHz = sampleRateHz;
        Array.Clear(_voices);
        _pendingCount = 0;
    }

    public void Deactivate() => _pendingCount = 0;

    public void NoteOn(int sampleOffset, int note, float velocity01)
    {
        if (_pendingCount < MaxPending) _pending[_pendingCount++] = (Math.Max(0, sampleOffset), note, velocity01, true);
    }

    public void NoteOff(int sampleOffset, int note) { /* one-shot drums: a note-off changes nothing */ }

    /// <summary>General MIDI drum note to the model contract's class index.</summary>
    public static int ClassOf(int note) => note switch
    {
        35 or 36 => 0,                         // kick
        38 or 40 => 1,                         // snare
        37 => 2,                               // rim
        39 => 3,                               // clap
        41 or 43 or 45 or 47 or 48 or 50 => 4, // toms
        42 or 44 => 5,                         // closed / pedal hi-hat
        46 => 6,                               // open hi-hat
        49 or 52 or 55 or 57 => 7,             // crashes
        51 or 53 or 59 => 8,                   // rides
        >= 54 and <= 81 => 9,                  // percussion
        _ => 10,
    };

    public void Process(Span<float> left, Span<float> right, int frames)
    {
        left[..frames].Clear();
        right[..frames].Clear();
        // Insertion sort by offset: hosts send notes in order, so this is one pass.
        for (int i = 1; i < _pendingCount; i++)
        {
            var e = _pending[i];
            int j = i - 1;
            while (j >= 0 && _pending[j].Offset > e.Offset) { _pending[j + 1] = _pending[j]; j--; }
            _pending[j + 1] = e;
        }
        int next = 0;
        float gain = MathF.Pow(10f, OutputGainDb / 20f);
        for (int t = 0; t < frames; t++)
        {
            while (next < _pendingCount && _pending[next].Offset <= t)
            {
                var e = _pending[next++];
                if (e.On) Start(e.Note, e.Velocity);
            }
            float l = 0, r = 0;
            for (int v = 0; v < MaxVoices; v++)
            {
                ref var voice = ref _voices[v];
                if (!voice.Active) continue;
                float s = Sample(ref voice) * GetClassLevel(voice.ClassIndex);
                l += s * (1f - voice.Pan);
                r += s * (1f + voice.Pan);
            }
            left[t] = l * gain;
            right[t] = r * gain;
        }
        // Notes past this block (offset >= frames) start at the top of the next one.
        int keep = 0;
        for (int i = next; i < _pendingCount; i++) _pending[keep++] = (0, _pending[i].Note, _pending[i].Velocity, _pending[i].On);
        _pendingCount = keep;
    }

    private void Start(int note, float velocity)
    {
        int classIndex = ClassOf(note);
        ulong seed = KitSeed;
        float humanize = Humanize;
        long hit = Interlocked.Increment(ref _hitCounter);
        // Anchor: depends on kit seed and note only. Variation: a per-hit draw scaled by humanize.
        uint anchor = Hash((uint)seed ^ (uint)(seed >> 32), (uint)note, 0x9E3779B9u);
        uint perHit = humanize > 0 ? Hash(anchor, (uint)hit, (uint)(hit >> 32)) : anchor;
        float Anchor(int k) => Unit(Hash(anchor, (uint)k, 17));
        float Jitter(int k) => humanize * (2f * Unit(Hash(perHit, (uint)k, 91)) - 1f);

        int slot = 0, oldest = -1;
        for (int v = 0; v < MaxVoices; v++)
        {
            if (!_voices[v].Active) { slot = v; oldest = -2; break; }
            if (_voices[v].Age > oldest) { oldest = _voices[v].Age; slot = v; }
        }
        ref var voice = ref _voices[slot];
        voice = default;
        voice.Active = true;
        voice.ClassIndex = classIndex;
        voice.Noise = perHit | 1;
        voice.Amplitude = Math.Clamp(velocity, 0f, 1f) * (1f + 0.15f * Jitter(1));
        float tune = 1f + 0.08f * Jitter(2);
        float decay = 1f + 0.25f * Jitter(3);
        (float start, float end, float sweep, float dec, float tone, float noise, float pan) = classIndex switch
        {
            0 => (140f + 40f * Anchor(4), 45f + 10f * Anchor(5), 35f, 0.35f, 1f, 0.05f, 0f),
            1 => (220f + 40f * Anchor(4), 180f, 20f, 0.16f, 0.45f, 0.7f, -0.05f),
            2 => (900f + 200f * Anchor(4), 800f, 10f, 0.04f, 0.6f, 0.5f, -0.1f),
            3 => (1200f, 1200f, 1f, 0.12f, 0f, 1f, 0.1f),
            4 => (160f + 120f * Anchor(4) + (note - 41) * 12f, 90f + (note - 41) * 8f, 12f, 0.3f, 0.9f, 0.15f, (note - 45) * 0.05f),
            5 => (8000f, 8000f, 1f, 0.045f, 0f, 1f, 0.25f),
            6 => (8000f, 8000f, 1f, 0.35f, 0f, 1f, 0.25f),
            7 => (5000f, 5000f, 1f, 1.4f, 0.1f, 0.9f, -0.3f),
            8 => (3200f + 400f * Anchor(4), 3200f, 1f, 0.9f, 0.4f, 0.5f, 0.3f),
            9 => (400f + 600f * Anchor(4), 380f + 500f * Anchor(4), 8f, 0.12f, 0.7f, 0.3f, 0.15f * (2f * Anchor(6) - 1f)),
            _ => (300f + 300f * Anchor(4), 250f, 10f, 0.15f, 0.5f, 0.5f, 0f),
        };
        voice.StartHz = start * tune;
        voice.EndHz = end * tune;
        voice.SweepRate = sweep;
        voice.Decay = Math.Max(0.01f, dec * decay);
        voice.ToneMix = tone;
        voice.NoiseMix = noise;
        voice.Pan = Math.Clamp(pan, -0.9f, 0.9f);
        Interlocked.Increment(ref _freshHits);
    }

    private float Sample(ref Voice v)
    {
        float t = (float)(v.Age / _sampleRateHz);
        float env = MathF.Exp(-t / v.Decay) * MathF.Min(1f, v.Age / 24f + 0.05f);
        if (env < 1e-4f && v.Age > 64) { v.Active = false; return 0f; }
        float hz = v.EndHz + (v.StartHz - v.EndHz) * MathF.Exp(-t * v.SweepRate);
        v.Phase += hz / _sampleRateHz;
        if (v.Phase >= 1) v.Phase -= Math.Floor(v.Phase);
        float tone = MathF.Sin((float)(2 * Math.PI * v.Phase));
        v.Noise ^= v.Noise << 13; v.Noise ^= v.Noise >> 17; v.Noise ^= v.Noise << 5;
        float white = (v.Noise / (float)uint.MaxValue) * 2f - 1f;
        // Bright classes use differentiated (high-passed) noise; the rest plain white noise.
        float noise = v.StartHz >= 3000f ? 0.5f * (white - v.LastNoise) : white;
        v.LastNoise = white;
        v.Age++;
        return 0.5f * v.Amplitude * env * (v.ToneMix * tone + v.NoiseMix * noise);
    }

    private static uint Hash(uint a, uint b, uint c)
    {
        uint h = a * 0x85EBCA6Bu ^ b * 0xC2B2AE35u ^ c * 0x27D4EB2Fu;
        h ^= h >> 16; h *= 0x7FEB352Du; h ^= h >> 15; h *= 0x846CA68Bu; h ^= h >> 16;
        return h;
    }

    private static float Unit(uint h) => (h >> 8) / 16777216f;

    public void Dispose() { }
}
