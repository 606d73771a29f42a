using System.Text.Json;

namespace DiffusionPlugin.Engine.Diffusion;

/// <summary>
/// A model's spectral calibration (manifest field <c>calibration</c>, written by onnx-export's
/// <c>diffusion_drums.calibrate</c>): per drum class and velocity node, a time-varying EQ, one gain in dB per (STFT
/// frame, band), that moves the model's average hit onto the average real hit of its training kits. Why: the denoiser's errors are the
/// same from hit to hit of a class (the shipped model's kicks keep a hiss 7–27 dB above real kicks across their body),
/// so measured once on its own training data they can be taken out of every hit. Applied at the model's rate before a
/// hit is finished (<see cref="Realtime.OneShotTail"/>); classes without a table (the widener's general material) pass
/// unchanged. An optional <c>spread</c> section also widens each hit's own deviation from the model's average hit (the
/// model's hits of one class vary less than real ones), with an extra EQ per hit computed from the hit's own spectrum
/// (<see cref="SpreadWidening"/>).
/// Immutable after load; any thread. <see cref="CreateFilter"/> makes the per-thread object that applies it.
/// </summary>
public sealed class SpectralCalibration
{
    /// <summary>The only calibration format this engine reads.</summary>
    public const int SupportedFormatVersion = 1;

    /// <summary>Gains are clamped to this range in dB whatever the file says, so a damaged table cannot blow a hit up.</summary>
    public const float MinGainDb = -120f, MaxGainDb = 24f;

    private readonly Dictionary<string, (float[] Db, int Rows)> _tables; // class -> dB [node][row][band], rows per node
    private readonly float[] _velocityNodes;
    private readonly int[] _binBand;       // bin k's dB = (1 − w)·band[_binBand[k]] + w·band[_binBand[k] + 1] ...
    private readonly float[] _binWeight;   // ... with w = _binWeight[k] (0 where the bin lies outside the band centres)
    private readonly int[] _bandEdges;     // band b holds bins _bandEdges[b] .. _bandEdges[b + 1] − 1
    private readonly Dictionary<string, SpreadWidening> _spread; // class -> its widening (empty: the file has no spread)

    private SpectralCalibration(int fftSize, int hopSamples, int[] bandEdges, float[] velocityNodes,
                                Dictionary<string, (float[] Db, int Rows)> tables, int[] binBand, float[] binWeight, string path,
                                float tailFloorDb, Dictionary<string, SpreadWidening> spread, float spreadLimitDb)
    {
        TailFloorDb = tailFloorDb;
        _bandEdges = bandEdges;
        _spread = spread;
        SpreadLimitDb = spreadLimitDb;
        FftSize = fftSize;
        HopSamples = hopSamples;
        Bands = bandEdges.Length - 1;
        _velocityNodes = velocityNodes;
        _tables = tables;
        _binBand = binBand;
        _binWeight = binWeight;
        FilePath = path;
    }

    /// <summary>Frame length of the STFT, in samples (a power of two).</summary>
    public int FftSize { get; }
    /// <summary>Distance between frame centres, in samples.</summary>
    public int HopSamples { get; }
    /// <summary>Bands per table row.</summary>
    public int Bands { get; }
    /// <summary>The file it was read from.</summary>
    public string FilePath { get; }
    /// <summary>Class names that have a gain table.</summary>
    public IReadOnlyCollection<string> Classes => _tables.Keys;
    /// <summary>Velocities (0..1) the tables were fitted at; a hit between two takes their dB interpolated.</summary>
    public IReadOnlyList<float> VelocityNodes => _velocityNodes;

    /// <summary>Bins of one STFT frame, 0 … FftSize/2.</summary>
    public int Bins => FftSize / 2 + 1;

    /// <summary>
    /// How far below its peak a calibrated hit's tail counts as finished (<see cref="Realtime.OneShotTail.Finish"/>'s
    /// floor), in dB: the file's <c>tailFloorDb</c>, or <see cref="Realtime.OneShotTail.DefaultFloorDb"/> when it has
    /// none. Why it belongs to the calibration: the default floor sits above the uncalibrated model's noise floor, which
    /// the calibration takes down; a calibrated hit can then keep its decay as far down as real hits do, and a hit of a
    /// class without a table (or of a model whose calibration failed to load) keeps the default.
    /// </summary>
    public float TailFloorDb { get; }

    /// <summary>Lowest <see cref="TailFloorDb"/> a file may ask for.</summary>
    public const float MinTailFloorDb = -120f;

    /// <summary>Largest <see cref="SpreadLimitDb"/> a file may ask for.</summary>
    public const float MaxSpreadLimitDb = 48f;

    /// <summary>Largest <c>shapeGain</c> / <c>envelopeGain</c> a file may give (a deviation widened fivefold).</summary>
    public const float MaxSpreadGain = 4f;

    /// <summary>
    /// Bound in dB, either way, of the per-hit extra EQ of the <c>spread</c> section (file field <c>spread.limitDb</c>;
    /// 0 when the file has none): the widening scales a hit's deviation from the model's average, and an odd hit (a
    /// near-silent band, a clipped one) would otherwise get an arbitrarily large boost or cut. Any thread.
    /// </summary>
    public float SpreadLimitDb { get; }

    /// <summary>Class names whose hits also get the per-hit spread widening (empty when the file has no <c>spread</c>). Any thread.</summary>
    public IReadOnlyCollection<string> SpreadClasses => _spread.Keys;

    /// <summary>True when hits of <paramref name="className"/> also get the per-hit spread widening. Any thread.</summary>
    public bool HasSpread(string className) => _spread.ContainsKey(className);

    /// <summary>The spread widening of <paramref name="className"/>, or null when it has none.</summary>
    internal SpreadWidening? SpreadOf(string className) => _spread.GetValueOrDefault(className);

    /// <summary>Band edges in bins: band b holds bins <c>[b]</c> … <c>[b + 1]</c> − 1 of 0 … <see cref="Bins"/> − 1.</summary>
    internal ReadOnlySpan<int> BandEdges => _bandEdges;

    /// <summary>
    /// One class's <c>spread</c> entry: the model's average hit in two summaries (dB, a line in velocity: mean + v·slope)
    /// and how much of a hit's deviation from it to add again. The summaries of a hit (its STFT power p[t, b] summed over
    /// each band's bins): S[b] = 10·log10(Σ_t p[t, b] + 1e-10), its band energy over all frames, and
    /// E[t] = 10·log10(Σ_b p[t, b] + 1e-10) − 10·log10(Σ_t Σ_b p[t, b] + 1e-10), frame t's energy relative to the whole
    /// hit's (relative so that a hit's level counts once, in its shape; envelope rows past the last repeat it). Its extra
    /// EQ in frame t, band b: clamp(shapeGain[b]·(S[b] − shape(v)[b]) + envelopeGain[r]·(E[t] − envelope(v)[r]),
    /// ±limitDb) with r = min(t, rows − 1). Immutable.
    /// </summary>
    internal sealed class SpreadWidening(double[] shapeMeanDb, double[] shapeSlopeDb, double[] shapeGain,
                                         double[] envelopeMeanDb, double[] envelopeSlopeDb, double[] envelopeGain)
    {
        public readonly double[] ShapeMeanDb = shapeMeanDb, ShapeSlopeDb = shapeSlopeDb, ShapeGain = shapeGain;
        public readonly double[] EnvelopeMeanDb = envelopeMeanDb, EnvelopeSlopeDb = envelopeSlopeDb, EnvelopeGain = envelopeGain;
        /// <summary>Envelope rows (≥ 1), independent of the gain table's rows.</summary>
        public int EnvelopeRows => EnvelopeMeanDb.Length;
    }

    /// <summary>Reads and validates a calibration file. Throws <see cref="ModelLoadException"/> (one line: file and problem). Not the audio thread.</summary>
    public static SpectralCalibration Load(string path)
    {
        var full = Path.GetFullPath(path);
        return Parse(ModelManifest.ReadFile(full, "calibration"), full);
    }

    /// <summary>Parses and validates calibration JSON; <paramref name="path"/> names it in errors.</summary>
    public static SpectralCalibration Parse(ReadOnlySpan<byte> utf8Json, string path)
    {
        void Fail(string problem) => throw new ModelLoadException(path, problem);
        try
        {
            var reader = new Utf8JsonReader(utf8Json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            using var doc = JsonDocument.ParseValue(ref reader);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) Fail("calibration is not a JSON object");
            int version = Int(root, "formatVersion");
            if (version != SupportedFormatVersion) Fail($"unknown calibration formatVersion {version} (this engine reads {SupportedFormatVersion})");
            int fftSize = Int(root, "fftSize");
            if (fftSize is < 16 or > 65536 || (fftSize & (fftSize - 1)) != 0) Fail($"fftSize {fftSize} must be a power of two in 16..65536");
            int hop = Int(root, "hopSamples");
            if (hop < 1 || hop > fftSize / 2) Fail($"hopSamples {hop} must be in 1..fftSize/2 ({fftSize / 2})");
            if (!root.TryGetProperty("bandEdges", out var edgesJson) || edgesJson.ValueKind != JsonValueKind.Array) Fail("bandEdges is missing");
            var edges = edgesJson.EnumerateArray().Select(e => e.TryGetInt32(out int v) ? v : -1).ToArray();
            int bins = fftSize / 2 + 1;
            if (edges.Length < 2 || edges[0] != 0 || edges[^1] != bins)
                Fail($"bandEdges must run from 0 to fftSize/2+1 ({bins}) in at least one band");
            for (int i = 1; i < edges.Length; i++)
                if (edges[i] <= edges[i - 1]) Fail($"bandEdges must rise strictly (edge {i}: {edges[i]} after {edges[i - 1]})");
            int bands = edges.Length - 1;
            float tailFloorDb = Realtime.OneShotTail.DefaultFloorDb;
            if (root.TryGetProperty("tailFloorDb", out var floorJson))
            {
                if (floorJson.ValueKind != JsonValueKind.Number || !floorJson.TryGetDouble(out double floor) || !(floor >= MinTailFloorDb && floor <= 0))
                    Fail($"tailFloorDb must be a number of dB in {MinTailFloorDb}..0");
                tailFloorDb = (float)floorJson.GetDouble();
            }

            if (!root.TryGetProperty("velocityNodes", out var nodesJson) || nodesJson.ValueKind != JsonValueKind.Array || nodesJson.GetArrayLength() == 0)
                Fail("velocityNodes is missing");
            var nodes = nodesJson.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.Number && e.TryGetDouble(out double v) ? v : double.NaN).ToArray();
            for (int i = 0; i < nodes.Length; i++)
                if (!(nodes[i] >= 0 && nodes[i] <= 1) || (i > 0 && !(nodes[i] > nodes[i - 1])))
                    Fail("velocityNodes must be numbers in 0..1, rising strictly");

            if (!root.TryGetProperty("gainsDb", out var gains) || gains.ValueKind != JsonValueKind.Object) Fail("gainsDb is missing");
            var tables = new Dictionary<string, (float[] Db, int Rows)>(StringComparer.Ordinal);
            foreach (var cls in gains.EnumerateObject())
            {
                string where = $"gainsDb.{cls.Name}";
                if (cls.Value.ValueKind != JsonValueKind.Array || cls.Value.GetArrayLength() != nodes.Length)
                    Fail($"{where} must hold one table per velocity node ({nodes.Length})");
                int rows = -1, n = 0;
                float[] db = [];
                foreach (var table in cls.Value.EnumerateArray())
                {
                    if (table.ValueKind != JsonValueKind.Array || table.GetArrayLength() == 0) Fail($"{where} node {n} has no rows");
                    if (rows < 0) { rows = table.GetArrayLength(); db = new float[nodes.Length * rows * bands]; }
                    else if (table.GetArrayLength() != rows) Fail($"{where} node {n} has {table.GetArrayLength()} rows, node 0 has {rows}");
                    int r = 0;
                    foreach (var row in table.EnumerateArray())
                    {
                        if (row.ValueKind != JsonValueKind.Array || row.GetArrayLength() != bands)
                            Fail($"{where} node {n} row {r} must hold {bands} numbers (one per band)");
                        int j = 0;
                        foreach (var v in row.EnumerateArray())
                        {
                            if (v.ValueKind != JsonValueKind.Number || !v.TryGetDouble(out double value) || !double.IsFinite(value))
                                Fail($"{where} node {n} row {r} band {j} is not a finite number");
                            db[(n * rows + r) * bands + j++] = (float)Math.Clamp(value, MinGainDb, MaxGainDb);
                        }
                        r++;
                    }
                    n++;
                }
                tables[cls.Name] = (db, rows);
            }

            // Each bin's dB is interpolated linearly between the centres of the bands around it (flat outside them).
            var binBand = new int[bins];
            var binWeight = new float[bins];
            double Centre(int j) => (edges[j] + edges[j + 1] - 1) / 2.0;
            for (int k = 0, j = 0; k < bins; k++)
            {
                while (j + 1 < bands - 1 && Centre(j + 1) < k) j++;
                if (bands == 1 || k <= Centre(0)) { binBand[k] = 0; binWeight[k] = 0f; }
                else if (k >= Centre(bands - 1)) { binBand[k] = bands - 2; binWeight[k] = 1f; }
                else { binBand[k] = j; binWeight[k] = (float)((k - Centre(j)) / (Centre(j + 1) - Centre(j))); }
            }
            var spread = new Dictionary<string, SpreadWidening>(StringComparer.Ordinal);
            float spreadLimitDb = 0f;
            if (root.TryGetProperty("spread", out var spreadJson))
            {
                if (spreadJson.ValueKind != JsonValueKind.Object) Fail("spread must be an object");
                if (!spreadJson.TryGetProperty("limitDb", out var limitJson) || limitJson.ValueKind != JsonValueKind.Number
                    || !limitJson.TryGetDouble(out double limit) || !(limit >= 0 && limit <= MaxSpreadLimitDb))
                    Fail($"spread.limitDb must be a finite number in 0..{MaxSpreadLimitDb}");
                spreadLimitDb = (float)limitJson.GetDouble();
                if (!spreadJson.TryGetProperty("classes", out var classesJson) || classesJson.ValueKind != JsonValueKind.Object)
                    Fail("spread.classes must be an object");
                foreach (var cls in classesJson.EnumerateObject())
                {
                    string where = $"spread.classes.{cls.Name}";
                    if (cls.Value.ValueKind != JsonValueKind.Object) Fail($"{where} must be an object");
                    if (!tables.ContainsKey(cls.Name)) Fail($"{where} has no gain table in gainsDb");
                    double[] PerBand(string field, double max = double.PositiveInfinity) =>
                        Numbers(cls.Value, $"{where}.{field}", field, bands, $"{bands} finite numbers (one per band)", max);
                    var shapeMean = PerBand("shapeMeanDb");
                    var shapeSlope = PerBand("shapeSlopeDb");
                    var shapeGain = PerBand("shapeGain", MaxSpreadGain);
                    var envelopeMean = Numbers(cls.Value, $"{where}.envelopeMeanDb", "envelopeMeanDb", -1,
                                               "at least one finite number (one per envelope row)");
                    int rows = envelopeMean.Length;
                    string perRow = $"{rows} finite numbers (one per envelope row, as envelopeMeanDb)";
                    var envelopeSlope = Numbers(cls.Value, $"{where}.envelopeSlopeDb", "envelopeSlopeDb", rows, perRow);
                    var envelopeGain = Numbers(cls.Value, $"{where}.envelopeGain", "envelopeGain", rows, perRow, MaxSpreadGain);
                    spread[cls.Name] = new SpreadWidening(shapeMean, shapeSlope, shapeGain, envelopeMean, envelopeSlope, envelopeGain);
                }
            }
            return new SpectralCalibration(fftSize, hop, edges, nodes.Select(v => (float)v).ToArray(), tables, binBand, binWeight, path,
                                           tailFloorDb, spread, spreadLimitDb);
        }
        catch (JsonException e)
        {
            throw new ModelLoadException(path, $"calibration is not valid JSON ({ModelManifest.OneLine(e.Message)})", e);
        }
        catch (InvalidOperationException e)
        {
            throw new ModelLoadException(path, $"calibration does not match the format ({ModelManifest.OneLine(e.Message)})", e);
        }

        // An array of finite numbers (count of them, or ≥ 1 when count < 0); gains must also lie in 0..max.
        double[] Numbers(JsonElement o, string where, string name, int count, string shape, double max = double.PositiveInfinity)
        {
            if (!o.TryGetProperty(name, out var array) || array.ValueKind != JsonValueKind.Array
                || (count >= 0 ? array.GetArrayLength() != count : array.GetArrayLength() == 0))
                Fail($"{where} must hold {shape}");
            var values = new double[array.GetArrayLength()];
            int i = 0;
            foreach (var e in array.EnumerateArray())
            {
                if (e.ValueKind != JsonValueKind.Number || !e.TryGetDouble(out double v) || !double.IsFinite(v)) Fail($"{where} must hold {shape}");
                if (!double.IsPositiveInfinity(max) && !(v >= 0 && v <= max)) Fail($"{where} values must be in 0..{max}");
                values[i++] = v;
            }
            return values;
        }

        int Int(JsonElement o, string name)
        {
            if (!o.TryGetProperty(name, out var v) || v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out int i))
                throw new ModelLoadException(path, $"calibration field '{name}' is missing or not an integer");
            return i;
        }
    }

    /// <summary>True when <paramref name="className"/> has a gain table.</summary>
    public bool Covers(string className) => _tables.ContainsKey(className);

    /// <summary>The two velocity nodes around <paramref name="velocity"/> and the weight of the second (0 outside the nodes).</summary>
    internal (int Lower, int Upper, float Weight) NodesAround(float velocity)
    {
        var nodes = _velocityNodes;
        if (!(velocity > nodes[0]) || nodes.Length == 1) return (0, 0, 0f);
        if (velocity >= nodes[^1]) return (nodes.Length - 1, nodes.Length - 1, 0f);
        int j = 0;
        while (nodes[j + 1] < velocity) j++;
        return (j, j + 1, (velocity - nodes[j]) / (nodes[j + 1] - nodes[j]));
    }

    /// <summary>
    /// Linear gains of every bin (<paramref name="gains"/>, <see cref="Bins"/> long) for table row <paramref name="row"/>
    /// (clamped to the last row) of a class between two velocity nodes; <paramref name="bandDb"/> is scratch of
    /// <see cref="Bands"/>. <paramref name="extraDb"/> (empty, or one dB per band: the hit's spread widening in this
    /// frame) is added to the row after its interpolation between nodes, before the interpolation between band centres.
    /// False when the class has no table. Allocates nothing.
    /// </summary>
    internal bool RowGains(string className, int row, (int Lower, int Upper, float Weight) at, Span<float> bandDb, Span<float> gains,
                           ReadOnlySpan<float> extraDb = default)
    {
        if (!_tables.TryGetValue(className, out var table)) return false;
        int bands = Bands, r = Math.Min(row, table.Rows - 1);
        var lower = table.Db.AsSpan((at.Lower * table.Rows + r) * bands, bands);
        var upper = table.Db.AsSpan((at.Upper * table.Rows + r) * bands, bands);
        for (int j = 0; j < bands; j++) bandDb[j] = lower[j] + at.Weight * (upper[j] - lower[j]);
        if (!extraDb.IsEmpty)
            for (int j = 0; j < bands; j++) bandDb[j] += extraDb[j];
        const float DbToLog = 0.11512925f; // ln(10) / 20: amplitude gain = e^(dB · ln10/20)
        int last = Math.Max(0, bands - 1);
        for (int k = 0; k < gains.Length; k++)
        {
            int j = _binBand[k];
            float w = _binWeight[k];
            float db = bands == 1 ? bandDb[0] : bandDb[j] + w * (bandDb[Math.Min(j + 1, last)] - bandDb[j]);
            gains[k] = MathF.Exp(db * DbToLog);
        }
        return true;
    }

    /// <summary>
    /// The object that applies this calibration, for a model whose class ids index <paramref name="classNames"/>.
    /// One thread owns it (the generation worker or a CLI thread). Any non-audio thread may create it.
    /// </summary>
    public SpectralCalibrationFilter CreateFilter(IReadOnlyList<string> classNames) => new(this, classNames);
}

/// <summary>
/// Applies a <see cref="SpectralCalibration"/> to one hit at a time: the class's table at the hit's velocity (dB
/// interpolated between the two nearest velocity nodes), STFT with a periodic Hann window (frame i centred on
/// sample i·hop, zeros outside the clip), each bin of frame i scaled by its gain in table row min(i, rows − 1),
/// overlap-add with the same window divided by the summed squared window. A table of 0 dB gives the hit back to float
/// rounding. Two real frames go through one complex FFT (real and imaginary parts), separated by symmetry before their
/// gains are applied, which halves the cost (2–4 ms for a 0.5 s hit on this project's 2-core machine).
/// A class with a spread entry (<see cref="SpectralCalibration.HasSpread"/>) first takes one more forward pass over the
/// frames to measure the hit's band and frame energies, since its extra EQ in any frame depends on the whole hit.
/// Buffers are sized for the longest hit seen, so repeated calls at that length allocate nothing. Not thread-safe:
/// one thread owns an instance (never the audio thread).
/// </summary>
public sealed class SpectralCalibrationFilter
{
    private readonly SpectralCalibration _calibration;
    private readonly string?[] _classNameOf; // class id -> name when the class has a table, else null
    private readonly SpectralCalibration.SpreadWidening?[] _spreadOf; // class id -> its spread widening, else null
    private readonly RadixTwoFft _fft;
    private readonly float[] _window, _re, _im, _gainA, _gainB, _bandDb, _extraA, _extraB;
    private readonly double[] _bandPower, _shapeDeviationDb; // per band: Σ over frames of |X|², then S[b] − model's
    private float[] _accumulated = [], _windowSquareSum = [];
    private double[] _frameEnergyDb = []; // per frame: E[t], dB relative to the whole hit (spread classes only)
    private int _preparedLength = -1;

    internal SpectralCalibrationFilter(SpectralCalibration calibration, IReadOnlyList<string> classNames)
    {
        _calibration = calibration;
        _classNameOf = classNames.Select(n => calibration.Covers(n) ? n : null).ToArray();
        _spreadOf = classNames.Select(calibration.SpreadOf).ToArray();
        int n = calibration.FftSize;
        _fft = new RadixTwoFft(n);
        _window = new float[n];
        for (int j = 0; j < n; j++) _window[j] = (float)(0.5 - 0.5 * Math.Cos(2 * Math.PI * j / n));
        _re = new float[n];
        _im = new float[n];
        _gainA = new float[calibration.Bins];
        _gainB = new float[calibration.Bins];
        _bandDb = new float[calibration.Bands];
        _extraA = new float[calibration.Bands];
        _extraB = new float[calibration.Bands];
        _bandPower = new double[calibration.Bands];
        _shapeDeviationDb = new double[calibration.Bands];
    }

    /// <summary>See <see cref="SpectralCalibration.TailFloorDb"/>.</summary>
    public float TailFloorDb => _calibration.TailFloorDb;

    /// <summary>
    /// The floor (dB under the peak) at which <see cref="Realtime.OneShotTail.Finish"/> ends a hit of class
    /// <paramref name="classId"/> that went through <see cref="Apply"/>: <see cref="TailFloorDb"/> for a class this
    /// filter changes, <see cref="Realtime.OneShotTail.DefaultFloorDb"/> for one it passes unchanged. Any thread.
    /// </summary>
    public float FinishFloorDb(int classId) => Covers(classId) ? TailFloorDb : Realtime.OneShotTail.DefaultFloorDb;

    /// <summary>True when hits of class id <paramref name="classId"/> are changed by <see cref="Apply"/>.</summary>
    public bool Covers(int classId) => (uint)classId < (uint)_classNameOf.Length && _classNameOf[classId] != null;

    /// <summary>
    /// Calibrates <paramref name="hit"/> (mono, at the model's rate) in place as class <paramref name="classId"/> played at
    /// <paramref name="velocity"/> (0..1, the model's conditioning); returns false and leaves it untouched when that class
    /// has no table. Non-finite samples should be sanitised first. The filter's owner thread.
    /// </summary>
    public bool Apply(Span<float> hit, int classId, float velocity)
    {
        if (!Covers(classId) || hit.IsEmpty) return false;
        string name = _classNameOf[classId]!;
        int n = _calibration.FftSize, hop = _calibration.HopSamples, half = n / 2, length = hit.Length;
        int frames = (length + hop - 1) / hop + 1;
        Prepare(length);
        var acc = _accumulated.AsSpan(0, frames * hop + n);
        acc.Clear();
        var re = _re.AsSpan();
        var im = _im.AsSpan();
        if (!float.IsFinite(velocity)) velocity = 1f;
        var at = _calibration.NodesAround(velocity);
        var spread = _spreadOf[classId];
        float v = Math.Clamp(velocity, 0f, 1f);
        if (spread != null) MeasureSpread(hit, frames, spread, v);
        for (int f = 0; f < frames; f += 2)
        {
            bool pair = f + 1 < frames;
            Frame(hit, f * hop - half, re);
            if (pair) Frame(hit, (f + 1) * hop - half, im); else im.Clear();
            _fft.Transform(re, im, inverse: false);
            ReadOnlySpan<float> extraA = default, extraB = default;
            if (spread != null)
            {
                SpreadExtra(spread, f, v, _extraA); extraA = _extraA;
                if (pair) { SpreadExtra(spread, f + 1, v, _extraB); extraB = _extraB; }
            }
            _calibration.RowGains(name, f, at, _bandDb, _gainA, extraA);
            if (pair) _calibration.RowGains(name, f + 1, at, _bandDb, _gainB, extraB); else _gainA.CopyTo(_gainB, 0);
            ReadOnlySpan<float> gainA = _gainA, gainB = _gainB;
            // Z = A + iB for real frames a, b: Z'[k] = Z[k]·(gA+gB)/2 + conj(Z[N−k])·(gA−gB)/2 is A·gA + i·B·gB.
            for (int k = 0; k <= half; k++)
            {
                int m = (n - k) & (n - 1);
                float s = 0.5f * (gainA[k] + gainB[k]), d = 0.5f * (gainA[k] - gainB[k]);
                float zr = re[k], zi = im[k], mr = re[m], mi = im[m];
                re[k] = zr * s + mr * d; im[k] = zi * s - mi * d;
                if (m != k) { re[m] = mr * s + zr * d; im[m] = mi * s - zi * d; }
            }
            _fft.Transform(re, im, inverse: true);
            float scale = 1f / n;
            var outA = acc.Slice(f * hop, n);
            for (int j = 0; j < n; j++) outA[j] += re[j] * scale * _window[j];
            if (pair)
            {
                var outB = acc.Slice((f + 1) * hop, n);
                for (int j = 0; j < n; j++) outB[j] += im[j] * scale * _window[j];
            }
        }
        var norm = _windowSquareSum.AsSpan(half, length);
        var src = acc.Slice(half, length);
        for (int i = 0; i < length; i++) hit[i] = src[i] / norm[i];
        return true;
    }

    // The spread widening's first pass: the input hit's summaries, before any gain (its extra EQ in a frame depends on the
    // whole hit's band energies). Fills _shapeDeviationDb[b] = S[b] − (shapeMean + v·shapeSlope)[b] and
    // _frameEnergyDb[t] = E[t], relative to the whole hit (SpreadWidening has the definitions). The same frames and pair trick as Apply: for Z = FFT(a + i·b),
    // A[k] = (Z[k] + conj(Z[N−k]))/2 and B[k] = (Z[k] − conj(Z[N−k]))/(2i), so |A|² and |B|² come from Z alone.
    // Sums and logs in double: S sums a whole hit's frames, and the dB feed gains of up to 4 (Python works in float64).
    private void MeasureSpread(ReadOnlySpan<float> hit, int frames, SpectralCalibration.SpreadWidening spread, float v)
    {
        int n = _calibration.FftSize, hop = _calibration.HopSamples, half = n / 2, bands = _calibration.Bands;
        var edges = _calibration.BandEdges;
        var re = _re.AsSpan();
        var im = _im.AsSpan();
        var bandPower = _bandPower.AsSpan();
        bandPower.Clear();
        for (int f = 0; f < frames; f += 2)
        {
            bool pair = f + 1 < frames;
            Frame(hit, f * hop - half, re);
            if (pair) Frame(hit, (f + 1) * hop - half, im); else im.Clear();
            _fft.Transform(re, im, inverse: false);
            double frameA = 0, frameB = 0;
            for (int b = 0; b < bands; b++)
            {
                double powerA = 0, powerB = 0;
                for (int k = edges[b]; k < edges[b + 1]; k++)
                {
                    int m = (n - k) & (n - 1);
                    double zr = re[k], zi = im[k], mr = re[m], mi = im[m];
                    double ar = zr + mr, ai = zi - mi, br = zi + mi, bi = zr - mr; // 2A and 2i·B
                    powerA += ar * ar + ai * ai;
                    powerB += br * br + bi * bi;
                }
                powerA *= 0.25; powerB *= 0.25;
                bandPower[b] += pair ? powerA + powerB : powerA;
                frameA += powerA; frameB += powerB;
            }
            _frameEnergyDb[f] = 10 * Math.Log10(frameA + 1e-10);
            if (pair) _frameEnergyDb[f + 1] = 10 * Math.Log10(frameB + 1e-10);
        }
        double total = 0;
        for (int b = 0; b < bands; b++)
        {
            total += bandPower[b];
            _shapeDeviationDb[b] = 10 * Math.Log10(bandPower[b] + 1e-10) - (spread.ShapeMeanDb[b] + v * spread.ShapeSlopeDb[b]);
        }
        // The envelope is relative to the whole hit's energy, so that a hit's level counts once, in its shape.
        double totalDb = 10 * Math.Log10(total + 1e-10);
        for (int f = 0; f < frames; f++) _frameEnergyDb[f] -= totalDb;
    }

    // Frame t's extra dB per band (after MeasureSpread): the hit's shape deviation and this frame's envelope deviation,
    // each times its gain, clamped to ±limitDb.
    private void SpreadExtra(SpectralCalibration.SpreadWidening spread, int frame, float v, Span<float> extraDb)
    {
        int r = Math.Min(frame, spread.EnvelopeRows - 1);
        double limit = _calibration.SpreadLimitDb;
        double envelope = spread.EnvelopeGain[r] * (_frameEnergyDb[frame] - (spread.EnvelopeMeanDb[r] + v * spread.EnvelopeSlopeDb[r]));
        for (int b = 0; b < extraDb.Length; b++)
            extraDb[b] = (float)Math.Clamp(spread.ShapeGain[b] * _shapeDeviationDb[b] + envelope, -limit, limit);
    }

    // Frame whose first sample is hit[start] (zeros outside the hit), windowed.
    private void Frame(ReadOnlySpan<float> hit, int start, Span<float> dst)
    {
        int n = dst.Length;
        for (int j = 0; j < n; j++)
        {
            int i = start + j;
            dst[j] = (uint)i < (uint)hit.Length ? hit[i] * _window[j] : 0f;
        }
    }

    /// <summary>Sizes the buffers for hits of <paramref name="length"/> samples, so that <see cref="Apply"/> at that length allocates nothing.</summary>
    public void Prepare(int length)
    {
        if (length == _preparedLength || length < 1) return;
        int n = _calibration.FftSize, hop = _calibration.HopSamples;
        int frames = (length + hop - 1) / hop + 1;
        int total = frames * hop + n;
        if (_accumulated.Length < total) _accumulated = new float[total];
        var sum = new double[total];
        for (int f = 0; f < frames; f++)
            for (int j = 0; j < n; j++) sum[f * hop + j] += (double)_window[j] * _window[j];
        if (_windowSquareSum.Length < total) _windowSquareSum = new float[total];
        for (int i = 0; i < total; i++) _windowSquareSum[i] = (float)Math.Max(sum[i], 1e-12);
        if (_frameEnergyDb.Length < frames) _frameEnergyDb = new double[frames];
        _preparedLength = length;
    }
}
