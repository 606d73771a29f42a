using DiffusionPlugin.Engine.Realtime;

namespace DiffusionPlugin.Engine.Tests.Realtime;

public class SpscRingTests
{
    [Fact]
    public void Ten_million_items_cross_two_threads_none_lost_duplicated_or_reordered()
    {
        const long total = 10_000_000;
        var ring = new SpscRing<long>(1024);
        long received = 0, errors = 0;
        var consumer = new Thread(() =>
        {
            Span<long> batch = stackalloc long[37];
            long expected = 0;
            while (expected < total)
            {
                // Alternate single reads and batch reads so both paths (and wrap-around) are exercised.
                if ((expected & 1) == 0 && ring.TryRead(out long one))
                {
                    if (one != expected) errors++;
                    expected++;
                    continue;
                }
                int n = ring.Read(batch);
                for (int i = 0; i < n; i++) { if (batch[i] != expected) errors++; expected++; }
                if (n == 0) Thread.SpinWait(8);
            }
            received = expected;
        });
        consumer.Start();
        Span<long> chunk = stackalloc long[53];
        long next = 0;
        while (next < total)
        {
            if ((next % 3) == 0)
            {
                if (ring.TryWrite(next)) next++; else Thread.SpinWait(8);
                continue;
            }
            int want = (int)Math.Min(chunk.Length, total - next);
            for (int i = 0; i < want; i++) chunk[i] = next + i;
            int written = ring.Write(chunk[..want]);
            next += written;
            if (written == 0) Thread.SpinWait(8);
        }
        Assert.True(consumer.Join(TimeSpan.FromSeconds(60)), "consumer did not finish");
        Assert.Equal(0, errors);
        Assert.Equal(total, received);
        Assert.Equal(0, ring.Count);
    }

    [Fact]
    public void Capacity_rounds_up_to_a_power_of_two_and_a_full_ring_refuses_more()
    {
        var ring = new SpscRing<int>(5);
        Assert.Equal(8, ring.Capacity);
        for (int i = 0; i < 8; i++) Assert.True(ring.TryWrite(i));
        Assert.False(ring.TryWrite(99));
        Assert.Equal(0, ring.Write([1, 2, 3]));
        Assert.True(ring.TryRead(out int first));
        Assert.Equal(0, first);
        Assert.True(ring.TryWrite(8));
        var rest = new int[16];
        Assert.Equal(8, ring.Read(rest));
        Assert.Equal(Enumerable.Range(1, 8), rest[..8]);
        Assert.False(ring.TryRead(out _));
    }

    [Fact]
    public void Batch_writes_that_wrap_keep_their_order()
    {
        var ring = new SpscRing<float>(8);
        var buffer = new float[8];
        float next = 0, expect = 0;
        for (int round = 0; round < 100; round++)
        {
            var items = new float[5];
            for (int i = 0; i < 5; i++) items[i] = next + i;
            Assert.Equal(5, ring.Write(items));
            next += 5;
            int n = ring.Read(buffer);
            Assert.Equal(5, n);
            for (int i = 0; i < n; i++) Assert.Equal(expect++, buffer[i]);
        }
    }

    [Fact]
    public void Writing_and_reading_allocate_nothing_after_construction()
    {
        var ring = new SpscRing<int>(64);
        var buf = new int[16];
        // The warm-up runs the same loop as the measurement, so the JIT's tiering and on-stack replacement of a long
        // loop (which can allocate on this thread, seen once on a loaded machine) happen before it, not in it.
        Exercise(ring, buf, 100_000);
        long before = GC.GetAllocatedBytesForCurrentThread();
        Exercise(ring, buf, 100_000);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    private static void Exercise(SpscRing<int> ring, int[] buf, int rounds)
    {
        for (int i = 0; i < rounds; i++) { ring.TryWrite(i); ring.TryRead(out _); ring.Write(buf); ring.Read(buf); }
    }

    [Fact]
    public void A_capacity_outside_one_to_two_to_the_thirty_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new SpscRing<int>(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SpscRing<int>(-4));
    }
}
