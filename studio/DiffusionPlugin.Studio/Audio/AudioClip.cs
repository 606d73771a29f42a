using System.Text;
using NAudio.Wave;

namespace DiffusionPlugin.Studio.Audio;

/// <summary>Audio held in memory: one array per channel, at <see cref="SampleRateHz"/>.</summary>
public sealed class AudioClip
{
    public AudioClip(float[][] channelData, int sampleRateHz)
    {
        if (channelData.Length == 0) throw new ArgumentException("a clip needs at least one channel");
        Channels = channelData;
        SampleRateHz = sampleRateHz;
    }

    /// <summary>Samples per channel; every channel has <see cref="Frames"/> samples.</summary>
    public float[][] Channels { get; }
    public int SampleRateHz { get; }
    public int ChannelCount => Channels.Length;
    public int Frames => Channels[0].Length;
    public double DurationSeconds => (double)Frames / SampleRateHz;

    /// <summary>
    /// Reads a WAV file (PCM 8/16/24/32-bit, IEEE float, WAVE_FORMAT_EXTENSIBLE). Throws <see cref="StudioException"/>
    /// with one line naming the file when it is missing, not a WAV, empty, or holds NaN/Inf samples.
    /// </summary>
    public static AudioClip ReadWav(string path)
    {
        if (Directory.Exists(path)) throw new StudioException($"{path}: is a folder, not a WAV file");
        if (!File.Exists(path)) throw new StudioException($"{path}: file not found");
        float[][] data;
        int rate;
        try
        {
            using var reader = new WaveFileReader(path);
            var fmt = reader.WaveFormat;
            if (fmt.Channels < 1 || fmt.SampleRate < 1) throw new StudioException($"{path}: WAV header has {fmt.Channels} channels at {fmt.SampleRate} Hz");
            ISampleProvider provider;
            try { provider = reader.ToSampleProvider(); }
            catch (ArgumentException e) { throw new StudioException($"{path}: unsupported WAV encoding {fmt.Encoding}, {fmt.BitsPerSample}-bit ({e.Message})"); }
            int ch = fmt.Channels;
            rate = fmt.SampleRate;
            var interleaved = new List<float>(checked((int)Math.Min(reader.SampleCount * ch, int.MaxValue / 2)));
            var buf = new float[4096 * ch];
            int n;
            while ((n = provider.Read(buf, 0, buf.Length)) > 0)
                for (int i = 0; i < n; i++) interleaved.Add(buf[i]);
            int frames = interleaved.Count / ch;
            data = new float[ch][];
            for (int c = 0; c < ch; c++)
            {
                data[c] = new float[frames];
                for (int f = 0; f < frames; f++) data[c][f] = interleaved[f * ch + c];
            }
        }
        catch (StudioException) { throw; }
        catch (FormatException e) { throw new StudioException($"{path}: not a WAV file ({e.Message.TrimEnd('.')})"); }
        catch (EndOfStreamException) { throw new StudioException($"{path}: not a WAV file (truncated header)"); }
        catch (InvalidDataException e) { throw new StudioException($"{path}: not a WAV file ({e.Message.TrimEnd('.')})"); }
        catch (UnauthorizedAccessException) { throw new StudioException($"{path}: permission denied"); }
        catch (IOException e) { throw new StudioException($"{path}: cannot read ({e.Message.TrimEnd('.')})"); }

        if (data[0].Length == 0) throw new StudioException($"{path}: holds no audio (0 frames)");
        for (int c = 0; c < data.Length; c++)
            for (int f = 0; f < data[c].Length; f++)
                if (!float.IsFinite(data[c][f]))
                    throw new StudioException($"{path}: sample {f} of channel {c + 1} is {data[c][f]} (NaN/Inf audio is refused)");
        return new AudioClip(data, rate);
    }

    /// <summary>The average of all channels (a stereo file mixed to mono).</summary>
    public float[] MixToMono()
    {
        if (ChannelCount == 1) return (float[])Channels[0].Clone();
        var mono = new float[Frames];
        float scale = 1f / ChannelCount;
        foreach (var ch in Channels)
            for (int f = 0; f < mono.Length; f++) mono[f] += ch[f];
        for (int f = 0; f < mono.Length; f++) mono[f] *= scale;
        return mono;
    }

    /// <summary>
    /// Resamples one channel by band-limited (windowed-sinc) interpolation: zero-phase, so time positions are kept
    /// (an inpainting span in seconds lands on the same audio), and deterministic. The result has
    /// round(frames · to / from) samples; when downsampling, the kernel is widened to filter below the new Nyquist.
    /// </summary>
    public static float[] Resample(float[] samples, int fromHz, int toHz)
    {
        if (fromHz == toHz) return (float[])samples.Clone();
        int outFrames = (int)Math.Round((double)samples.Length * toHz / fromHz);
        var result = new float[outFrames];
        double step = (double)fromHz / toHz;
        double cutoff = Math.Min(1.0, (double)toHz / fromHz) * 0.95; // fraction of the source Nyquist kept
        const int zeroCrossings = 24;
        int halfWidth = (int)Math.Ceiling(zeroCrossings / cutoff);
        for (int o = 0; o < outFrames; o++)
        {
            double p = o * step;
            int centre = (int)Math.Floor(p);
            double acc = 0, norm = 0;
            for (int k = centre - halfWidth + 1; k <= centre + halfWidth; k++)
            {
                double d = p - k;
                double x = d * cutoff;
                double sinc = Math.Abs(x) < 1e-12 ? 1.0 : Math.Sin(Math.PI * x) / (Math.PI * x);
                double w = d / halfWidth;
                if (Math.Abs(w) >= 1) continue;
                double window = 0.42 + 0.5 * Math.Cos(Math.PI * w) + 0.08 * Math.Cos(2 * Math.PI * w); // Blackman
                double tap = sinc * window;
                norm += tap;
                if (k >= 0 && k < samples.Length) acc += samples[k] * tap;
            }
            // Normalising by the full kernel's sum (including taps past the ends) keeps DC gain 1 without lifting the edges.
            result[o] = (float)(acc / norm);
        }
        return result;
    }

    /// <summary>Mono audio ready for the model: mixed down and resampled to <paramref name="modelRateHz"/>.</summary>
    public float[] ToModelMono(int modelRateHz) => Resample(MixToMono(), SampleRateHz, modelRateHz);

}

/// <summary>Reads the RIFF chunks of a WAV file, for the studio's metadata. Any thread.</summary>
public static class WavMetadata
{
    /// <summary>Every top-level chunk (id → payload), and the sub-chunks of LIST/INFO as "INFO/ICMT" etc.</summary>
    public static IReadOnlyDictionary<string, byte[]> ReadChunks(string path)
    {
        var chunks = new Dictionary<string, byte[]>();
        using var r = new BinaryReader(File.OpenRead(path));
        if (Encoding.ASCII.GetString(r.ReadBytes(4)) != "RIFF") throw new InvalidDataException("no RIFF header");
        r.ReadUInt32();
        if (Encoding.ASCII.GetString(r.ReadBytes(4)) != "WAVE") throw new InvalidDataException("not WAVE");
        while (r.BaseStream.Position + 8 <= r.BaseStream.Length)
        {
            string id = Encoding.ASCII.GetString(r.ReadBytes(4));
            uint size = r.ReadUInt32();
            byte[] payload = r.ReadBytes((int)Math.Min(size, r.BaseStream.Length - r.BaseStream.Position));
            if ((size & 1) != 0 && r.BaseStream.Position < r.BaseStream.Length) r.ReadByte();
            chunks[id] = payload;
            if (id == "LIST" && payload.Length >= 4 && Encoding.ASCII.GetString(payload, 0, 4) == "INFO")
            {
                int p = 4;
                while (p + 8 <= payload.Length)
                {
                    string sub = Encoding.ASCII.GetString(payload, p, 4);
                    int len = BitConverter.ToInt32(payload, p + 4);
                    len = Math.Min(len, payload.Length - p - 8);
                    chunks["INFO/" + sub] = payload.AsSpan(p + 8, len).ToArray();
                    p += 8 + len + (len & 1);
                }
            }
        }
        return chunks;
    }

    /// <summary>The 'dfsn' chunk as a string (JSON), or null when the file has none.</summary>
    public static string? ReadStudioJson(string path) =>
        ReadChunks(path).TryGetValue(WavWriter.MetadataChunkId, out var b) ? Encoding.UTF8.GetString(b) : null;

    /// <summary>The LIST/INFO/ICMT comment without its terminating zero, or null.</summary>
    public static string? ReadComment(string path) =>
        ReadChunks(path).TryGetValue("INFO/ICMT", out var b) ? Encoding.UTF8.GetString(b).TrimEnd('\0') : null;
}
