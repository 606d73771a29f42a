#!/usr/bin/env bash
# Makes the README's pictures from the project's own output: diffusion-studio generates hits with the shipped model
# and widens a mono phrase; tools/plot_audio.py draws them into docs/images/. Run after `bash installer/setup.sh`
# (it needs the Release build of diffusion-studio, models/drums and artifacts/demo/melody-mono.wav).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
STUDIO="$ROOT/studio/DiffusionPlugin.Studio/bin/Release/net10.0/diffusion-studio.dll"
WORK="$ROOT/artifacts/readme"
IMAGES="$ROOT/docs/images"
[ -f "$STUDIO" ] || { echo "make_readme_images: build first (bash installer/setup.sh)" >&2; exit 1; }
[ -f models/drums/manifest.json ] || { echo "make_readme_images: models/drums/manifest.json is missing" >&2; exit 1; }
studio() { dotnet "$STUDIO" "$@"; }
rm -rf "$WORK"; mkdir -p "$WORK" "$IMAGES"

# One hit of each of four classes from the same seed: what the model makes from noise.
for class in kick snare hihat_closed crash; do
  studio generate --class "$class" --count 1 --seed 7 --out "$WORK/classes" --force
done
mapfile -t hits < <(find "$WORK/classes" -name '*.wav' | sort)
/usr/bin/python3 tools/plot_audio.py hits "$IMAGES/generated-hits.png" "${hits[@]}" \
  --title "diffusion-studio generate --seed 7: one hit per class"

# Humanization: variations of one snare, as Diffusion Drums plays them.
studio generate --class snare --count 1 --seed 3 --out "$WORK/anchor" --force
anchor=$(find "$WORK/anchor" -name '*.wav' | sort | head -1)
studio vary "$anchor" --strength 0.35 --count 3 --seed 1 --out "$WORK/vary" --force
mapfile -t variations < <(find "$WORK/vary" -name '*.wav' | sort)
/usr/bin/python3 tools/plot_audio.py hits "$IMAGES/snare-variations.png" "$anchor" "${variations[@]}" \
  --title "a snare (left) and three variations at strength 0.35"

# The widener on a mono phrase.
source="$ROOT/artifacts/demo/melody-mono.wav"
[ -f "$source" ] || { echo "make_readme_images: $source is missing (bash installer/setup.sh makes it)" >&2; exit 1; }
studio widen "$source" "$WORK/melody-widened.wav" --width 1.0 --force
/usr/bin/python3 tools/plot_audio.py widen "$IMAGES/widened.png" "$source" "$WORK/melody-widened.wav" \
  --title "diffusion-studio widen --width 1.0: the mid stays the source, the side is generated"
ls -l "$IMAGES"
