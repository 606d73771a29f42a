#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian/Ubuntu machine: apt packages (Python training stack,
# drum and soundfont data, Ardour for the host test, matplotlib for the README pictures, clang/zlib/binutils for the
# NativeAOT link) and the NuGet packages (dotnet restore). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(python3-torch python3-onnx python3-soundfile python3-numpy python3-pytest python3-scipy python3-matplotlib
              hydrogen-drumkits hydrogen-data fluidsynth fluid-soundfont-gm ardour clang zlib1g-dev binutils)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null; then
    echo "deps: missing apt packages: ${missing[*]} (run: sudo apt-get install ${missing[*]})" >&2; exit 1
  fi
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  echo "deps: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
command -v dotnet >/dev/null || { echo "deps: the .NET 10 SDK is missing (install package dotnet-sdk-10.0)" >&2; exit 1; }
dotnet restore DiffusionPlugin.sln -v quiet
