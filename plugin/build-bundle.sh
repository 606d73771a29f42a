#!/usr/bin/env bash
# Publishes the plugin (NativeAOT, linux-x64) and lays out the VST3 bundle:
#   OUT/DiffusionPlugin.vst3/Contents/x86_64-linux/DiffusionPlugin.so + libonnxruntime.so* (CPU runtime only)
#   OUT/DiffusionPlugin.vst3/Contents/Resources/models/drums/   (from models/drums when present)
#   OUT/DiffusionPlugin.vst3/Contents/Resources/moduleinfo.json (written by the plugin itself)
# Usage: bash plugin/build-bundle.sh [OUT=artifacts/bundle]. Needs clang (installer/deps.sh installs it).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
OUT=${1:-artifacts/bundle}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
PUBLISH="$ROOT/artifacts/publish/plugin"
BUNDLE="$OUT/DiffusionPlugin.vst3"

dotnet publish plugin/DiffusionPlugin.Vst3/DiffusionPlugin.Vst3.csproj -c Release -r linux-x64 \
  -o "$PUBLISH" -nologo -v quiet

rm -rf "$BUNDLE"
mkdir -p "$BUNDLE/Contents/x86_64-linux" "$BUNDLE/Contents/Resources"
cp "$PUBLISH/DiffusionPlugin.so" "$BUNDLE/Contents/x86_64-linux/"
# The CUDA provider (hundreds of MB, needs CUDA libraries) stays out: this bundle runs ONNX Runtime on the CPU.
for lib in libonnxruntime.so libonnxruntime_providers_shared.so; do
  if [ -f "$PUBLISH/$lib" ]; then cp -L "$PUBLISH/$lib" "$BUNDLE/Contents/x86_64-linux/"; fi
done
if [ -f models/drums/manifest.json ]; then
  mkdir -p "$BUNDLE/Contents/Resources/models"
  cp -r models/drums "$BUNDLE/Contents/Resources/models/drums"
fi

# moduleinfo.json comes from the plugin's own class list, so it always matches the factory.
/usr/bin/python3 - "$BUNDLE/Contents/x86_64-linux/DiffusionPlugin.so" "$BUNDLE/Contents/Resources/moduleinfo.json" <<'PY'
import ctypes, sys
lib = ctypes.CDLL(sys.argv[1])
f = lib.DiffusionPlugin_ModuleInfoJson
f.argtypes = [ctypes.c_char_p, ctypes.c_int]; f.restype = ctypes.c_int
n = f(None, 0)
if n <= 0: sys.exit("moduleinfo: the plugin returned no JSON")
buf = ctypes.create_string_buffer(n)
f(buf, n)
open(sys.argv[2], "wb").write(buf.raw[:n])
PY
echo "bundle: $BUNDLE"
