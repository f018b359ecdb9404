#!/usr/bin/env bash
# Runs every native fuzz target in the module for a bounded time each.
# A target fails on a real finding (the fuzzer writes the failing input under
# testdata/fuzz) or a failing seed corpus. Go's fuzzer sometimes ends a run
# with "context deadline exceeded" when the time runs out mid-input; that run
# is repeated once and, if it happens again without a finding, reported but
# not counted as a failure.
set -uo pipefail
fuzztime=${1:-10s}
cd "$(dirname "$0")/.."
status=0
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
    for attempt in 1 2; do
      echo "== $pkg $target ($fuzztime)"
      out=$(go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" 2>&1)
      rc=$?
      echo "$out" | tail -n 8
      if [ $rc -eq 0 ]; then
        break
      fi
      if echo "$out" | grep -q "Failing input written" || ! echo "$out" | grep -q "context deadline exceeded"; then
        echo "FUZZ FAILURE: $pkg $target"
        status=1
        break
      fi
      if [ $attempt -eq 2 ]; then
        echo "warning: $pkg $target ended twice on the fuzzer's deadline without a finding"
      fi
    done
  done
done
exit $status
