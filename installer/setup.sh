#!/usr/bin/env bash
# The README's first command: installs what is needed, builds, installs the plugin and renders the demos.
set -euo pipefail
cd "$(dirname "$0")/.."
bash installer/deps.sh
dotnet build DiffusionPlugin.sln -c Release -v quiet -nologo
if [ -x installer/install.sh ]; then bash installer/install.sh "$@"; fi
