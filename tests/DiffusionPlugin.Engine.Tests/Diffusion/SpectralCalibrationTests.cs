using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using DiffusionPlugin.Engine.Diffusion;
using DiffusionPlugin.Engine.Realtime;

namespace DiffusionPlugin.Engine.Tests.Diffusion;

/// <summary>The per-class spectral calibration: what it does to a hit, how a bad file is reported, and how a model carries it.</summary>
public class SpectralCalibrationTests
{
    private static readonly string[] Classes = ["kick", "snare", "general"];

    /// <summary>A calibration JSON with one table for "kick" at one velocity node (0.5): dB per (row, band).</summary>
    private static string Json(int fftSize, int hop, int[] edges, Func<int, int, double> db, int rows, string cls = "kick") =>
        Json(fftSize, hop, edges, [0.5], (_, r, b) => db(r, b), rows, cls);

    /// <summary>A calibration JSON with tables for "kick" at each velocity node: dB per (node, row, band).</summary>
    private static string Json(int fftSize, int hop, int[] edges, double[] nodes, Func<int, int, int, double> db, int rows, string cls = "kick")
    {
        var tables = Enumerable.Range(0, nodes.Length).Select(n => Enumerable.Range(0, rows)
            .Select(r => Enumerable.Range(0, edges.Length - 1).Select(b => db(n, r, b)).ToArray()).ToArray()).ToArray();
        return JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["formatVersion"] = 1, ["fftSize"] = fftSize, ["hopSamples"] = hop, ["bandEdges"] = edges, ["velocityNodes"] = nodes,
            ["gainsDb"] = new Dictionary<string, double[][][]> { [cls] = tables },
        });
    }

    /// <summary>One class's spread entry: shape arrays per band, envelope arrays per envelope row.</summary>
    private static object SpreadEntry(double[] shapeMeanDb, double[] shapeGain, double[] envelopeMeanDb, double[] envelopeGain,
                                      double[]? shapeSlopeDb = null, double[]? envelopeSlopeDb = null) => new
    {
        shapeMeanDb, shapeSlopeDb = shapeSlopeDb ?? new double[shapeMeanDb.Length], shapeGain,
        envelopeMeanDb, envelopeSlopeDb = envelopeSlopeDb ?? new double[envelopeMeanDb.Length], envelopeGain,
    };

    /// <summary><paramref name="json"/> with a spread section of these class entries.</summary>
    private static string WithSpread(string json, double limitDb, Dictionary<string, object> classes)
    {
        var root = JsonNode.Parse(json)!.AsObject();
        root["spread"] = JsonSerializer.SerializeToNode(new { limitDb, classes });
        return root.ToJsonString();
    }

    /// <summary>Copies <paramref name="json"/>'s "kick" table for another class.</summary>
    private static string WithTableFor(string json, string cls)
    {
        var root = JsonNode.Parse(json)!.AsObject();
        root["gainsDb"]![cls] = root["gainsDb"]!["kick"]!.DeepClone();
        return root.ToJsonString();
    }

    /// <summary>
    /// Energy in dB of bins lo … hi − 1 summed over the frames of the calibration's STFT (1024, hop 256, periodic Hann,
    /// frame t centred on sample t·256): S of the spread section, by a plain DFT in double.
    /// </summary>
    private static double BandEnergyDb(float[] x, int lo, int hi, int n = 1024, int hop = 256)
    {
        int frames = (x.Length + hop - 1) / hop + 1;
        var frame = new double[n];
        double sum = 0;
        for (int t = 0; t < frames; t++)
        {
            for (int j = 0; j < n; j++)
            {
                int i = t * hop - n / 2 + j;
                frame[j] = (uint)i < (uint)x.Length ? x[i] * (0.5 - 0.5 * Math.Cos(2 * Math.PI * j / n)) : 0;
            }
            for (int k = lo; k < hi; k++)
            {
                double re = 0, im = 0;
                for (int j = 0; j < n; j++)
                {
                    double a = 2 * Math.PI * ((long)k * j % n) / n;
                    re += frame[j] * Math.Cos(a);
                    im -= frame[j] * Math.Sin(a);
                }
                sum += re * re + im * im;
            }
        }
        return 10 * Math.Log10(sum + 1e-10);
    }

    private static SpectralCalibration Parse(string json) => SpectralCalibration.Parse(Encoding.UTF8.GetBytes(json), "/tmp/calibration.json");

    private static readonly int[] Edges1024 = [0, 4, 16, 64, 200, 513];

    private static float[] Noise(int length, int seed = 1)
    {
        var rng = new Random(seed);
        var x = new float[length];
        for (int i = 0; i < length; i++) x[i] = (float)((rng.NextDouble() * 2 - 1) * Math.Exp(-i / 4000.0));
        return x;
    }

    private static float[] Sine(int length, double hz, double rateHz = 44100)
    {
        var x = new float[length];
        for (int i = 0; i < length; i++) x[i] = (float)(0.5 * Math.Sin(2 * Math.PI * hz * i / rateHz));
        return x;
    }

    private static double Rms(ReadOnlySpan<float> x)
    {
        double s = 0;
        foreach (float v in x) s += (double)v * v;
        return Math.Sqrt(s / Math.Max(1, x.Length));
    }

    [Fact]
    public void The_engine_reproduces_the_python_calibration_on_the_shared_fixture()
    {
        var path = TestModels.FindUp(Path.Combine("models", "test", "calibration-parity.json"));
        using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
        var root = doc.RootElement;
        var calibration = SpectralCalibration.Parse(Encoding.UTF8.GetBytes(root.GetProperty("calibration").GetRawText()), path);
        var hit = root.GetProperty("hit").EnumerateArray().Select(e => e.GetSingle()).ToArray();
        float velocity = root.GetProperty("velocity").GetSingle();
        var expected = root.GetProperty("calibrated").EnumerateArray().Select(e => e.GetSingle()).ToArray();
        double tolerance = root.GetProperty("tolerance").GetDouble();

        Assert.True(calibration.CreateFilter(Classes).Apply(hit, 0, velocity));
        double worst = 0;
        for (int i = 0; i < hit.Length; i++) worst = Math.Max(worst, Math.Abs(hit[i] - expected[i]));
        Assert.True(worst <= tolerance, $"largest difference {worst:E2} > {tolerance:E0}");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(100)]
    [InlineData(1000)]
    [InlineData(22528)]
    public void A_flat_zero_dB_table_gives_the_hit_back(int length)
    {
        var filter = Parse(Json(1024, 256, Edges1024, (_, _) => 0, 89)).CreateFilter(Classes);
        var hit = Noise(length);
        var original = hit.ToArray();
        Assert.True(filter.Apply(hit, 0, 0.8f));
        for (int i = 0; i < length; i++) Assert.True(Math.Abs(hit[i] - original[i]) < 1e-5, $"sample {i}: {hit[i]} vs {original[i]}");
    }

    [Fact]
    public void A_flat_minus_20_dB_table_scales_the_hit_by_a_tenth()
    {
        var filter = Parse(Json(1024, 256, Edges1024, (_, _) => -20, 3)).CreateFilter(Classes);
        var hit = Noise(5000);
        var original = hit.ToArray();
        filter.Apply(hit, 0, 0.8f);
        for (int i = 0; i < hit.Length; i++) Assert.True(Math.Abs(hit[i] - 0.1f * original[i]) < 1e-5, $"sample {i}");
    }

    [Fact]
    public void A_band_cut_takes_down_a_tone_in_that_band_and_leaves_a_tone_elsewhere()
    {
        // Edges in bins of 43 Hz: 86 Hz sits in band 1 (bins 4..15, centre 9.5), 8.6 kHz in band 4 (bins 200..512).
        var filter = Parse(Json(1024, 256, [0, 4, 16, 64, 200, 513], (_, b) => b == 4 ? -40 : 0, 20)).CreateFilter(Classes);
        var low = Sine(8192, 400);     // bin 9.3: band 1
        var high = Sine(8192, 15000);  // bin 348: band 4, past its centre (356 is close): -40 dB
        double lowBefore = Rms(low.AsSpan(2048, 4096)), highBefore = Rms(high.AsSpan(2048, 4096));
        filter.Apply(low, 0, 0.8f);
        filter.Apply(high, 0, 0.8f);
        Assert.InRange(20 * Math.Log10(Rms(low.AsSpan(2048, 4096)) / lowBefore), -0.5, 0.5);
        Assert.InRange(20 * Math.Log10(Rms(high.AsSpan(2048, 4096)) / highBefore), -42, -36);
    }

    [Fact]
    public void Later_rows_act_later_in_the_hit_and_the_last_row_holds_past_the_table()
    {
        // Rows 0..9 pass, rows 10..11 cut 30 dB; a hit of 40 frames keeps row 11 from frame 11 on.
        var filter = Parse(Json(1024, 256, Edges1024, (r, _) => r < 10 ? 0 : -30, 12)).CreateFilter(Classes);
        var hit = Sine(40 * 256, 1000);
        var original = hit.ToArray();
        filter.Apply(hit, 0, 0.8f);
        Assert.InRange(20 * Math.Log10(Rms(hit.AsSpan(512, 1024)) / Rms(original.AsSpan(512, 1024))), -0.5, 0.5);
        Assert.InRange(20 * Math.Log10(Rms(hit.AsSpan(20 * 256, 4096)) / Rms(original.AsSpan(20 * 256, 4096))), -30.5, -29.5);
    }

    [Fact]
    public void Velocity_chooses_between_the_node_tables_and_interpolates_their_dB_in_between()
    {
        // Node 0.2 cuts 30 dB, node 0.8 leaves the hit alone: at 0.5 the cut is 15 dB, outside the nodes it is theirs.
        var filter = Parse(Json(1024, 256, Edges1024, [0.2, 0.8], (n, _, _) => n == 0 ? -30 : 0, 4)).CreateFilter(Classes);
        double ChangeDb(float velocity)
        {
            var hit = Noise(6000);
            double before = Rms(hit);
            filter.Apply(hit, 0, velocity);
            return 20 * Math.Log10(Rms(hit) / before);
        }
        Assert.InRange(ChangeDb(0.0f), -30.1, -29.9);
        Assert.InRange(ChangeDb(0.2f), -30.1, -29.9);
        Assert.InRange(ChangeDb(0.5f), -15.1, -14.9);
        Assert.InRange(ChangeDb(0.8f), -0.1, 0.1);
        Assert.InRange(ChangeDb(1.0f), -0.1, 0.1);
    }

    [Fact]
    public void Classes_without_a_table_and_unknown_ids_are_left_untouched()
    {
        var filter = Parse(Json(1024, 256, Edges1024, (_, _) => -20, 3)).CreateFilter(Classes);
        foreach (int id in new[] { 1, 2, -1, 3, 99 })
        {
            var hit = Noise(3000);
            var original = hit.ToArray();
            Assert.False(filter.Apply(hit, id, 0.8f));
            Assert.Equal(original, hit);
            Assert.False(filter.Covers(id));
        }
        Assert.True(filter.Covers(0));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Applying_at_a_prepared_length_allocates_nothing(bool withSpread)
    {
        string json = Json(1024, 256, Edges1024, (_, b) => -3 * b, 89);
        if (withSpread)
            json = WithSpread(json, 12, new() { ["kick"] = SpreadEntry([10, 20, 30, 20, 10], [0.5, 0.5, 0.5, 0.5, 0.5], [-10, -12, -15], [0.3, 0.3, 0.3]) });
        var calibration = Parse(json);
        Assert.Equal(withSpread, calibration.HasSpread("kick"));
        var filter = calibration.CreateFilter(Classes);
        var hit = Noise(22528);
        filter.Prepare(hit.Length);
        filter.Apply(hit, 0, 0.8f);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 3; i++) filter.Apply(hit, 0, 0.8f);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void A_spread_whose_gains_are_all_zero_leaves_the_hit_as_the_table_alone_does()
    {
        string json = Json(1024, 256, Edges1024, [0.2, 0.8], (n, r, b) => -4 * b - r + 5 * n, 6);
        var withoutSpread = Parse(json).CreateFilter(Classes);
        var calibration = Parse(WithSpread(json, 12, new() { ["kick"] = SpreadEntry([40, -20, 3, 0, 60], new double[5], [-30, 10], [0, 0], [5, 5, 5, 5, 5], [1, -1]) }));
        Assert.True(calibration.HasSpread("kick"));
        var withSpread = calibration.CreateFilter(Classes);
        foreach (float velocity in new[] { 0.1f, 0.5f, 1f })
        {
            var expected = Noise(7000);
            var hit = expected.ToArray();
            withoutSpread.Apply(expected, 0, velocity);
            withSpread.Apply(hit, 0, velocity);
            Assert.Equal(expected, hit);
        }
    }

    [Fact]
    public void The_spread_widens_a_hits_deviation_from_the_models_average_in_the_bands_it_names()
    {
        // Only the top band (bins 200..512, centre 356) has a shape gain, 0.5: a hit 20 dB above the model's mean there
        // gets 10 dB more from bin 356 up, one 20 dB below gets 10 dB less, and the bands below band 3's centre (131.5),
        // where the extra is 0, keep what the table alone gives them.
        var loud = Noise(6000, seed: 1);
        var quiet = Noise(6000, seed: 2).Select(v => 0.01f * v).ToArray(); // 40 dB down
        double mean = (BandEnergyDb(loud, 200, 513) + BandEnergyDb(quiet, 200, 513)) / 2;
        string json = Json(1024, 256, Edges1024, (_, b) => b == 4 ? -10 : -2, 8);
        var tableAlone = Parse(json).CreateFilter(Classes);
        var widened = Parse(WithSpread(json, 48, new() { ["kick"] = SpreadEntry([0, 0, 0, 0, mean], [0, 0, 0, 0, 0.5], [0], [0]) })).CreateFilter(Classes);
        foreach (var (input, expectedDb) in new[] { (loud, 10.0), (quiet, -10.0) })
        {
            var a = input.ToArray();
            var b = input.ToArray();
            tableAlone.Apply(a, 0, 0.8f);
            widened.Apply(b, 0, 0.8f);
            Assert.InRange(BandEnergyDb(b, 356, 513) - BandEnergyDb(a, 356, 513), expectedDb - 0.5, expectedDb + 0.5);
            Assert.InRange(BandEnergyDb(b, 1, 131) - BandEnergyDb(a, 1, 131), -0.1, 0.1);
        }
    }

    [Theory]
    [InlineData(-100.0, 3.0)]  // the hit lies far above the model's average: +3 dB at most
    [InlineData(300.0, -3.0)]  // far below: −3 dB at most
    public void The_spread_limit_bounds_a_hits_extra_gain(double modelMeanDb, double limitedDb)
    {
        // Gains of 4 on deviations of hundreds of dB, in every band and frame: the extra is the limit everywhere, so the
        // hit comes out as the table alone makes it, scaled by the limit.
        string json = Json(1024, 256, Edges1024, (r, b) => -2 * b - r, 5);
        var tableAlone = Parse(json).CreateFilter(Classes);
        var entry = SpreadEntry(Enumerable.Repeat(modelMeanDb, 5).ToArray(), [4, 4, 4, 4, 4], [modelMeanDb, modelMeanDb], [4, 4]);
        var limited = Parse(WithSpread(json, 3, new() { ["kick"] = entry })).CreateFilter(Classes);
        var expected = Noise(9000);
        var hit = expected.ToArray();
        tableAlone.Apply(expected, 0, 0.6f);
        limited.Apply(hit, 0, 0.6f);
        float scale = (float)Math.Pow(10, limitedDb / 20);
        for (int i = 0; i < hit.Length; i++) Assert.True(Math.Abs(hit[i] - scale * expected[i]) < 1e-5, $"sample {i}: {hit[i]} vs {scale * expected[i]}");
    }

    [Fact]
    public void Classes_without_a_spread_entry_keep_the_table_alone()
    {
        string json = WithTableFor(Json(1024, 256, Edges1024, (r, b) => -3 * b - r, 4), "snare");
        var tableAlone = Parse(json).CreateFilter(Classes);
        var calibration = Parse(WithSpread(json, 12, new() { ["kick"] = SpreadEntry([0, 0, 0, 0, 0], [1, 1, 1, 1, 1], [-20], [1]) }));
        Assert.True(calibration.HasSpread("kick"));
        Assert.False(calibration.HasSpread("snare"));
        Assert.Equal(["kick"], calibration.SpreadClasses);
        var withSpread = calibration.CreateFilter(Classes);
        var (kickA, kickB, snareA, snareB) = (Noise(5000), Noise(5000), Noise(5000), Noise(5000));
        tableAlone.Apply(kickA, 0, 0.7f);
        withSpread.Apply(kickB, 0, 0.7f);
        tableAlone.Apply(snareA, 1, 0.7f);
        withSpread.Apply(snareB, 1, 0.7f);
        Assert.NotEqual(kickA, kickB);  // the kick's spread does act on this hit ...
        Assert.Equal(snareA, snareB);   // ... and not on the snare's
    }

    private const string SpreadBase = "{\"formatVersion\": 1, \"fftSize\": 1024, \"hopSamples\": 256, \"bandEdges\": [0, 100, 513], \"velocityNodes\": [0.5], \"gainsDb\": {\"kick\": [[[1, 2]]]}, \"spread\": ";

    [Theory]
    [InlineData("[]", "spread must be an object")]
    [InlineData("{\"classes\": {}}", "spread.limitDb must be a finite number in 0..48")]
    [InlineData("{\"limitDb\": 60, \"classes\": {}}", "spread.limitDb must be a finite number in 0..48")]
    [InlineData("{\"limitDb\": -1, \"classes\": {}}", "spread.limitDb must be a finite number in 0..48")]
    [InlineData("{\"limitDb\": \"6\", \"classes\": {}}", "spread.limitDb must be a finite number in 0..48")]
    [InlineData("{\"limitDb\": 6}", "spread.classes must be an object")]
    [InlineData("{\"limitDb\": 6, \"classes\": {\"kick\": []}}", "spread.classes.kick must be an object")]
    [InlineData("{\"limitDb\": 6, \"classes\": {\"snare\": {}}}", "spread.classes.snare has no gain table in gainsDb")]
    [InlineData("{\"limitDb\": 6, \"classes\": {\"kick\": {\"shapeMeanDb\": [1, 2, 3], \"shapeSlopeDb\": [0, 0], \"shapeGain\": [0, 0], \"envelopeMeanDb\": [0], \"envelopeSlopeDb\": [0], \"envelopeGain\": [0]}}}", "spread.classes.kick.shapeMeanDb must hold 2 finite numbers (one per band)")]
    [InlineData("{\"limitDb\": 6, \"classes\": {\"kick\": {\"shapeMeanDb\": [1, 2], \"shapeGain\": [0, 0], \"envelopeMeanDb\": [0], \"envelopeSlopeDb\": [0], \"envelopeGain\": [0]}}}", "spread.classes.kick.shapeSlopeDb must hold 2 finite numbers (one per band)")]
    [InlineData("{\"limitDb\": 6, \"classes\": {\"kick\": {\"shapeMeanDb\": [1, 2], \"shapeSlopeDb\": [0, 1e999], \"shapeGain\": [0, 0], \"envelopeMeanDb\": [0], \"envelopeSlopeDb\": [0], \"envelopeGain\": [0]}}}", "spread.classes.kick.shapeSlopeDb must hold 2 finite numbers (one per band)")]
    [InlineData("{\"limitDb\": 6, \"classes\": {\"kick\": {\"shapeMeanDb\": [1, \"x\"], \"shapeSlopeDb\": [0, 0], \"shapeGain\": [0, 0], \"envelopeMeanDb\": [0], \"envelopeSlopeDb\": [0], \"envelopeGain\": [0]}}}", "spread.classes.kick.shapeMeanDb must hold 2 finite numbers (one per band)")]
    [InlineData("{\"limitDb\": 6, \"classes\": {\"kick\": {\"shapeMeanDb\": [1, 2], \"shapeSlopeDb\": [0, 0], \"shapeGain\": [0, 4.5], \"envelopeMeanDb\": [0], \"envelopeSlopeDb\": [0], \"envelopeGain\": [0]}}}", "spread.classes.kick.shapeGain values must be in 0..4")]
    [InlineData("{\"limitDb\": 6, \"classes\": {\"kick\": {\"shapeMeanDb\": [1, 2], \"shapeSlopeDb\": [0, 0], \"shapeGain\": [0, 0], \"envelopeMeanDb\": [], \"envelopeSlopeDb\": [], \"envelopeGain\": []}}}", "spread.classes.kick.envelopeMeanDb must hold at least one finite number")]
    [InlineData("{\"limitDb\": 6, \"classes\": {\"kick\": {\"shapeMeanDb\": [1, 2], \"shapeSlopeDb\": [0, 0], \"shapeGain\": [0, 0], \"envelopeMeanDb\": [0, 1], \"envelopeSlopeDb\": [0], \"envelopeGain\": [0, 0]}}}", "spread.classes.kick.envelopeSlopeDb must hold 2 finite numbers (one per envelope row")]
    [InlineData("{\"limitDb\": 6, \"classes\": {\"kick\": {\"shapeMeanDb\": [1, 2], \"shapeSlopeDb\": [0, 0], \"shapeGain\": [0, 0], \"envelopeMeanDb\": [0, 1], \"envelopeSlopeDb\": [0, 0], \"envelopeGain\": [0, -0.1]}}}", "spread.classes.kick.envelopeGain values must be in 0..4")]
    public void A_damaged_spread_section_is_refused_with_one_line_naming_the_field(string spread, string problem)
    {
        var e = Assert.Throws<ModelLoadException>(() => Parse(SpreadBase + spread + "}"));
        Assert.Contains(problem, e.Message);
        Assert.StartsWith("/tmp/calibration.json: ", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void A_well_formed_spread_section_is_read()
    {
        var calibration = Parse(SpreadBase + "{\"limitDb\": 6, \"classes\": {\"kick\": {\"shapeMeanDb\": [1, 2], \"shapeSlopeDb\": [0, 0], \"shapeGain\": [0, 4], \"envelopeMeanDb\": [0, 1, 2], \"envelopeSlopeDb\": [0, 0, 0], \"envelopeGain\": [0, 1, 0.5]}}}}");
        Assert.True(calibration.HasSpread("kick"));
        Assert.Equal(6f, calibration.SpreadLimitDb);
        Assert.False(Parse(SpreadBase.Replace(", \"spread\": ", "") + "}").HasSpread("kick")); // no section: no spread
    }

    [Theory]
    [InlineData("{\"formatVersion\": 1, \"fftSize\": 1024", "not valid JSON")]
    [InlineData("[]", "not a JSON object")]
    [InlineData("{\"formatVersion\": 2}", "unknown calibration formatVersion 2")]
    [InlineData("{\"formatVersion\": 1, \"fftSize\": 1000, \"hopSamples\": 256}", "fftSize 1000 must be a power of two")]
    [InlineData("{\"formatVersion\": 1, \"fftSize\": 1024, \"hopSamples\": 0}", "hopSamples 0")]
    [InlineData("{\"formatVersion\": 1, \"fftSize\": 1024, \"hopSamples\": 256, \"bandEdges\": [0, 100, 400]}", "bandEdges must run from 0 to fftSize/2+1")]
    [InlineData("{\"formatVersion\": 1, \"fftSize\": 1024, \"hopSamples\": 256, \"bandEdges\": [0, 100, 50, 513]}", "bandEdges must rise strictly")]
    [InlineData("{\"formatVersion\": 1, \"fftSize\": 1024, \"hopSamples\": 256, \"bandEdges\": [0, 100, 513]}", "velocityNodes is missing")]
    [InlineData("{\"formatVersion\": 1, \"fftSize\": 1024, \"hopSamples\": 256, \"bandEdges\": [0, 100, 513], \"velocityNodes\": [0.8, 0.4]}", "velocityNodes must be numbers in 0..1, rising strictly")]
    [InlineData("{\"formatVersion\": 1, \"fftSize\": 1024, \"hopSamples\": 256, \"bandEdges\": [0, 100, 513], \"velocityNodes\": [0.5]}", "gainsDb is missing")]
    [InlineData("{\"formatVersion\": 1, \"fftSize\": 1024, \"hopSamples\": 256, \"bandEdges\": [0, 100, 513], \"velocityNodes\": [0.5], \"gainsDb\": {\"kick\": [[[1, 2, 3]]]}}", "gainsDb.kick node 0 row 0 must hold 2 numbers")]
    [InlineData("{\"formatVersion\": 1, \"fftSize\": 1024, \"hopSamples\": 256, \"bandEdges\": [0, 100, 513], \"velocityNodes\": [0.5], \"gainsDb\": {\"kick\": [[[1, \"x\"]]]}}", "gainsDb.kick node 0 row 0 band 1 is not a finite number")]
    [InlineData("{\"formatVersion\": 1, \"fftSize\": 1024, \"hopSamples\": 256, \"bandEdges\": [0, 100, 513], \"velocityNodes\": [0.5], \"gainsDb\": {\"kick\": [[]]}}", "gainsDb.kick node 0 has no rows")]
    [InlineData("{\"formatVersion\": 1, \"fftSize\": 1024, \"hopSamples\": 256, \"bandEdges\": [0, 100, 513], \"velocityNodes\": [0.2, 0.8], \"gainsDb\": {\"kick\": [[[1, 2]]]}}", "gainsDb.kick must hold one table per velocity node (2)")]
    [InlineData("{\"formatVersion\": 1, \"fftSize\": 1024, \"hopSamples\": 256, \"bandEdges\": [0, 100, 513], \"velocityNodes\": [0.2, 0.8], \"gainsDb\": {\"kick\": [[[1, 2]], [[1, 2], [3, 4]]]}}", "gainsDb.kick node 1 has 2 rows, node 0 has 1")]
    [InlineData("{\"formatVersion\": 1, \"fftSize\": 1024, \"hopSamples\": 256, \"bandEdges\": [0, 100, 513], \"tailFloorDb\": 6}", "tailFloorDb must be a number of dB in -120..0")]
    [InlineData("{\"formatVersion\": 1, \"fftSize\": 1024, \"hopSamples\": 256, \"bandEdges\": [0, 100, 513], \"tailFloorDb\": -500}", "tailFloorDb must be a number of dB in -120..0")]
    [InlineData("{\"formatVersion\": 1, \"fftSize\": 1024, \"hopSamples\": 256, \"bandEdges\": [0, 100, 513], \"tailFloorDb\": \"low\"}", "tailFloorDb must be a number of dB in -120..0")]
    public void A_damaged_calibration_is_refused_with_one_line_naming_the_problem(string json, string problem)
    {
        var e = Assert.Throws<ModelLoadException>(() => Parse(json));
        Assert.Contains(problem, e.Message);
        Assert.StartsWith("/tmp/calibration.json: ", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Calibrated_classes_finish_at_the_files_tail_floor_and_others_at_the_default()
    {
        string json = Json(1024, 256, Edges1024, (_, _) => 0, 1);
        var withFloor = Parse(json.Replace("\"formatVersion\":1,", "\"formatVersion\":1,\"tailFloorDb\":-70,")).CreateFilter(Classes);
        Assert.Equal(-70f, withFloor.TailFloorDb);
        Assert.Equal(-70f, withFloor.FinishFloorDb(0));                                  // kick: has a table
        Assert.Equal(OneShotTail.DefaultFloorDb, withFloor.FinishFloorDb(1));   // snare: none
        Assert.Equal(OneShotTail.DefaultFloorDb, withFloor.FinishFloorDb(7));   // not a class of the model
        var without = Parse(json).CreateFilter(Classes);                                 // older files: no field
        Assert.Equal(OneShotTail.DefaultFloorDb, without.FinishFloorDb(0));
    }

    [Fact]
    public void Gains_beyond_the_safe_range_are_clamped()
    {
        var filter = Parse(Json(1024, 256, Edges1024, (_, _) => 400, 3)).CreateFilter(Classes);
        var hit = Noise(3000);
        double before = Rms(hit);
        filter.Apply(hit, 0, 0.8f);
        Assert.InRange(20 * Math.Log10(Rms(hit) / before), SpectralCalibration.MaxGainDb - 0.5, SpectralCalibration.MaxGainDb + 0.5);
    }

    [Fact]
    public void A_model_whose_calibration_file_is_missing_or_damaged_still_loads_and_says_why()
    {
        var dir = TestModels.CopyAnalyticToTemp();
        var manifest = Path.Combine(dir, "manifest.json");
        File.WriteAllText(manifest, File.ReadAllText(manifest).Replace("\"formatVersion\": 1,", "\"formatVersion\": 1, \"calibration\": \"calibration.json\","));
        using (var missing = DiffusionModel.LoadDenoiser(manifest, TestModels.Cpu))
        {
            Assert.Null(missing.Calibration);
            Assert.Contains("calibration file not found", missing.CalibrationProblem);
        }
        File.WriteAllText(Path.Combine(dir, "calibration.json"), "{\"formatVersion\": 1, \"fftSize\"");
        using (var damaged = DiffusionModel.LoadDenoiser(manifest, TestModels.Cpu))
        {
            Assert.Null(damaged.Calibration);
            Assert.Contains("not valid JSON", damaged.CalibrationProblem);
        }
        File.WriteAllText(Path.Combine(dir, "calibration.json"), Json(1024, 256, Edges1024, (_, _) => -6, 4, cls: "kick"));
        using var good = DiffusionModel.LoadDenoiser(manifest, TestModels.Cpu);
        Assert.NotNull(good.Calibration);
        Assert.Null(good.CalibrationProblem);
        Assert.Equal(Path.Combine(dir, "calibration.json"), good.Calibration!.FilePath);
    }

    [RequiresShippedModelFact]
    public void The_shipped_model_calibrates_every_drum_class_and_leaves_the_widener_material_alone()
    {
        using var denoiser = DiffusionModel.LoadDenoiser(Path.Combine(Path.GetDirectoryName(ParityTests.FixturePath!)!, "manifest.json"), TestModels.Cpu);
        var calibration = Assert.IsType<SpectralCalibration>(denoiser.Calibration);
        foreach (var name in denoiser.ClassNames)
            Assert.Equal(name != "general", calibration.Covers(name));
        Assert.True(calibration.TailFloorDb < OneShotTail.DefaultFloorDb); // calibrated hits keep more of their decay
    }
}
