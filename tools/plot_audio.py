#!/usr/bin/env python3
"""Pictures of the project's audio for the README: waveforms and spectrograms.

  /usr/bin/python3 tools/plot_audio.py hits OUT.png HIT.wav [HIT.wav ...] [--title T]
      one column per file: waveform above, spectrogram below (generated drum hits, variations of one note)
  /usr/bin/python3 tools/plot_audio.py widen OUT.png SOURCE.wav WIDENED.wav [--title T]
      source vs widened: mid (should be the source) and side (what the widener added), their spectrograms,
      and the figures that tell whether the mono sum stayed the original

Uses Debian's python3-numpy, python3-soundfile and python3-matplotlib; draws off-screen (Agg).
"""
import argparse
import os
import sys

import numpy as np
import soundfile as sf

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)

FLOOR_DB = -100.0


def read_channels(path):
    """Returns (channels [n_channels, frames] float32, sample rate in Hz)."""
    audio, rate_hz = sf.read(path, dtype="float32", always_2d=True)
    return audio.T, rate_hz


def to_mono(channels):
    return channels.mean(axis=0)


def stft_db(signal, rate_hz, window_samples=1024, hop_samples=256):
    """Magnitude spectrogram in dB re full scale. Returns (db [bins, frames], times_s, freqs_hz)."""
    if len(signal) < window_samples:
        signal = np.pad(signal, (0, window_samples - len(signal)))
    window = np.hanning(window_samples).astype(np.float32)
    frames = 1 + (len(signal) - window_samples) // hop_samples
    idx = np.arange(window_samples)[None, :] + hop_samples * np.arange(frames)[:, None]
    spectrum = np.fft.rfft(signal[idx] * window, axis=1)                     # [frames, bins]
    magnitude = np.abs(spectrum) / (window.sum() / 2)
    db = 20 * np.log10(np.maximum(magnitude, 10 ** (FLOOR_DB / 20)))
    times_s = (np.arange(frames) * hop_samples + window_samples / 2) / rate_hz
    freqs_hz = np.fft.rfftfreq(window_samples, 1 / rate_hz)
    return db.T, times_s, freqs_hz


def mid_side(channels):
    """Stereo → (mid, side) with mid = (L + R) / 2, side = (L − R) / 2; mono gives side = 0."""
    if channels.shape[0] == 1:
        return channels[0], np.zeros_like(channels[0])
    left, right = channels[0], channels[1]
    return (left + right) / 2, (left - right) / 2


def rms_db(x):
    return 20 * np.log10(max(float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))), 1e-10))


def correlation(left, right):
    """Inter-channel correlation: 1 = mono, 0 = unrelated, −1 = out of phase."""
    l, r = left - left.mean(), right - right.mean()
    denom = np.sqrt(np.sum(l * l) * np.sum(r * r))
    return float(np.sum(l * r) / denom) if denom > 0 else 1.0


def widen_figures(source, widened):
    """Numbers that say what the widener did: how far the mid strays from the source, how loud the side is."""
    src = to_mono(source)
    mid, side = mid_side(widened)
    n = min(len(src), len(mid))
    src, mid, side = src[:n], mid[:n], side[:n]
    return {
        "mid_vs_source_max_abs": float(np.max(np.abs(mid - src))) if n else 0.0,
        "side_rms_db": rms_db(side),
        "source_rms_db": rms_db(src),
        "correlation": correlation(widened[0][:n], widened[-1][:n]),
    }


def draw_spectrogram(ax, signal, rate_hz, max_hz=None):
    db, t, f = stft_db(signal, rate_hz)
    top = max_hz or rate_hz / 2
    keep = f <= top
    image = ax.pcolormesh(t, f[keep] / 1000, db[keep], shading="auto", cmap="magma", vmin=-90, vmax=-10)
    ax.set_ylabel("kHz")
    ax.set_xlabel("s")
    return image


def plot_hits(out_png, paths, title=None):
    n = len(paths)
    fig, axes = plt.subplots(2, n, figsize=(max(2.6 * n, 6), 4.6), squeeze=False, sharey="row")
    image = None
    for i, path in enumerate(paths):
        channels, rate_hz = read_channels(path)
        signal = to_mono(channels)
        t = np.arange(len(signal)) / rate_hz
        ax = axes[0][i]
        ax.plot(t, signal, lw=0.6, color="#1f4e79")
        ax.set_ylim(-1, 1)
        ax.set_title(os.path.splitext(os.path.basename(path))[0], fontsize=9)
        ax.set_xlim(0, t[-1] if len(t) else 1)
        ax.tick_params(labelsize=7)
        image = draw_spectrogram(axes[1][i], signal, rate_hz, max_hz=16000)
        axes[1][i].tick_params(labelsize=7)
        if i:
            axes[1][i].set_ylabel("")
    axes[0][0].set_ylabel("amplitude")
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    if image is not None:
        fig.colorbar(image, ax=axes[1].tolist(), label="dBFS", shrink=0.9, pad=0.01)
    fig.savefig(out_png, dpi=110)
    plt.close(fig)


def plot_widen(out_png, source_path, widened_path, title=None):
    source, rate_hz = read_channels(source_path)
    widened, widened_rate_hz = read_channels(widened_path)
    if widened_rate_hz != rate_hz:
        raise SystemExit(f"{widened_path}: {widened_rate_hz} Hz, but {source_path} is {rate_hz} Hz")
    figures = widen_figures(source, widened)
    src = to_mono(source)
    mid, side = mid_side(widened)
    t = np.arange(len(mid)) / rate_hz

    fig, axes = plt.subplots(3, 2, figsize=(11, 7), gridspec_kw={"width_ratios": [3, 1]})
    ax = axes[0][0]
    ax.plot(np.arange(len(src)) / rate_hz, src, lw=0.5, color="#888888", label="source (mono)")
    ax.plot(t, mid, lw=0.5, color="#1f4e79", alpha=0.7, label="widened: mid (L+R)/2")
    ax.set_title(f"mid vs source: max |difference| = {figures['mid_vs_source_max_abs']:.2e}", fontsize=9)
    ax.legend(fontsize=7, loc="upper right")
    ax = axes[1][0]
    ax.plot(t, side, lw=0.5, color="#b03a2e")
    ax.set_title(f"side (L−R)/2: {figures['side_rms_db']:.1f} dB RMS "
                 f"(source {figures['source_rms_db']:.1f} dB); L/R correlation {figures['correlation']:.2f}",
                 fontsize=9)
    for a in axes[0][0], axes[1][0]:
        a.set_xlim(0, t[-1] if len(t) else 1)
        a.tick_params(labelsize=7)
    draw_spectrogram(axes[2][0], side, rate_hz, max_hz=16000)
    axes[2][0].set_title("side spectrogram", fontsize=9)
    axes[2][0].tick_params(labelsize=7)

    # Goniometer-style scatter: a mono file is a vertical line, a wide one a cloud.
    step = max(1, len(mid) // 20000)
    for row, (name, l, r) in enumerate((("source", src, src), ("widened", widened[0], widened[-1]))):
        ax = axes[row][1]
        ax.scatter((l[::step] - r[::step]) / 2, (l[::step] + r[::step]) / 2, s=0.2, alpha=0.3,
                   color="#1f4e79" if row else "#888888")
        lim = max(1e-3, float(np.max(np.abs(np.concatenate([l, r])))))
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_aspect("equal")
        ax.set_title(f"{name}: side → / mid ↑", fontsize=9)
        ax.tick_params(labelsize=6)
    axes[2][1].axis("off")
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    fig.savefig(out_png, dpi=110)
    plt.close(fig)
    return figures


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    hits = sub.add_parser("hits", help="waveform + spectrogram per file")
    hits.add_argument("out_png")
    hits.add_argument("wavs", nargs="+")
    hits.add_argument("--title")
    widen = sub.add_parser("widen", help="source vs widened file: mid, side, correlation")
    widen.add_argument("out_png")
    widen.add_argument("source")
    widen.add_argument("widened")
    widen.add_argument("--title")
    args = parser.parse_args(argv)
    for path in getattr(args, "wavs", None) or [args.source, args.widened]:
        if not os.path.isfile(path):
            parser.error(f"{path}: no such file")
    if args.command == "hits":
        plot_hits(args.out_png, args.wavs, args.title)
        print(f"wrote {args.out_png}")
    else:
        figures = plot_widen(args.out_png, args.source, args.widened, args.title)
        print(f"wrote {args.out_png}: " + ", ".join(f"{k} {v:.4g}" for k, v in figures.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
