"""tools/plot_audio.py: the README pictures and the figures printed with them."""
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
import plot_audio  # noqa: E402

RATE_HZ = 44100


def tone(seconds=0.5, hz=220.0):
    t = np.arange(int(seconds * RATE_HZ)) / RATE_HZ
    return (0.5 * np.sin(2 * np.pi * hz * t) * np.exp(-4 * t)).astype(np.float32)


def test_mid_side_of_a_mono_signal_in_two_channels_has_silent_side():
    x = tone()
    mid, side = plot_audio.mid_side(np.stack([x, x]))
    assert np.array_equal(mid, x)
    assert not side.any()


def test_widen_figures_see_an_untouched_mid_and_a_quieter_side():
    x = tone()
    s = 0.1 * np.roll(x, 100)
    widened = np.stack([x + s, x - s])
    figures = plot_audio.widen_figures(x[None, :], widened)
    assert figures["mid_vs_source_max_abs"] < 1e-6
    assert figures["side_rms_db"] == pytest.approx(plot_audio.rms_db(x) - 20, abs=0.5)
    assert 0 < figures["correlation"] < 1


def test_widen_figures_notice_a_mid_that_strays_from_the_source():
    x = tone()
    figures = plot_audio.widen_figures(x[None, :], np.stack([0.5 * x, 0.5 * x]))
    assert figures["mid_vs_source_max_abs"] == pytest.approx(np.abs(x).max() / 2, rel=1e-5)
    assert figures["correlation"] == pytest.approx(1.0)


def test_spectrogram_peaks_at_the_tone_frequency():
    db, _, freqs = plot_audio.stft_db(tone(hz=1000.0), RATE_HZ)
    assert freqs[np.argmax(db.mean(axis=1))] == pytest.approx(1000.0, abs=RATE_HZ / 1024)


def test_the_command_line_draws_pngs_for_hits_and_for_a_widened_file(tmp_path):
    hits = []
    for i, hz in enumerate((60.0, 200.0)):
        path = tmp_path / f"hit{i}.wav"
        sf.write(path, tone(hz=hz), RATE_HZ)
        hits.append(str(path))
    x = tone(seconds=1.0)
    sf.write(tmp_path / "wide.wav", np.stack([x * 1.1, x * 0.9], axis=1), RATE_HZ)
    assert plot_audio.main(["hits", str(tmp_path / "hits.png"), *hits]) == 0
    assert plot_audio.main(["widen", str(tmp_path / "widen.png"), hits[0], str(tmp_path / "wide.wav")]) == 0
    for png in ("hits.png", "widen.png"):
        assert (tmp_path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_widen_refuses_files_at_different_sample_rates(tmp_path):
    sf.write(tmp_path / "a.wav", tone(), RATE_HZ)
    sf.write(tmp_path / "b.wav", tone(), 48000)
    with pytest.raises(SystemExit, match="48000 Hz"):
        plot_audio.main(["widen", str(tmp_path / "x.png"), str(tmp_path / "a.wav"), str(tmp_path / "b.wav")])
