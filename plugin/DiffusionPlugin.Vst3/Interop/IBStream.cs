namespace DiffusionPlugin.Vst3.Interop;

/// <summary>IBStream, called on a host's stream: read, write, seek, tell.</summary>
internal readonly unsafe struct IBStream
{
    public static readonly Tuid Iid = Tuid.FromWords(0xC3BF6EA2, 0x30994752, 0x9B6BF990, 0x1EE33E9B);

    private readonly void* _stream;
    public IBStream(void* stream) => _stream = stream;
    private nint* Vtbl => *(nint**)_stream;

    /// <summary>Reads up to buffer.Length bytes; returns how many arrived (0 at the end or on error).</summary>
    public int Read(Span<byte> buffer)
    {
        int read = 0;
        fixed (byte* p = buffer)
        {
            int r = ((delegate* unmanaged<void*, void*, int, int*, int>)Vtbl[3])(_stream, p, buffer.Length, &read);
            return r == Result.Ok ? Math.Clamp(read, 0, buffer.Length) : 0;
        }
    }

    /// <summary>Writes all of <paramref name="data"/>; false when the host took less.</summary>
    public bool Write(ReadOnlySpan<byte> data)
    {
        int written = 0;
        fixed (byte* p = data)
        {
            int r = ((delegate* unmanaged<void*, void*, int, int*, int>)Vtbl[4])(_stream, p, data.Length, &written);
            return r == Result.Ok && written == data.Length;
        }
    }

    /// <summary>Reads until the stream ends or <paramref name="limitBytes"/> is reached.</summary>
    public byte[] ReadToEnd(int limitBytes)
    {
        var all = new List<byte>();
        Span<byte> chunk = stackalloc byte[4096];
        while (all.Count < limitBytes)
        {
            int n = Read(chunk[..Math.Min(chunk.Length, limitBytes - all.Count)]);
            if (n <= 0) break;
            for (int i = 0; i < n; i++) all.Add(chunk[i]);
        }
        return all.ToArray();
    }
}
