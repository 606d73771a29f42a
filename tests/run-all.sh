#!/usr/bin/env bash
# Runs every test suite and ends with one plain line: "N passed, N failed, N skipped".
# Exit status is non-zero when anything failed (a build that breaks counts as one failure).
#   SKIP_DEPS=1  skip installer/deps.sh (apt packages + dotnet restore)
# Order: deps, one Release build of the solution, the plugin bundle (plugin/build-bundle.sh, which the VST3 tests
# load through DIFFUSION_VST3_BUNDLE), each C# test project with --no-build (TRX counters), then the pytest suites
# (onnx-export/tests, tests/installer, tests/tools) with /usr/bin/python3, Debian's Python that has torch/onnx/numpy.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
RESULTS="$ROOT/artifacts/test-results"
rm -rf "$RESULTS"; mkdir -p "$RESULTS"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

passed=0; failed=0; skipped=0
start=$SECONDS
step() { echo; echo "== $1 ($((SECONDS - start)) s)"; }
suite_line() { echo "suite $1: $2 passed / $3 failed / $4 skipped"; }

if [ "${SKIP_DEPS:-0}" != 1 ]; then
  step "dependencies (installer/deps.sh)"
  bash installer/deps.sh || { echo "dependencies could not be installed"; echo "0 passed, 1 failed"; exit 1; }
fi

step "build (dotnet build DiffusionPlugin.sln -c Release)"
built=1
if ! dotnet build DiffusionPlugin.sln -c Release -v quiet -nologo; then
  echo "build failed"; failed=$((failed + 1)); built=0
fi

if [ "$built" = 1 ] && [ -f plugin/build-bundle.sh ]; then
  step "plugin bundle (plugin/build-bundle.sh artifacts/bundle)"
  if bash plugin/build-bundle.sh "$ROOT/artifacts/bundle"; then
    # Both names: the VST3 test host reads DIFFUSION_VST3_BUNDLE, the installer tests DIFFUSIONPLUGIN_BUNDLE.
    export DIFFUSIONPLUGIN_BUNDLE="$ROOT/artifacts/bundle/DiffusionPlugin.vst3"
    export DIFFUSION_VST3_BUNDLE="$DIFFUSIONPLUGIN_BUNDLE"
  else
    echo "bundle build failed"; failed=$((failed + 1))
  fi
fi

if [ "$built" = 1 ]; then
  for proj in tests/*.Tests/*.Tests.csproj; do
    name=$(basename "$proj" .csproj)
    step "$name"
    # A hung test must not eat CI's time: the whole project is stopped after 10 minutes.
    dotnet test "$proj" -c Release --no-build -nologo --logger "trx;LogFileName=$name.trx" \
      --results-directory "$RESULTS" --blame-hang-timeout 10m --blame-hang-dump-type none || true
    trx="$RESULTS/$name.trx"
    if [ -f "$trx" ]; then
      counters=$(grep -o '<Counters [^>]*' "$trx")
      count() { echo "$counters" | grep -o " $1=\"[0-9]*\"" | grep -o '[0-9]*' || echo 0; }
      p=$(count passed); f=$(( $(count failed) + $(count error) + $(count timeout) + $(count aborted) ))
      s=$(count notExecuted)
      passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
      suite_line "$name" "$p" "$f" "$s"
    else
      echo "$name: no results (the test host crashed or hung)"; failed=$((failed + 1))
    fi
  done
fi

# run_pytest NAME DIR: one pytest suite, counted from its JUnit XML (pytest's exit 5, "no tests", is not a failure).
run_pytest() {
  local name=$1 dir=$2 xml="$RESULTS/pytest-$1.xml"
  ls "$dir"/test_*.py >/dev/null 2>&1 || return 0
  step "pytest $dir"
  /usr/bin/python3 -m pytest -q "$dir" --junitxml="$xml" -p no:cacheprovider || true
  if [ ! -f "$xml" ]; then echo "$name: pytest wrote no results"; failed=$((failed + 1)); return; fi
  read -r t e f s < <(/usr/bin/python3 - "$xml" <<'PY'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
total = lambda key: sum(int(s.get(key, 0)) for s in suites)
print(total("tests"), total("errors"), total("failures"), total("skipped"))
PY
)
  passed=$((passed + t - e - f - s)); failed=$((failed + e + f)); skipped=$((skipped + s))
  suite_line "$name" "$((t - e - f - s))" "$((e + f))" "$s"
}
run_pytest onnx-export onnx-export/tests
run_pytest installer tests/installer
run_pytest tools tests/tools

echo
echo "run-all took $((SECONDS - start)) s; results in artifacts/test-results/"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
