#!/usr/bin/env python3
"""Writes the demo MIDI files that installer/setup.sh renders: groove.mid (4 bars of General MIDI drums, channel 10)
and melody.mid (4 bars of electric piano, for the widener demo). Deterministic; standard library only.

Usage: /usr/bin/python3 installer/demo/make_midi.py [OUT_DIR]   (default: this folder)
"""
import struct
import sys
from pathlib import Path

PPQ = 480                 # ticks per quarter note
BPM = 96
SIXTEENTH = PPQ // 4

# General MIDI percussion keys (channel 10).
KICK, RIM, SNARE, CLAP, HAT, OPEN_HAT, LOW_TOM, MID_TOM, HIGH_TOM, CRASH, RIDE = 36, 37, 38, 39, 42, 46, 45, 47, 50, 49, 51


def vlq(value: int) -> bytes:
    """MIDI variable-length quantity."""
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def track(notes, channel: int, program: int | None, name: str) -> bytes:
    """notes: (start_tick, duration_ticks, key, velocity). Returns one MTrk chunk with tempo, name and the notes."""
    events = []  # (tick, order, bytes): note-offs sort before note-ons at the same tick
    for start, dur, key, vel in notes:
        events.append((start, 1, bytes([0x90 | channel, key, vel])))
        events.append((start + dur, 0, bytes([0x80 | channel, key, 0])))
    events.sort(key=lambda e: (e[0], e[1]))
    tempo = 60_000_000 // BPM
    body = vlq(0) + b"\xff\x03" + vlq(len(name)) + name.encode()
    body += vlq(0) + b"\xff\x51\x03" + tempo.to_bytes(3, "big")
    body += vlq(0) + b"\xff\x58\x04\x04\x02\x18\x08"          # 4/4
    if program is not None:
        body += vlq(0) + bytes([0xC0 | channel, program])
    now = 0
    for tick, _, data in events:
        body += vlq(tick - now) + data
        now = tick
    body += vlq(0) + b"\xff\x2f\x00"
    return b"MTrk" + struct.pack(">I", len(body)) + body


def midi_file(chunk: bytes) -> bytes:
    return b"MThd" + struct.pack(">IHHH", 6, 0, 1, PPQ) + chunk


def groove():
    """Four bars: a backbeat with ghost notes, eighth-note hats with accents, an open hat, a tom fill and a crash."""
    notes = []
    bar = 16 * SIXTEENTH
    for b in range(4):
        t0 = b * bar
        hit = lambda step, key, vel, dur=SIXTEENTH: notes.append((t0 + step * SIXTEENTH, dur, key, vel))
        if b == 0:
            hit(0, CRASH, 112)
        for step in (0, 6, 10) if b % 2 == 0 else (0, 3, 8, 10):
            hit(step, KICK, 118 if step == 0 else 100)
        for step in (4, 12):
            if b == 3 and step == 12:
                break
            hit(step, SNARE, 116)
        for step in (7, 15) if b != 3 else (7,):
            hit(step, SNARE, 34)                               # ghost notes
        for step in range(0, 16, 2):
            if b == 3 and step >= 12:
                break
            if b == 1 and step == 14:
                hit(step, OPEN_HAT, 90, 2 * SIXTEENTH)
            else:
                hit(step, HAT, 96 if step % 4 == 0 else 64)
        if b == 3:                                             # fill into the next bar
            for step, key, vel in ((12, HIGH_TOM, 100), (13, HIGH_TOM, 84), (14, MID_TOM, 104), (15, LOW_TOM, 112)):
                hit(step, key, vel)
    notes.append((4 * bar, SIXTEENTH, CRASH, 110))
    notes.append((4 * bar, SIXTEENTH, KICK, 118))
    return midi_file(track(notes, 9, None, "Demo groove"))


def melody():
    """Four bars of broken chords (Am, F, C, G) on an electric piano, a clear mono source to widen."""
    chords = [(57, 60, 64), (53, 57, 60), (48, 55, 64), (55, 59, 62)]
    notes = []
    bar = 16 * SIXTEENTH
    for b, chord in enumerate(chords):
        notes.append((b * bar, bar, chord[0] - 12, 84))
        pattern = (0, 1, 2, 1, 0, 2, 1, 2)
        for i, idx in enumerate(pattern):
            notes.append((b * bar + i * 2 * SIXTEENTH, 2 * SIXTEENTH, chord[idx] + 12, 70 + (10 if i % 2 == 0 else 0)))
    return midi_file(track(notes, 0, 4, "Demo melody"))


def main():
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent
    out.mkdir(parents=True, exist_ok=True)
    (out / "groove.mid").write_bytes(groove())
    (out / "melody.mid").write_bytes(melody())
    print(f"wrote {out / 'groove.mid'} and {out / 'melody.mid'}")


if __name__ == "__main__":
    main()
