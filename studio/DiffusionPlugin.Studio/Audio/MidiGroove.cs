using NAudio.Midi;

namespace DiffusionPlugin.Studio.Audio;

/// <summary>A note event of a groove, in seconds from the start.</summary>
public readonly record struct GrooveEvent(double TimeSeconds, bool IsNoteOn, int Note, int Velocity, int Channel);

/// <summary>
/// The notes of a standard MIDI file (all tracks, all channels) on one time line in seconds, with the file's tempo map
/// applied. Note-ons with velocity 0 are note-offs, as the MIDI spec says.
/// </summary>
public sealed class MidiGroove
{
    public IReadOnlyList<GrooveEvent> Events { get; }
    public int NoteCount { get; }
    public double DurationSeconds => Events.Count == 0 ? 0 : Events[^1].TimeSeconds;

    MidiGroove(List<GrooveEvent> events)
    {
        Events = events;
        NoteCount = events.Count(e => e.IsNoteOn);
    }

    /// <summary>Reads <paramref name="path"/>; throws <see cref="StudioException"/> naming the file when it is missing, not MIDI, or has no notes.</summary>
    public static MidiGroove Read(string path)
    {
        if (!File.Exists(path)) throw new StudioException($"{path}: file not found");
        MidiFile midi;
        try { midi = new MidiFile(path, strictChecking: false); }
        catch (Exception e) when (e is FormatException or InvalidDataException or EndOfStreamException or ArgumentException or IndexOutOfRangeException)
        {
            throw new StudioException($"{path}: not a standard MIDI file ({e.Message.TrimEnd('.')})");
        }
        catch (IOException e) { throw new StudioException($"{path}: cannot read ({e.Message.TrimEnd('.')})"); }

        int ppq = midi.DeltaTicksPerQuarterNote;
        if (ppq <= 0 || (ppq & 0x8000) != 0) throw new StudioException($"{path}: SMPTE time division is not supported (use ticks per quarter note)");

        // Tempo map from every track (type-1 files keep it in track 0, but be lenient), default 120 BPM.
        var tempos = new List<(long tick, int microsPerQuarter)>();
        var raw = new List<(long tick, int order, bool on, int note, int velocity, int channel)>();
        int order = 0;
        for (int t = 0; t < midi.Tracks; t++)
        {
            foreach (var e in midi.Events[t])
            {
                if (e is TempoEvent tempo && tempo.MicrosecondsPerQuarterNote > 0)
                    tempos.Add((e.AbsoluteTime, tempo.MicrosecondsPerQuarterNote));
                else if (e is NoteOnEvent on && e.CommandCode == MidiCommandCode.NoteOn)
                    raw.Add((e.AbsoluteTime, order++, on.Velocity > 0, on.NoteNumber, on.Velocity, on.Channel));
                else if (e is NoteEvent off && e.CommandCode == MidiCommandCode.NoteOff)
                    raw.Add((e.AbsoluteTime, order++, false, off.NoteNumber, 0, off.Channel));
            }
        }
        if (!raw.Any(r => r.on)) throw new StudioException($"{path}: has no notes to play");
        tempos.Sort((a, b) => a.tick.CompareTo(b.tick));
        // Offs before ons at the same tick, so a retriggered note is not cut by its own previous off.
        raw.Sort((a, b) => a.tick != b.tick ? a.tick.CompareTo(b.tick) : a.on != b.on ? (a.on ? 1 : -1) : a.order.CompareTo(b.order));

        var events = new List<GrooveEvent>(raw.Count);
        foreach (var r in raw)
            events.Add(new GrooveEvent(TicksToSeconds(r.tick, tempos, ppq), r.on, r.note, r.velocity, r.channel));
        return new MidiGroove(events);
    }

    static double TicksToSeconds(long tick, List<(long tick, int microsPerQuarter)> tempos, int ppq)
    {
        double seconds = 0;
        long lastTick = 0;
        int micros = 500_000;
        foreach (var (t, m) in tempos)
        {
            if (t >= tick) break;
            seconds += (t - lastTick) * micros / 1e6 / ppq;
            lastTick = t;
            micros = m;
        }
        return seconds + (tick - lastTick) * micros / 1e6 / ppq;
    }
}
