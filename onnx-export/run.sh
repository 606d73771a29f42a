#!/usr/bin/env bash
# Entry point of the Python pipeline. Usage: onnx-export/run.sh <command> [args]
#   setup      install the Debian packages (python3-torch, python3-onnx, ..., hydrogen kits, fluidsynth)
#   data       build the dataset cache (data/cache.npz) and DATA.md     [--data-dir DIR for your own WAVs]
#   train      train (resumes from checkpoints/last.pt)                 [--minutes N --threads N --data-dir DIR]
#   export     checkpoint -> ../models/drums/{model.onnx,manifest.json,parity.json}
#   evaluate   held-out evaluation -> ../models/drums/EVALUATION.md
#   test       pytest suite (synthetic data, < 1 minute)
#   all        data, train, export, evaluate
set -euo pipefail
cd "$(dirname "$0")"
PY=/usr/bin/python3   # Debian's interpreter: the apt packages live there, not in a pyenv/venv python
cmd=${1:-help}; shift || true
case "$cmd" in
  setup)    sudo apt-get install -y python3-torch python3-onnx python3-numpy python3-scipy python3-soundfile \
              python3-pytest hydrogen-drumkits hydrogen-data fluid-soundfont-gm fluidsynth ;;
  data)     $PY -m diffusion_drums.dataset --rebuild --data-md DATA.md "$@" ;;
  train)    $PY -m diffusion_drums.train "$@" ;;
  export)   $PY -m diffusion_drums.export "$@" ;;
  evaluate) $PY -m diffusion_drums.evaluate "$@" ;;
  test)     $PY -m pytest -q tests "$@" ;;
  all)      $PY -m diffusion_drums.dataset --rebuild --data-md DATA.md && $PY -m diffusion_drums.train "$@" \
              && $PY -m diffusion_drums.export && $PY -m diffusion_drums.evaluate ;;
  *)        sed -n '2,10p' "$0" ;;
esac
