using System.Text;
using System.Text.Json;
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

    [Fact]
    public void Applying_at_a_prepared_length_allocates_nothing()
    {
        var filter = Parse(Json(1024, 256, Edges1024, (_, b) => -3 * b, 89)).CreateFilter(Classes);
        var hit = Noise(22528);
        filter.Prepare(hit.Length);
        filter.Apply(hit, 0, 0.8f);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 3; i++) filter.Apply(hit, 0, 0.8f);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
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
