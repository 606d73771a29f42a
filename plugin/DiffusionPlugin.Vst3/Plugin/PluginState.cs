using System.Buffers.Binary;

namespace DiffusionPlugin.Vst3.Plugin;

/// <summary>
/// The state blob: "DFPS", format version (u16), the class's four id words (4 × u32), parameter count (u16),
/// (id u32, normalized f64) per parameter, extra length (u32) and extra bytes. Little-endian.
/// </summary>
internal static class PluginState
{
    public const uint Magic = 0x53504644; // "DFPS" read little-endian
    public const ushort FormatVersion = 1;
    private const int HeaderBytes = 4 + 2 + 16 + 2;

    public static byte[] Write(AudioPlugin plugin, ReadOnlySpan<byte> extra)
    {
        var writable = plugin.Parameters.All.Where(p => !p.ReadOnly).ToArray();
        var blob = new byte[HeaderBytes + writable.Length * 12 + 4 + extra.Length];
        var s = blob.AsSpan();
        BinaryPrimitives.WriteUInt32LittleEndian(s, Magic);
        BinaryPrimitives.WriteUInt16LittleEndian(s[4..], FormatVersion);
        for (int i = 0; i < 4; i++) BinaryPrimitives.WriteUInt32LittleEndian(s[(6 + 4 * i)..], plugin.Class.IdWords[i]);
        BinaryPrimitives.WriteUInt16LittleEndian(s[22..], (ushort)writable.Length);
        int at = HeaderBytes;
        foreach (var p in writable)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(s[at..], p.Id);
            BinaryPrimitives.WriteDoubleLittleEndian(s[(at + 4)..], p.Normalized);
            at += 12;
        }
        BinaryPrimitives.WriteUInt32LittleEndian(s[at..], (uint)extra.Length);
        extra.CopyTo(s[(at + 4)..]);
        return blob;
    }

    /// <summary>Parses a blob completely before anything is applied; false with a reason for anything odd.</summary>
    public static bool TryRead(AudioPlugin plugin, ReadOnlySpan<byte> s, out List<(uint Id, double Value)> values,
                               out byte[] extra, out string? problem)
    {
        values = new();
        extra = [];
        problem = null;
        if (s.Length < HeaderBytes) { problem = "too short for a header"; return false; }
        if (BinaryPrimitives.ReadUInt32LittleEndian(s) != Magic) { problem = "not a DiffusionPlugin state (magic)"; return false; }
        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(s[4..]);
        if (version != FormatVersion) { problem = $"unknown state version {version}"; return false; }
        for (int i = 0; i < 4; i++)
            if (BinaryPrimitives.ReadUInt32LittleEndian(s[(6 + 4 * i)..]) != plugin.Class.IdWords[i])
            { problem = "state of another plugin class"; return false; }
        int count = BinaryPrimitives.ReadUInt16LittleEndian(s[22..]);
        int at = HeaderBytes;
        if (s.Length < at + count * 12 + 4) { problem = "truncated parameter list"; return false; }
        for (int i = 0; i < count; i++, at += 12)
        {
            uint id = BinaryPrimitives.ReadUInt32LittleEndian(s[at..]);
            double v = BinaryPrimitives.ReadDoubleLittleEndian(s[(at + 4)..]);
            if (!double.IsFinite(v) || v < 0 || v > 1) { problem = $"parameter {id} out of range"; return false; }
            values.Add((id, v)); // ids this version does not know are skipped by TrySet
        }
        uint extraLength = BinaryPrimitives.ReadUInt32LittleEndian(s[at..]);
        at += 4;
        if (extraLength != s.Length - at) { problem = "truncated or padded extra state"; return false; }
        extra = s[at..].ToArray();
        return true;
    }
}
