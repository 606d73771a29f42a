#!/usr/bin/env bash
# Renders installer/demo/melody.mid to a mono 32-bit float WAV: the widener demo's source.
# fluidsynth plays it with reverb and chorus off (the stereo image should be the widener's alone); numpy folds it to
# mono. Usage: bash installer/demo/render_melody.sh OUT.wav
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$1
SF2=/usr/share/sounds/sf2/FluidR3_GM.sf2
command -v fluidsynth >/dev/null || { echo "render_melody: fluidsynth is missing (sudo apt-get install fluidsynth)" >&2; exit 1; }
[ -f "$SF2" ] || { echo "render_melody: $SF2 is missing (sudo apt-get install fluid-soundfont-gm)" >&2; exit 1; }
tmp=$(mktemp --suffix=.wav); trap 'rm -f "$tmp"' EXIT
fluidsynth -ni -q -R 0 -C 0 -g 0.8 -r 44100 -F "$tmp" "$SF2" "$HERE/melody.mid" >/dev/null
/usr/bin/python3 - "$tmp" "$OUT" <<'PY'
import sys, numpy as np, soundfile as sf
x, rate = sf.read(sys.argv[1], dtype="float32", always_2d=True)
sf.write(sys.argv[2], x.mean(axis=1), rate, subtype="FLOAT")
PY
