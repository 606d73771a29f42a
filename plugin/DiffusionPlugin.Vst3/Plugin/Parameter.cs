using System.Globalization;

namespace DiffusionPlugin.Vst3.Plugin;

/// <summary>
/// One host-visible parameter. The value is stored normalized (0..1) in an atomic 64-bit slot, so the audio thread
/// (automation) and the host's UI thread can both set it without locks. Plain value = min + n·(max − min),
/// rounded to whole steps when <see cref="StepCount"/> &gt; 0.
/// </summary>
internal sealed class Parameter
{
    private long _normalizedBits;

    public uint Id { get; }
    public string Title { get; }
    public string ShortTitle { get; }
    public string Units { get; }
    public double Min { get; }
    public double Max { get; }
    public int StepCount { get; }
    public double DefaultNormalized { get; }
    public bool ReadOnly { get; init; }
    public bool IsBypass { get; init; }
    /// <summary>Names of the steps (a list parameter), or null.</summary>
    public string[]? Labels { get; init; }
    public bool IsList => Labels != null;
    /// <summary>Digits after the decimal point when shown.</summary>
    public int Decimals { get; init; } = 2;

    public Parameter(uint id, string title, string shortTitle, string units, double min, double max, double defaultPlain, int stepCount = 0)
    {
        Id = id; Title = title; ShortTitle = shortTitle; Units = units; Min = min; Max = max; StepCount = stepCount;
        DefaultNormalized = ToNormalized(defaultPlain);
        Normalized = DefaultNormalized;
    }

    /// <summary>Current normalized value (any thread).</summary>
    public double Normalized
    {
        get => BitConverter.Int64BitsToDouble(Volatile.Read(ref _normalizedBits));
        set => Volatile.Write(ref _normalizedBits, BitConverter.DoubleToInt64Bits(double.IsFinite(value) ? Math.Clamp(value, 0, 1) : DefaultNormalized));
    }

    /// <summary>Current plain value (any thread).</summary>
    public double Plain => ToPlain(Normalized);

    public double ToPlain(double normalized)
    {
        normalized = double.IsFinite(normalized) ? Math.Clamp(normalized, 0, 1) : 0;
        if (StepCount > 0) return Min + Math.Round(normalized * StepCount) * (Max - Min) / StepCount;
        return Min + normalized * (Max - Min);
    }

    public double ToNormalized(double plain)
    {
        if (!double.IsFinite(plain) || Max <= Min) return 0;
        double n = Math.Clamp((plain - Min) / (Max - Min), 0, 1);
        return StepCount > 0 ? Math.Round(n * StepCount) / StepCount : n;
    }

    public void Reset() => Normalized = DefaultNormalized;

    public string Format(double normalized)
    {
        double plain = ToPlain(normalized);
        if (Labels != null) return Labels[Math.Clamp((int)Math.Round(plain - Min), 0, Labels.Length - 1)];
        var text = plain.ToString(StepCount > 0 && Max - Min == StepCount ? "0" : "0." + new string('0', Decimals), CultureInfo.InvariantCulture);
        return Units.Length > 0 ? $"{text} {Units}" : text;
    }

    /// <summary>Parses what <see cref="Format"/> writes (units optional) into a normalized value.</summary>
    public bool TryParse(string text, out double normalized)
    {
        normalized = 0;
        text = text.Trim();
        if (Labels != null)
        {
            int i = Array.FindIndex(Labels, l => string.Equals(l, text, StringComparison.OrdinalIgnoreCase));
            if (i >= 0) { normalized = ToNormalized(Min + i); return true; }
        }
        if (Units.Length > 0 && text.EndsWith(Units, StringComparison.OrdinalIgnoreCase)) text = text[..^Units.Length].Trim();
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double plain)) return false;
        normalized = ToNormalized(plain);
        return true;
    }
}

/// <summary>The fixed list of a plugin's parameters, found by index or id. Built once; lookups never allocate.</summary>
internal sealed class ParameterSet
{
    private readonly Parameter[] _parameters;
    private readonly Dictionary<uint, Parameter> _byId;
    private int _version;

    public ParameterSet(IEnumerable<Parameter> parameters)
    {
        _parameters = parameters.ToArray();
        _byId = _parameters.ToDictionary(p => p.Id);
    }

    public int Count => _parameters.Length;
    public Parameter this[int index] => _parameters[index];
    public IReadOnlyList<Parameter> All => _parameters;
    public Parameter? Find(uint id) => _byId.TryGetValue(id, out var p) ? p : null;

    /// <summary>Grows by one on every change; the audio thread compares it to know when to push values to the engine.</summary>
    public int Version => Volatile.Read(ref _version);

    /// <summary>Sets a writable parameter (any thread, allocation-free). Read-only ids are accepted and ignored.</summary>
    public bool TrySet(uint id, double normalized)
    {
        if (!_byId.TryGetValue(id, out var p)) return false;
        if (p.ReadOnly) return true;
        p.Normalized = normalized;
        Interlocked.Increment(ref _version);
        return true;
    }

    public void ResetAll()
    {
        foreach (var p in _parameters) p.Reset();
        Interlocked.Increment(ref _version);
    }
}
