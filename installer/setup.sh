#!/usr/bin/env bash
# The README's first command, for a fresh Debian/Ubuntu machine: installs what is needed (apt packages, NuGet
# restore), builds, installs the plugin (installer/install.sh; options such as --system or --cuda are passed on) and
# renders the demos into artifacts/demo/: a MIDI groove through Diffusion Drums, and that groove plus a mono
# electric-piano phrase through Diffusion Widener. A step whose piece is missing is skipped with a message.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
case "${1:-}" in
  -h|--help)
    echo "Usage: bash installer/setup.sh [install.sh options, e.g. --system --cuda]"
    echo "Installs apt packages and NuGet packages, builds, installs the plugin, renders the demos into artifacts/demo/."
    exit 0 ;;
esac
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
start=$SECONDS
step() { echo; echo "== setup: $1 ($((SECONDS - start)) s)"; }
skipped=()
skip() { echo "setup: skipped: $1"; skipped+=("$1"); }

step "dependencies (installer/deps.sh)"
bash installer/deps.sh

step "build (dotnet build DiffusionPlugin.sln -c Release)"
dotnet build DiffusionPlugin.sln -c Release -v quiet -nologo

step "plugin (installer/install.sh $*)"
if [ -f plugin/build-bundle.sh ]; then
  bash installer/install.sh "$@"
  # Ardour's own VST3 scanner loads the bundle as Ardour will: a quick check that a real host sees both plugins.
  scanner=$(ls /usr/lib/ardour*/ardour-vst3-scanner 2>/dev/null | head -1 || true)
  if [ -n "$scanner" ] && [ -d artifacts/bundle/DiffusionPlugin.vst3 ]; then
    scan_cache=$(mktemp -d)
    found=$(XDG_CACHE_HOME="$scan_cache" LD_LIBRARY_PATH="$(dirname "$scanner")" timeout 120 "$scanner" -f \
              artifacts/bundle/DiffusionPlugin.vst3 2>&1 | sed -n 's/.*Found Plugin: //p' | paste -sd, - | sed 's/,/, /g' || true)
    rm -rf "$scan_cache"
    if [ -n "$found" ]; then echo "setup: Ardour's VST3 scanner found: $found"
    else skip "Ardour's VST3 scanner found no plugin in the bundle (see the log: \$XDG_STATE_HOME/DiffusionPlugin/logs)"; fi
  fi
else
  skip "installing the plugin: plugin/build-bundle.sh is not in this checkout yet"
fi

step "demos (diffusion-studio into artifacts/demo/)"
STUDIO="$ROOT/studio/DiffusionPlugin.Studio/bin/Release/net10.0/diffusion-studio.dll"
DEMO="$ROOT/artifacts/demo"
studio() { dotnet "$STUDIO" "$@"; }
if [ ! -f "$STUDIO" ]; then
  skip "the demos: diffusion-studio was not built"
elif [ ! -f models/drums/manifest.json ]; then
  skip "the demos: the shipped model models/drums/manifest.json is not in this checkout yet"
elif ! studio render --help >/dev/null 2>&1 || ! studio widen --help >/dev/null 2>&1; then
  skip "the demos: this diffusion-studio has no render/widen commands yet"
else
  mkdir -p "$DEMO"
  [ -f installer/demo/groove.mid ] || /usr/bin/python3 installer/demo/make_midi.py
  if studio render installer/demo/groove.mid "$DEMO/groove.wav" --kit-seed 3 --humanize 0.3 --force; then
    studio widen "$DEMO/groove.wav" "$DEMO/groove-widened.wav" --width 1.0 --force \
      || skip "widening the groove: diffusion-studio widen failed (see above)"
  else
    skip "the groove: diffusion-studio render failed (see above)"
  fi
  # A melodic mono source shows the widener better than drums.
  if bash installer/demo/render_melody.sh "$DEMO/melody-mono.wav"; then
    studio widen "$DEMO/melody-mono.wav" "$DEMO/melody-widened.wav" --width 1.0 --force \
      || skip "widening the melody: diffusion-studio widen failed (see above)"
  else
    skip "the melody demo: installer/demo/render_melody.sh failed (see above)"
  fi
  ls -l "$DEMO"
fi

echo
echo "setup finished in $((SECONDS - start)) s."
if [ ${#skipped[@]} -gt 0 ]; then
  echo "Skipped:"; printf '  - %s\n' "${skipped[@]}"
fi
