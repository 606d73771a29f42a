using System.Text;

namespace DiffusionPlugin.Vst3.Interop;

/// <summary>Writes and reads the fixed-size strings of VST3 structs (char8 arrays and UTF-16 String128).</summary>
internal static unsafe class Strings
{
    /// <summary>Writes <paramref name="text"/> as a zero-terminated UTF-8 string into a char array of <paramref name="capacity"/> bytes.</summary>
    public static void WriteAscii(byte* destination, int capacity, string text)
    {
        var span = new Span<byte>(destination, capacity);
        span.Clear();
        int n = Encoding.UTF8.GetBytes(text.AsSpan(0, Math.Min(text.Length, capacity - 1)), span[..(capacity - 1)]);
        span[Math.Min(n, capacity - 1)] = 0;
    }

    /// <summary>Writes <paramref name="text"/> as a zero-terminated UTF-16 string into a char16 array of <paramref name="capacity"/> units.</summary>
    public static void WriteUtf16(char* destination, int capacity, string text)
    {
        var span = new Span<char>(destination, capacity);
        span.Clear();
        int n = Math.Min(text.Length, capacity - 1);
        text.AsSpan(0, n).CopyTo(span);
    }

    /// <summary>Reads a zero-terminated UTF-16 string of at most <paramref name="capacity"/> units.</summary>
    public static string ReadUtf16(char* source, int capacity)
    {
        if (source == null) return "";
        int n = 0;
        while (n < capacity && source[n] != '\0') n++;
        return new string(source, 0, n);
    }

    /// <summary>Reads a zero-terminated 8-bit string (FIDString).</summary>
    public static string ReadAscii(byte* source, int capacity = 1024)
    {
        if (source == null) return "";
        int n = 0;
        while (n < capacity && source[n] != 0) n++;
        return Encoding.UTF8.GetString(source, n);
    }
}
