#!/usr/bin/env bash
# Builds the DiffusionPlugin.vst3 bundle and installs it (per user or system-wide), removes it again, or packs it
# as a .deb / .tar.gz. Run with --help for the options. Every install writes a manifest of the files and folders it
# created, so --uninstall removes exactly those and nothing a user or another program put beside them.
set -euo pipefail
umask 022

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUNDLE_NAME=DiffusionPlugin.vst3
PLUGIN_SO=Contents/x86_64-linux/DiffusionPlugin.so
NATIVE_DIR=Contents/x86_64-linux
VERSION=$(tr -d ' \n' < "$ROOT/installer/VERSION")
# The CUDA provider must come from the very ONNX Runtime release the plugin links against.
ORT_VERSION=$(sed -n 's/.*"Microsoft\.ML\.OnnxRuntime\.Gpu" Version="\([^"]*\)".*/\1/p' "$ROOT/Directory.Packages.props")
CUDA_PROVIDERS=(libonnxruntime_providers_cuda.so libonnxruntime_providers_shared.so)
DESTDIR=${DESTDIR:-}

usage() {
  cat <<EOF
Usage: bash installer/install.sh [options]

Builds $BUNDLE_NAME (plugin/build-bundle.sh: NativeAOT plugin, ONNX Runtime CPU libraries, the shipped
model, moduleinfo.json) and installs it.

  (no option)     install for the current user into ~/.vst3
  --system        install for all users into /usr/lib/vst3 (needs root)
  --dest DIR      install into DIR instead of ~/.vst3 or /usr/lib/vst3
  --cuda          add the ONNX Runtime CUDA provider (NuGet Microsoft.ML.OnnxRuntime.Gpu.Linux $ORT_VERSION,
                  about 284 MB; needs the NVIDIA driver and CUDA 13 libraries at run time)
  --uninstall     remove exactly what an earlier install put there (per user, or with --system)
  --deb           build artifacts/diffusion-plugin_${VERSION}_amd64.deb (installs to /usr/lib/vst3); no install
  --tarball       build artifacts/DiffusionPlugin-$VERSION-linux-x64.tar.gz; no install
  --out DIR       where --deb and --tarball write (default: artifacts/)
  --bundle PATH   use an already built $BUNDLE_NAME instead of running plugin/build-bundle.sh
  -h, --help      this text

Re-running is safe: unchanged files are left alone, files a previous install no longer needs are removed.
Manifest: \${XDG_DATA_HOME:-~/.local/share}/DiffusionPlugin/installed-files.txt (per user),
          /var/lib/DiffusionPlugin/installed-files.txt (--system). DESTDIR, if set, prefixes every path.
EOF
}

die() { echo "install.sh: $*" >&2; exit 1; }
# need COMMAND DEBIAN-PACKAGE: stop with the package to install when a tool is missing.
need() {
  command -v "$1" >/dev/null 2>&1 || die "'$1' was not found: install the Debian package '$2' (sudo apt-get install $2)"
}

system=0 cuda=0 uninstall=0 deb=0 tarball=0 bundle="" dest="" out="$ROOT/artifacts"
while [ $# -gt 0 ]; do
  case "$1" in
    --system) system=1 ;;
    --user) system=0 ;;
    --cuda) cuda=1 ;;
    --uninstall) uninstall=1 ;;
    --deb) deb=1 ;;
    --tarball) tarball=1 ;;
    --bundle) [ $# -ge 2 ] || die "--bundle needs a path"; bundle=$2; shift ;;
    --bundle=*) bundle=${1#*=} ;;
    --dest) [ $# -ge 2 ] || die "--dest needs a folder"; dest=$2; shift ;;
    --dest=*) dest=${1#*=} ;;
    --out) [ $# -ge 2 ] || die "--out needs a folder"; out=$2; shift ;;
    --out=*) out=${1#*=} ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
if [ "$uninstall" = 1 ] && { [ "$deb" = 1 ] || [ "$tarball" = 1 ] || [ "$cuda" = 1 ]; }; then
  die "--uninstall cannot be combined with --deb, --tarball or --cuda"
fi

need install coreutils
need find findutils

if [ "$system" = 1 ]; then
  target_parent=${dest:-/usr/lib/vst3}
  manifest=/var/lib/DiffusionPlugin/installed-files.txt
else
  [ -n "${HOME:-}" ] || die "HOME is not set"
  target_parent=${dest:-$HOME/.vst3}
  manifest=${XDG_DATA_HOME:-$HOME/.local/share}/DiffusionPlugin/installed-files.txt
fi
# Absolute, so the manifest means the same from any working directory.
target_parent=$(realpath -m -s -- "$target_parent")
target=$target_parent/$BUNDLE_NAME

# ---------------------------------------------------------------------------------------------- uninstall
# Manifest lines: absolute paths as seen by the installed system; folders end with '/', listed deepest first.
if [ "$uninstall" = 1 ]; then
  if [ "$system" = 1 ] && [ -z "$DESTDIR" ] && [ "$(id -u)" -ne 0 ]; then
    die "--system --uninstall removes files from $target_parent: run it as root (sudo)"
  fi
  if [ ! -f "$DESTDIR$manifest" ]; then
    echo "install.sh: nothing to uninstall (no manifest at $DESTDIR$manifest)"
    exit 0
  fi
  files=() dirs=()
  while IFS= read -r line; do
    case "$line" in ''|'#'*) ;; */) dirs+=("${line%/}") ;; *) files+=("$line") ;; esac
  done < "$DESTDIR$manifest"
  removed=0 kept=()
  for f in ${files[@]+"${files[@]}"}; do
    if [ -e "$DESTDIR$f" ] || [ -L "$DESTDIR$f" ]; then rm -f -- "$DESTDIR$f"; removed=$((removed + 1)); fi
  done
  # Only now, so an uninstall that stopped half-way (a permission error) can be run again.
  rm -f -- "$DESTDIR$manifest"
  for d in ${dirs[@]+"${dirs[@]}"}; do
    [ -d "$DESTDIR$d" ] || continue
    rmdir -- "$DESTDIR$d" 2>/dev/null || kept+=("$d")
  done
  echo "Uninstalled $BUNDLE_NAME: removed $removed files."
  for k in ${kept[@]+"${kept[@]}"}; do echo "  kept $k: it holds files the installer did not put there"; done
  exit 0
fi

# ---------------------------------------------------------------------------------------------- the bundle
if [ -z "$bundle" ]; then
  need dotnet dotnet-sdk-10.0
  need clang clang
  [ -f /usr/include/zlib.h ] || die "zlib headers were not found (NativeAOT links against zlib): install the Debian package 'zlib1g-dev'"
  [ -f "$ROOT/plugin/build-bundle.sh" ] \
    || die "plugin/build-bundle.sh is not in this checkout yet: build $BUNDLE_NAME another way and pass --bundle PATH"
  echo "install.sh: building the bundle (plugin/build-bundle.sh artifacts/bundle)"
  bash "$ROOT/plugin/build-bundle.sh" "$ROOT/artifacts/bundle"
  bundle=$ROOT/artifacts/bundle/$BUNDLE_NAME
fi
bundle=${bundle%/}
[ -d "$bundle" ] || die "bundle folder '$bundle' does not exist"
[ -f "$bundle/$PLUGIN_SO" ] || die "'$bundle' is not a DiffusionPlugin bundle: $PLUGIN_SO is missing"

# rels[i] is a path inside the bundle, srcs[i] the file it is copied from.
rels=() srcs=()
while IFS= read -r rel; do
  rel=${rel#./}
  case "$(basename "$rel")" in
    # The CPU package never carries GPU providers, even if a build left them in the bundle.
    libonnxruntime_providers_cuda.so|libonnxruntime_providers_tensorrt.so) continue ;;
  esac
  rels+=("$rel"); srcs+=("$bundle/$rel")
done < <(cd "$bundle" && find . \( -type f -o -type l \) | LC_ALL=C sort)

if [ "$cuda" = 1 ]; then
  candidates=()
  [ -n "${NUGET_PACKAGES:-}" ] && candidates+=("$NUGET_PACKAGES")
  candidates+=("$HOME/.nuget/packages")
  if [ -n "${SUDO_USER:-}" ]; then candidates+=("$(getent passwd "$SUDO_USER" | cut -d: -f6)/.nuget/packages"); fi
  native=""
  for c in "${candidates[@]}"; do
    d=$c/microsoft.ml.onnxruntime.gpu.linux/$ORT_VERSION/runtimes/linux-x64/native
    if [ -f "$d/libonnxruntime_providers_cuda.so" ]; then native=$d; break; fi
  done
  [ -n "$native" ] || die "the CUDA provider (NuGet package Microsoft.ML.OnnxRuntime.Gpu.Linux $ORT_VERSION) is not in the NuGet cache: run 'bash installer/deps.sh' (dotnet restore) first"
  for p in "${CUDA_PROVIDERS[@]}"; do
    rel=$NATIVE_DIR/$p
    if [ ! -f "$bundle/$rel" ]; then rels+=("$rel"); srcs+=("$native/$p"); fi
  done
  # The provider links against the NVIDIA driver and the CUDA runtime; say which of them this machine lacks.
  if command -v ldd >/dev/null 2>&1; then
    missing_cuda=$(ldd "$native/libonnxruntime_providers_cuda.so" 2>/dev/null | awk '/not found/ { print $1 }' | paste -sd' ' - || true)
    if [ -n "$missing_cuda" ]; then
      echo "install.sh: note: this machine lacks $missing_cuda; until the NVIDIA driver and the CUDA 13 runtime" \
           "libraries are installed, the plugin runs on the CPU (Engine Status shows which)." >&2
    fi
  fi
fi

mode_of() { case "$1" in *.so|*.so.*) echo 0755 ;; *) if [ -x "$1" ]; then echo 0755; else echo 0644; fi ;; esac; }

# stage_into DIR: copies the bundle's files into DIR/$BUNDLE_NAME (for the packages).
stage_into() {
  local i
  for i in "${!rels[@]}"; do
    install -D -m "$(mode_of "${srcs[$i]}")" "${srcs[$i]}" "$1/$BUNDLE_NAME/${rels[$i]}"
  done
}

flavour=""; [ "$cuda" = 1 ] && flavour="-cuda"

# ---------------------------------------------------------------------------------------------- packages
if [ "$deb" = 1 ] || [ "$tarball" = 1 ]; then
  mkdir -p "$out"; out=$(cd "$out" && pwd)
  work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
  # A fixed timestamp (the last commit's) makes the packages reproducible.
  epoch=$(git -C "$ROOT" log -1 --format=%ct 2>/dev/null || echo 0)
  if [ "$tarball" = 1 ]; then
    need tar tar
    need gzip gzip
    mkdir -p "$work/tar"
    stage_into "$work/tar"
    tgz=$out/DiffusionPlugin-$VERSION-linux-x64$flavour.tar.gz
    tar -C "$work/tar" --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$epoch" -cf - "$BUNDLE_NAME" \
      | gzip -n -6 > "$tgz.tmp"
    mv -f "$tgz.tmp" "$tgz"
    echo "Built $tgz (extract into ~/.vst3 or /usr/lib/vst3: tar xzf $(basename "$tgz") -C ~/.vst3)"
  fi
  if [ "$deb" = 1 ]; then
    need dpkg-deb dpkg
    pkg=diffusion-plugin$flavour other=diffusion-plugin; [ "$cuda" = 1 ] || other=diffusion-plugin-cuda
    root=$work/deb
    mkdir -p "$root/DEBIAN" "$root/usr/lib/vst3"
    chmod 0755 "$root" "$root/DEBIAN"
    stage_into "$root/usr/lib/vst3"
    find "$root" -type d -exec chmod 0755 {} +
    # The newest glibc symbol any shipped library needs sets the libc6 dependency. (xz -1 below: a tenth of the
    # time of xz -6 for 10% more bytes, which matters with the 284 MB CUDA provider on two cores.)
    glibc=""
    if command -v objdump >/dev/null 2>&1; then
      glibc=$(find "$root/usr" -name '*.so' -exec objdump -T {} \; 2>/dev/null \
                | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1 || true)
    fi
    depends="libc6${glibc:+ (>= $glibc)}, libgcc-s1, libstdc++6"
    size_kb=$(du -sk "$root/usr" | cut -f1)
    desc_gpu="CPU build: ONNX Runtime runs on the processor."
    [ "$cuda" = 1 ] && desc_gpu="CUDA build: carries the ONNX Runtime CUDA provider; needs the NVIDIA driver and the CUDA 13 runtime libraries."
    cat > "$root/DEBIAN/control" <<EOF
Package: $pkg
Version: $VERSION
Architecture: amd64
Maintainer: DiffusionPlugin developers <diffusion-plugin@localhost>
Section: sound
Priority: optional
Installed-Size: $size_kb
Depends: $depends
Conflicts: $other
Replaces: $other
Description: diffusion drum instrument and stereo widener (VST3 plugin)
 Diffusion Drums plays a freshly generated, humanized drum hit for every MIDI
 note; Diffusion Widener widens a mono track with a generated near-copy while
 its mono sum stays the original. Installs $BUNDLE_NAME into /usr/lib/vst3.
 .
 $desc_gpu
EOF
    find "$root" -exec touch -h -d "@$epoch" {} +
    debfile=$out/${pkg}_${VERSION}_amd64.deb
    SOURCE_DATE_EPOCH=$epoch dpkg-deb --root-owner-group -Zxz -z1 --build "$root" "$debfile.tmp" >/dev/null
    mv -f "$debfile.tmp" "$debfile"
    echo "Built $debfile (install: sudo apt install $debfile)"
  fi
  exit 0
fi

# ---------------------------------------------------------------------------------------------- install
if [ "$system" = 1 ] && [ -z "$DESTDIR" ] && [ "$(id -u)" -ne 0 ]; then
  die "--system writes to $target_parent: run it as root (sudo bash installer/install.sh --system)"
fi
if [ "$system" = 1 ] && [ -z "$DESTDIR" ] && command -v dpkg-query >/dev/null 2>&1; then
  owner=$(dpkg-query -S "$target/$PLUGIN_SO" 2>/dev/null | cut -d: -f1 || true)
  [ -z "$owner" ] || die "$target belongs to the Debian package '$owner': remove it first (sudo apt remove $owner)"
fi

old_files=() old_dirs=()
if [ -f "$DESTDIR$manifest" ]; then
  while IFS= read -r line; do
    case "$line" in ''|'#'*) ;; */) old_dirs+=("$line") ;; *) old_files+=("$line") ;; esac
  done < "$DESTDIR$manifest"
fi

new_files=()
for rel in "${rels[@]}"; do new_files+=("$target/$rel"); done

# Folders this install creates (missing now) join the ones earlier installs created; only those are ever removed.
declare -A created=()
for d in ${old_dirs[@]+"${old_dirs[@]}"}; do [ -d "$DESTDIR${d%/}" ] && created["${d%/}"]=1; done
for f in "${new_files[@]}" "$manifest"; do
  d=$(dirname "$f")
  while [ "$d" != / ] && [ ! -d "$DESTDIR$d" ] && [ -z "${created[$d]:-}" ]; do created["$d"]=1; d=$(dirname "$d"); done
done

# Files an earlier install put there that this one does not ship (say, the CUDA provider after a --cuda run).
declare -A wanted=()
for f in "${new_files[@]}"; do wanted["$f"]=1; done
stale=0
for f in ${old_files[@]+"${old_files[@]}"}; do
  if [ -z "${wanted[$f]:-}" ] && { [ -e "$DESTDIR$f" ] || [ -L "$DESTDIR$f" ]; }; then rm -f -- "$DESTDIR$f"; stale=$((stale + 1)); fi
done

for i in "${!rels[@]}"; do
  # -C leaves a file alone when it is already identical, so a re-run rewrites nothing.
  install -C -D -m "$(mode_of "${srcs[$i]}")" "${srcs[$i]}" "$DESTDIR${new_files[$i]}"
done

# Folders that earlier installs created and that this one no longer uses go if empty.
needed_dir() { local f; for f in "${new_files[@]}" "$manifest"; do case "$f" in "$1"/*) return 0 ;; esac; done; return 1; }
for d in "${!created[@]}"; do
  if ! needed_dir "$d" && [ "$d" != "$target_parent" ]; then
    rmdir -- "$DESTDIR$d" 2>/dev/null && unset 'created[$d]' || true
  fi
done

mkdir -p "$(dirname "$DESTDIR$manifest")"
{
  echo "# Files and folders installed by DiffusionPlugin's installer/install.sh $VERSION; folders end with '/'."
  echo "# 'bash installer/install.sh --uninstall' (with --system for a system-wide install) removes exactly these."
  printf '%s\n' "${new_files[@]}" | LC_ALL=C sort
  # Deepest folders first, so uninstall can remove them in order.
  for d in "${!created[@]}"; do printf '%s/\n' "$d"; done | awk '{ print length($0) "\t" $0 }' | sort -k1,1nr -k2 | cut -f2-
} > "$DESTDIR$manifest.tmp"
if cmp -s "$DESTDIR$manifest.tmp" "$DESTDIR$manifest"; then rm -f "$DESTDIR$manifest.tmp"
else mv -f "$DESTDIR$manifest.tmp" "$DESTDIR$manifest"; fi

kind="CPU"; [ "$cuda" = 1 ] && kind="CPU + CUDA"
echo "Installed $BUNDLE_NAME ($kind, ${#new_files[@]} files) into $target_parent"
[ "$stale" -eq 0 ] || echo "  removed $stale files an earlier install no longer needs"
echo "  manifest: $manifest (bash installer/install.sh --uninstall$([ "$system" = 1 ] && echo ' --system') removes it all)"
echo "  rescan plugins in your DAW; it appears as 'Diffusion Drums' (instrument) and 'Diffusion Widener' (effect)."
