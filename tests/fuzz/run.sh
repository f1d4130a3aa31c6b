#!/usr/bin/env bash
# run.sh FUZZER CORPUS SECONDS ARTIFACT_DIR -- the fuzz-<name> CTest tests: fuzz for SECONDS from a
# scratch copy of CORPUS, so the seeds in the repository are never written. Exits non-zero on a
# crash, ASan/UBSan report, leak, slow input or out-of-memory; the input is left in ARTIFACT_DIR.
set -euo pipefail
fuzzer=$1 corpus=$2 seconds=$3 artifacts=$4

work=$(mktemp -d "${TMPDIR:-/tmp}/darray-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp -R "$corpus/." "$work/"
mkdir -p "$artifacts"

# A parser should take microseconds: 10 s on one input is a hang, not a slow machine.
"$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
  -error_exitcode=77 -timeout_exitcode=77 -artifact_prefix="$artifacts/" -print_final_stats=1 \
  "$work" </dev/null
