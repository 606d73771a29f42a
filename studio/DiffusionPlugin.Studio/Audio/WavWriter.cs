using System.Buffers.Binary;
using System.Text;

namespace DiffusionPlugin.Studio.Audio;

/// <summary>Sample encodings the studio writes.</summary>
public enum WavSampleFormat
{
    /// <summary>IEEE 32-bit float (format tag 3): lossless for the engine's output, values past ±1 survive.</summary>
    Float32 = 32,
    /// <summary>24-bit integer PCM: what most samplers import; values are clipped to ±1.</summary>
    Pcm24 = 24,
}

/// <summary>
/// Writes RIFF/WAVE files with the studio's metadata: a LIST/INFO chunk (ICMT = how to reproduce the file, ISFT = the
/// tool) read by most editors, and a private 'dfsn' chunk holding the same facts as one line of JSON for scripts.
/// Written by hand because NAudio's writer cannot place extra chunks. Any thread; no shared state.
/// </summary>
public static class WavWriter
{
    /// <summary>Id of the studio's private metadata chunk.</summary>
    public const string MetadataChunkId = "dfsn";

    /// <summary>
    /// Encodes interleaved audio (<paramref name="channels"/> samples a frame) into <paramref name="stream"/>.
    /// <paramref name="comment"/> goes into LIST/INFO/ICMT, <paramref name="metadataJson"/> into the 'dfsn' chunk.
    /// </summary>
    public static void Write(Stream stream, ReadOnlySpan<float> interleaved, int channels, int sampleRateHz,
                             WavSampleFormat format, string comment, string metadataJson)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(channels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(sampleRateHz, 1);
        if (interleaved.Length % channels != 0)
            throw new ArgumentException("sample count is not a whole number of frames", nameof(interleaved));

        int bytesPerSample = format == WavSampleFormat.Float32 ? 4 : 3;
        long frames = interleaved.Length / channels;
        long dataBytes = interleaved.Length * (long)bytesPerSample;

        byte[] list = BuildInfoList(comment);
        byte[] meta = Encoding.UTF8.GetBytes(metadataJson);
        bool isFloat = format == WavSampleFormat.Float32;

        // fmt (18 bytes for float: cbSize = 0, as the spec asks for non-PCM tags) + fact for non-PCM.
        int fmtSize = isFloat ? 18 : 16;
        long riffSize = 4 + (8 + fmtSize) + (isFloat ? 8 + 4 : 0) + Chunk(list.Length) + Chunk(meta.Length)
                        + 8 + dataBytes + (dataBytes & 1);
        if (riffSize > uint.MaxValue) throw new IOException("audio too long for a RIFF file (over 4 GiB)");

        using var w = new BinaryWriter(stream, Encoding.ASCII, leaveOpen: true);
        w.Write("RIFF"u8); w.Write((uint)riffSize); w.Write("WAVE"u8);

        w.Write("fmt "u8); w.Write(fmtSize);
        w.Write((ushort)(isFloat ? 3 : 1));
        w.Write((ushort)channels);
        w.Write(sampleRateHz);
        w.Write(sampleRateHz * channels * bytesPerSample);
        w.Write((ushort)(channels * bytesPerSample));
        w.Write((ushort)(bytesPerSample * 8));
        if (isFloat) w.Write((ushort)0);

        if (isFloat) { w.Write("fact"u8); w.Write(4); w.Write((uint)frames); }

        WriteChunk(w, "LIST", list);
        WriteChunk(w, MetadataChunkId, meta);

        w.Write("data"u8); w.Write((uint)dataBytes);
        var buffer = new byte[Math.Min(interleaved.Length, 16384) * bytesPerSample];
        for (int start = 0; start < interleaved.Length; start += 16384)
        {
            int n = Math.Min(16384, interleaved.Length - start);
            var src = interleaved.Slice(start, n);
            if (isFloat)
            {
                for (int i = 0; i < n; i++) BinaryPrimitives.WriteSingleLittleEndian(buffer.AsSpan(i * 4), src[i]);
            }
            else
            {
                for (int i = 0; i < n; i++)
                {
                    float s = src[i];
                    if (float.IsNaN(s)) s = 0f;
                    int v = (int)Math.Round(Math.Clamp(s, -1f, 1f) * 8388607.0);
                    buffer[i * 3] = (byte)v; buffer[i * 3 + 1] = (byte)(v >> 8); buffer[i * 3 + 2] = (byte)(v >> 16);
                }
            }
            w.Write(buffer, 0, n * bytesPerSample);
        }
        if ((dataBytes & 1) != 0) w.Write((byte)0);
    }

    /// <summary>Writes the file at <paramref name="path"/> (callers pass a temporary path and rename it afterwards).</summary>
    public static void Write(string path, ReadOnlySpan<float> interleaved, int channels, int sampleRateHz,
                             WavSampleFormat format, string comment, string metadataJson)
    {
        using var fs = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None);
        Write(fs, interleaved, channels, sampleRateHz, format, comment, metadataJson);
        fs.Flush(flushToDisk: true);
    }

    static long Chunk(int payload) => 8 + payload + (payload & 1);

    static void WriteChunk(BinaryWriter w, string id, byte[] payload)
    {
        w.Write(Encoding.ASCII.GetBytes(id)); w.Write(payload.Length); w.Write(payload);
        if ((payload.Length & 1) != 0) w.Write((byte)0);
    }

    static byte[] BuildInfoList(string comment)
    {
        using var ms = new MemoryStream();
        using (var w = new BinaryWriter(ms, Encoding.ASCII, leaveOpen: true))
        {
            w.Write("INFO"u8);
            WriteChunk(w, "ICMT", ZeroTerminated(comment));
            WriteChunk(w, "ISFT", ZeroTerminated("diffusion-studio"));
        }
        return ms.ToArray();
    }

    static byte[] ZeroTerminated(string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        Array.Resize(ref bytes, bytes.Length + 1);
        return bytes;
    }
}
