#!/usr/bin/env bash
# Entry point of the Python pipeline. Usage: onnx-export/run.sh <command> [args]
#   setup      install the Debian packages (python3-torch, python3-onnx, ..., hydrogen kits, fluidsynth)
#   data       build the dataset cache (data/cache.npz) and DATA.md     [--data-dir DIR for your own WAVs]
#   train      train (resumes from checkpoints/last.pt)                 [--minutes N --threads N --data-dir DIR]
#   guide      train the small autoguidance guide, 10 min fresh -> checkpoints/guide/last.pt   [--threads N]
#   calibrate  per-class spectral calibration of the model (+ guide) at the shipped defaults -> checkpoints/calibration.json
#   export     checkpoint -> ../models/drums/{model.onnx,manifest.json,parity.json}  [--calibration FILE]
#   evaluate   held-out evaluation -> ../models/drums/EVALUATION.md
#   recover    the shipped ONNX model (+ guide) -> checkpoints/sub/last.pt (+ checkpoints/guide/last.pt), no training
#   test       pytest suite (synthetic data, < 1 minute)
#   all        data, train, guide, calibrate, export (with the guide and calibration), evaluate
set -euo pipefail
cd "$(dirname "$0")"
PY=/usr/bin/python3   # Debian's interpreter: the apt packages live there, not in a pyenv/venv python
# The autoguidance guide: the model's architecture at about a third of its widths, 10 minutes fresh (onnx-export/README.md).
train_guide() { $PY -m diffusion_drums.train --fresh --minutes 10 --ckpt-dir checkpoints/guide \
                  --params '{"channels": [32, 48, 96]}' "$@"; }
cmd=${1:-help}; shift || true
case "$cmd" in
  setup)    sudo apt-get install -y python3-torch python3-onnx python3-numpy python3-scipy python3-soundfile \
              python3-pytest hydrogen-drumkits hydrogen-data fluid-soundfont-gm fluidsynth ;;
  data)     $PY -m diffusion_drums.dataset --rebuild --data-md DATA.md "$@" ;;
  train)    $PY -m diffusion_drums.train "$@" ;;
  guide)    train_guide "$@" ;;
  calibrate) $PY -m diffusion_drums.calibrate --guide checkpoints/guide/last.pt --out checkpoints/calibration.json "$@" ;;
  export)   $PY -m diffusion_drums.export "$@" ;;
  evaluate) $PY -m diffusion_drums.evaluate "$@" ;;
  recover)  $PY -m diffusion_drums.recover "$@" ;;
  test)     $PY -m pytest -q tests "$@" ;;
  all)      $PY -m diffusion_drums.dataset --rebuild --data-md DATA.md && $PY -m diffusion_drums.train "$@" \
              && train_guide \
              && $PY -m diffusion_drums.calibrate --checkpoint checkpoints/last.pt --guide checkpoints/guide/last.pt \
                   --out checkpoints/calibration.json \
              && $PY -m diffusion_drums.export --guide checkpoints/guide/last.pt --guide-min-sigma 0.3 \
                   --defaults '{"steps": 6, "guidance": 2.0, "guidanceMaxSigma": 0.3}' --sigma-min 0.01 \
                   --calibration checkpoints/calibration.json \
              && $PY -m diffusion_drums.evaluate --guide checkpoints/guide/last.pt --autoguidance 2@0.3+2 \
                   --default-autoguidance 2@0.3+2 --guidance 2 --guidance-max-sigma 0.3 --steps 4,6,8 --default-steps 6 \
                   --sigma-min 0.01 --calibration ../models/drums/calibration.json --spread-seeds 0,1000,2000 ;;
  *)        sed -n '2,13p' "$0" ;;
esac
