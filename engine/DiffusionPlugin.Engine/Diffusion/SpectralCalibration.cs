using System.Text.Json;

namespace DiffusionPlugin.Engine.Diffusion;

/// <summary>
/// A model's spectral calibration (manifest field <c>calibration</c>, written by onnx-export's
/// <c>diffusion_drums.calibrate</c>): per drum class, a time-varying EQ, one gain in dB per (STFT frame, band), that
/// moves the model's average hit onto the average real hit of its training kits. Why: the denoiser's errors are the
/// same from hit to hit of a class (the shipped model's kicks keep a hiss 7–27 dB above real kicks across their body),
/// so measured once on its own training data they can be taken out of every hit. Applied at the model's rate before a
/// hit is finished (<see cref="Realtime.OneShotTail"/>); classes without a table (the widener's general material) pass
/// unchanged.
/// Immutable after load; any thread. <see cref="CreateFilter"/> makes the per-thread object that applies it.
/// </summary>
public sealed class SpectralCalibration
{
    /// <summary>The only calibration format this engine reads.</summary>
    public const int SupportedFormatVersion = 1;

    /// <summary>Gains are clamped to this range in dB whatever the file says, so a damaged table cannot blow a hit up.</summary>
    public const float MinGainDb = -120f, MaxGainDb = 24f;

    private readonly Dictionary<string, float[]> _binGains; // class name -> [rows * bins] linear amplitude gains
    private readonly Dictionary<string, int> _rows;

    private SpectralCalibration(int fftSize, int hopSamples, Dictionary<string, float[]> binGains, Dictionary<string, int> rows, string path)
    {
        FftSize = fftSize;
        HopSamples = hopSamples;
        _binGains = binGains;
        _rows = rows;
        FilePath = path;
    }

    /// <summary>Frame length of the STFT, in samples (a power of two).</summary>
    public int FftSize { get; }
    /// <summary>Distance between frame centres, in samples.</summary>
    public int HopSamples { get; }
    /// <summary>The file it was read from.</summary>
    public string FilePath { get; }
    /// <summary>Class names that have a gain table.</summary>
    public IReadOnlyCollection<string> Classes => _binGains.Keys;

    /// <summary>Bins of one STFT frame, 0 … FftSize/2.</summary>
    public int Bins => FftSize / 2 + 1;

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
            // Each bin's gain in dB is interpolated linearly between the two band centres around it (flat outside them).
            var centres = new double[bands];
            for (int j = 0; j < bands; j++) centres[j] = (edges[j] + edges[j + 1] - 1) / 2.0;

            if (!root.TryGetProperty("gainsDb", out var gains) || gains.ValueKind != JsonValueKind.Object) Fail("gainsDb is missing");
            var binGains = new Dictionary<string, float[]>(StringComparer.Ordinal);
            var rowsOf = new Dictionary<string, int>(StringComparer.Ordinal);
            var rowDb = new double[bands];
            foreach (var cls in gains.EnumerateObject())
            {
                if (cls.Value.ValueKind != JsonValueKind.Array || cls.Value.GetArrayLength() == 0) Fail($"gainsDb.{cls.Name} has no rows");
                int rows = cls.Value.GetArrayLength();
                var table = new float[rows * bins];
                int r = 0;
                foreach (var row in cls.Value.EnumerateArray())
                {
                    if (row.ValueKind != JsonValueKind.Array || row.GetArrayLength() != bands)
                        Fail($"gainsDb.{cls.Name} row {r} must hold {bands} numbers (one per band)");
                    int j = 0;
                    foreach (var v in row.EnumerateArray())
                    {
                        if (v.ValueKind != JsonValueKind.Number || !v.TryGetDouble(out double db) || !double.IsFinite(db))
                            Fail($"gainsDb.{cls.Name} row {r} band {j} is not a finite number");
                        rowDb[j++] = Math.Clamp(db, MinGainDb, MaxGainDb);
                    }
                    for (int k = 0; k < bins; k++) table[r * bins + k] = (float)Math.Pow(10.0, Interpolate(centres, rowDb, k) / 20.0);
                    r++;
                }
                binGains[cls.Name] = table;
                rowsOf[cls.Name] = rows;
            }
            return new SpectralCalibration(fftSize, hop, binGains, rowsOf, path);
        }
        catch (JsonException e)
        {
            throw new ModelLoadException(path, $"calibration is not valid JSON ({ModelManifest.OneLine(e.Message)})", e);
        }
        catch (InvalidOperationException e)
        {
            throw new ModelLoadException(path, $"calibration does not match the format ({ModelManifest.OneLine(e.Message)})", e);
        }

        int Int(JsonElement o, string name)
        {
            if (!o.TryGetProperty(name, out var v) || v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out int i))
                throw new ModelLoadException(path, $"calibration field '{name}' is missing or not an integer");
            return i;
        }
    }

    private static double Interpolate(double[] centres, double[] values, double bin)
    {
        if (bin <= centres[0]) return values[0];
        int last = centres.Length - 1;
        if (bin >= centres[last]) return values[last];
        int j = 0;
        while (centres[j + 1] < bin) j++;
        double t = (bin - centres[j]) / (centres[j + 1] - centres[j]);
        return values[j] + t * (values[j + 1] - values[j]);
    }

    /// <summary>Linear gains of every bin of table row <paramref name="row"/> (clamped to the last row) of a class; empty when the class has none.</summary>
    internal ReadOnlySpan<float> RowGains(string className, int row)
    {
        if (!_binGains.TryGetValue(className, out var table)) return default;
        int r = Math.Min(row, _rows[className] - 1);
        return table.AsSpan(r * Bins, Bins);
    }

    /// <summary>True when <paramref name="className"/> has a gain table.</summary>
    public bool Covers(string className) => _binGains.ContainsKey(className);

    /// <summary>
    /// The object that applies this calibration, for a model whose class ids index <paramref name="classNames"/>.
    /// One thread owns it (the generation worker or a CLI thread). Any non-audio thread may create it.
    /// </summary>
    public SpectralCalibrationFilter CreateFilter(IReadOnlyList<string> classNames) => new(this, classNames);
}

/// <summary>
/// Applies a <see cref="SpectralCalibration"/> to one hit at a time: STFT with a periodic Hann window (frame i centred on
/// sample i·hop, zeros outside the clip), each bin of frame i scaled by its class's gain in table row min(i, rows − 1),
/// overlap-add with the same window divided by the summed squared window. A table of 0 dB gives the hit back to float
/// rounding. Two real frames go through one complex FFT (real and imaginary parts), separated by symmetry before their
/// gains are applied, which halves the cost (≈ 2 ms for a 0.5 s hit here).
/// Buffers are sized for the longest hit seen, so repeated calls at that length allocate nothing. Not thread-safe:
/// one thread owns an instance (never the audio thread).
/// </summary>
public sealed class SpectralCalibrationFilter
{
    private readonly SpectralCalibration _calibration;
    private readonly string?[] _classNameOf; // class id -> name when the class has a table, else null
    private readonly RadixTwoFft _fft;
    private readonly float[] _window, _re, _im;
    private float[] _accumulated = [], _windowSquareSum = [];
    private int _preparedLength = -1;

    internal SpectralCalibrationFilter(SpectralCalibration calibration, IReadOnlyList<string> classNames)
    {
        _calibration = calibration;
        _classNameOf = classNames.Select(n => calibration.Covers(n) ? n : null).ToArray();
        int n = calibration.FftSize;
        _fft = new RadixTwoFft(n);
        _window = new float[n];
        for (int j = 0; j < n; j++) _window[j] = (float)(0.5 - 0.5 * Math.Cos(2 * Math.PI * j / n));
        _re = new float[n];
        _im = new float[n];
    }

    /// <summary>True when hits of class id <paramref name="classId"/> are changed by <see cref="Apply"/>.</summary>
    public bool Covers(int classId) => (uint)classId < (uint)_classNameOf.Length && _classNameOf[classId] != null;

    /// <summary>
    /// Calibrates <paramref name="hit"/> (mono, at the model's rate) in place as class <paramref name="classId"/>; returns
    /// false and leaves it untouched when that class has no table. Non-finite samples should be sanitised first.
    /// </summary>
    public bool Apply(Span<float> hit, int classId)
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
        for (int f = 0; f < frames; f += 2)
        {
            bool pair = f + 1 < frames;
            Frame(hit, f * hop - half, re);
            if (pair) Frame(hit, (f + 1) * hop - half, im); else im.Clear();
            _fft.Transform(re, im, inverse: false);
            var gainA = _calibration.RowGains(name, f);
            var gainB = pair ? _calibration.RowGains(name, f + 1) : gainA;
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
        _preparedLength = length;
    }
}
