#!/usr/bin/env bash
# Makes the README's pictures from the project's own output: diffusion-studio generates hits with the shipped model
# and widens a mono phrase; tools/plot_audio.py draws them into docs/images/. Run after `bash installer/setup.sh`
# (it needs the Release build of diffusion-studio). MODEL=path/to/manifest.json picks another model than models/drums.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
STUDIO="$ROOT/studio/DiffusionPlugin.Studio/bin/Release/net10.0/diffusion-studio.dll"
WORK="$ROOT/artifacts/readme"
IMAGES=${IMAGES:-$ROOT/docs/images}
[ -f "$STUDIO" ] || { echo "make_readme_images: build first (bash installer/setup.sh)" >&2; exit 1; }
MODEL=${MODEL:-$ROOT/models/drums/manifest.json}
[ -e "$MODEL" ] || { echo "make_readme_images: $MODEL is missing" >&2; exit 1; }
studio() { local cmd=$1; shift; dotnet "$STUDIO" "$cmd" --model "$MODEL" "$@"; }
rm -rf "$WORK"; mkdir -p "$WORK" "$IMAGES"

# One hit of each of four classes from the same seed: what the model makes from noise.
for class in kick snare hihat_closed crash; do
  studio generate --class "$class" --count 1 --seed 7 --out "$WORK/classes" --force
done
hits=()
for class in kick snare hihat_closed crash; do hits+=("$(find "$WORK/classes/$class" -name '*.wav' | sort | head -1)"); done
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
source="$WORK/melody-mono.wav"
bash installer/demo/render_melody.sh "$source"
studio widen "$source" "$WORK/melody-widened.wav" --width 1.0 --force
/usr/bin/python3 tools/plot_audio.py widen "$IMAGES/widened.png" "$source" "$WORK/melody-widened.wav" \
  --title "diffusion-studio widen --width 1.0: the mid stays the source, the side is generated"
ls -l "$IMAGES"
