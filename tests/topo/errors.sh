#!/bin/bash
# darray-topo's bad inputs: each exits non-zero with a clear message and writes no outputs.
# usage: errors.sh MPIEXEC NP DARRAY_TOPO PYTHON
set -u
mpiexec=$1 np=$2 topo=$3 python=$4
tmp=$(mktemp -d "${TMPDIR:-/tmp}/topo-errors.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
"$python" - "$tmp" <<'PY' || fail "cannot make the test inputs"
import sys, h5py, numpy as np
d = sys.argv[1]
with h5py.File(f"{d}/rgb.h5", "w") as f:
    f["/rgb"] = np.zeros((40, 40, 3), np.uint8)
    f["/flat"] = np.zeros((40, 40), np.float32)
    f["/line"] = np.zeros(40, np.float64)
open(f"{d}/not-a-dir", "w").write("a file\n")
PY
# expect NAME MESSAGE-PATTERN ARGS...: non-zero exit, the message, no outputs in $tmp/out.
expect() {
  local name=$1 pattern=$2
  shift 2
  rm -rf "$tmp/out"
  "$mpiexec" --oversubscribe --allow-run-as-root -np "$np" "$topo" --no-progress "$@" \
      > "$tmp/log" 2>&1
  local rc=$?
  [ $rc -ne 0 ] || { cat "$tmp/log"; fail "$name: exit status 0"; }
  grep -q -- "$pattern" "$tmp/log" || { cat "$tmp/log"; fail "$name: no message like '$pattern'"; }
  for f in topo.h5 topo.zarr elevation.png block_std.png slope.png report.txt; do
    [ ! -e "$tmp/out/$f" ] || fail "$name: left $f behind"
  done
  echo "ok: $name: $(grep -m1 -- "$pattern" "$tmp/log")"
}
expect "missing input" "cannot\|No such\|not found\|missing" \
    --input "npz:$tmp/nothing.npz" --output "$tmp/out"
expect "three channels" "RGBA tiles (H, W, 4)" --input "hdf5:$tmp/rgb.h5:/rgb" --output "$tmp/out"
expect "chunks too large" "larger than the 40 x 40 map" --input "hdf5:$tmp/rgb.h5:/flat" \
    --chunks 41 --output "$tmp/out"
expect "unwritable output" "output directory" --input "hdf5:$tmp/rgb.h5:/flat" \
    --output "$tmp/not-a-dir/out"
expect "bad format" "--format must be" --format tiff --output "$tmp/out"
expect "bad spec" "synthetic:N needs" --input synthetic:x --output "$tmp/out"
expect "make-terrain path" "must end in .zarr or .h5" --make-terrain 50 --output "$tmp/t.png"
echo "PASS: darray-topo bad inputs at $np ranks"
