using System.Buffers.Binary;

namespace DiffusionPlugin.Vst3.Tests.Ardour;

/// <summary>Reads RIFF/WAVE files (PCM 16/24/32 bit, IEEE float, extensible), skipping chunks it does not need (bext, ...).</summary>
internal static class WavFile
{
    public static (float[][] Channels, int SampleRateHz) Read(string path)
    {
        var b = File.ReadAllBytes(path);
        if (b.Length < 12 || b[0] != 'R' || b[1] != 'I' || b[2] != 'F' || b[3] != 'F' || b[8] != 'W' || b[9] != 'A')
            throw new InvalidDataException($"{path}: not a RIFF/WAVE file");
        int format = 0, channels = 0, rate = 0, bits = 0;
        int at = 12;
        while (at + 8 <= b.Length)
        {
            string id = System.Text.Encoding.ASCII.GetString(b, at, 4);
            int size = BinaryPrimitives.ReadInt32LittleEndian(b.AsSpan(at + 4));
            int body = at + 8;
            if (id == "fmt ")
            {
                format = BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(body));
                channels = BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(body + 2));
                rate = BinaryPrimitives.ReadInt32LittleEndian(b.AsSpan(body + 4));
                bits = BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(body + 14));
                if (format == 0xFFFE) format = BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(body + 24));
            }
            else if (id == "data")
            {
                if (channels == 0) throw new InvalidDataException($"{path}: data before fmt");
                int bytesPerSample = bits / 8;
                int frames = Math.Min(size, b.Length - body) / (bytesPerSample * channels);
                var result = Enumerable.Range(0, channels).Select(_ => new float[frames]).ToArray();
                for (int f = 0; f < frames; f++)
                    for (int c = 0; c < channels; c++)
                    {
                        var s = b.AsSpan(body + (f * channels + c) * bytesPerSample, bytesPerSample);
                        result[c][f] = (format, bits) switch
                        {
                            (3, 32) => BinaryPrimitives.ReadSingleLittleEndian(s),
                            (1, 16) => BinaryPrimitives.ReadInt16LittleEndian(s) / 32768f,
                            (1, 24) => ((s[0] << 8 | s[1] << 16 | s[2] << 24) >> 8) / 8388608f,
                            (1, 32) => BinaryPrimitives.ReadInt32LittleEndian(s) / 2147483648f,
                            _ => throw new InvalidDataException($"{path}: unsupported format {format}/{bits} bit"),
                        };
                    }
                return (result, rate);
            }
            at = body + size + (size & 1);
        }
        throw new InvalidDataException($"{path}: no data chunk");
    }
}
