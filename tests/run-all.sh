#!/usr/bin/env bash
# Runs every test suite (C# xunit suites and the Python pytest suite) and ends with one line:
# "N passed, N failed". Exit status is non-zero when anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
RESULTS="$ROOT/artifacts/test-results"
rm -rf "$RESULTS"; mkdir -p "$RESULTS"

[ "${SKIP_DEPS:-0}" = 1 ] || bash installer/deps.sh || { echo "0 passed, 1 failed"; exit 1; }

passed=0; failed=0
if ! dotnet build DiffusionPlugin.sln -c Release -v quiet -nologo; then
  echo "build failed"; echo "0 passed, 1 failed"; exit 1
fi

for proj in tests/*.Tests/*.Tests.csproj; do
  name=$(basename "$proj" .csproj)
  dotnet test "$proj" -c Release --no-build -nologo --logger "trx;LogFileName=$name.trx" \
    --results-directory "$RESULTS" || true
  trx="$RESULTS/$name.trx"
  if [ -f "$trx" ]; then
    p=$(grep -o '<Counters [^>]*' "$trx" | grep -o ' passed="[0-9]*"' | grep -o '[0-9]*')
    f=$(grep -o '<Counters [^>]*' "$trx" | grep -o ' failed="[0-9]*"' | grep -o '[0-9]*')
    passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
  else
    echo "$name: no results (crashed?)"; failed=$((failed + 1))
  fi
done

if [ -d onnx-export/tests ] && ls onnx-export/tests/test_*.py >/dev/null 2>&1; then
  /usr/bin/python3 -m pytest -q onnx-export/tests --junitxml="$RESULTS/pytest.xml" -p no:cacheprovider || true
  if [ -f "$RESULTS/pytest.xml" ]; then
    read -r t e f s < <(/usr/bin/python3 - "$RESULTS/pytest.xml" <<'PY'
import sys, xml.etree.ElementTree as ET
r = ET.parse(sys.argv[1]).getroot()
s = r if r.tag == "testsuite" else r.find("testsuite")
print(s.get("tests"), s.get("errors"), s.get("failures"), s.get("skipped"))
PY
)
    passed=$((passed + t - e - f - s)); failed=$((failed + e + f))
  else
    failed=$((failed + 1))
  fi
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
