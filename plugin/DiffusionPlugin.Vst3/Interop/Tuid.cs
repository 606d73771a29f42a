using System.Runtime.CompilerServices;

namespace DiffusionPlugin.Vst3.Interop;

/// <summary>
/// A VST3 interface or class id (TUID, 16 bytes). VST3 writes ids as four 32-bit words; how the words become bytes
/// depends on the platform: each word big-endian on Linux and macOS, Microsoft COM GUID order on Windows.
/// </summary>
[InlineArray(16)]
internal struct Tuid
{
    private byte _first;

    /// <summary>True where ids are laid out as COM GUIDs (Windows). Kept switchable so a Windows build needs no other change.</summary>
    internal static readonly bool ComOrder = OperatingSystem.IsWindows();

    public static Tuid FromWords(uint l1, uint l2, uint l3, uint l4) => FromWords(l1, l2, l3, l4, ComOrder);

    public static Tuid FromWords(uint l1, uint l2, uint l3, uint l4, bool comOrder)
    {
        var id = new Tuid();
        Span<byte> b = id;
        if (comOrder)
        {
            // COM: Data1 (32 bit) and Data2/Data3 (16 bit each) little-endian, Data4 as bytes.
            b[0] = (byte)l1; b[1] = (byte)(l1 >> 8); b[2] = (byte)(l1 >> 16); b[3] = (byte)(l1 >> 24);
            b[4] = (byte)(l2 >> 16); b[5] = (byte)(l2 >> 24); b[6] = (byte)l2; b[7] = (byte)(l2 >> 8);
        }
        else
        {
            WriteBigEndian(b, l1);
            WriteBigEndian(b[4..], l2);
        }
        WriteBigEndian(b[8..], l3);
        WriteBigEndian(b[12..], l4);
        return id;
    }

    private static void WriteBigEndian(Span<byte> b, uint v)
    {
        b[0] = (byte)(v >> 24); b[1] = (byte)(v >> 16); b[2] = (byte)(v >> 8); b[3] = (byte)v;
    }

    /// <summary>True when the 16 bytes at <paramref name="other"/> equal this id.</summary>
    public readonly unsafe bool Matches(byte* other)
    {
        if (other == null) return false;
        ReadOnlySpan<byte> mine = this;
        return mine.SequenceEqual(new ReadOnlySpan<byte>(other, 16));
    }

    public readonly unsafe void CopyTo(byte* destination)
    {
        ReadOnlySpan<byte> mine = this;
        mine.CopyTo(new Span<byte>(destination, 16));
    }

    /// <summary>The 32 upper-case hex digits of the bytes, as moduleinfo.json writes a class id.</summary>
    public readonly string ToHex()
    {
        ReadOnlySpan<byte> mine = this;
        return Convert.ToHexString(mine);
    }
}
