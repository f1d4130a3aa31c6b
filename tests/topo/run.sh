#!/bin/bash
# darray-topo against the NumPy reference (check.py): on the real DEM, or on a synthetic
# terrain written by --make-terrain and read back from HDF5 (so Python sees the same input).
# usage: run.sh MPIEXEC NP DARRAY_TOPO PYTHON CHECK_PY dem|synthetic [SIZE CHUNK]
set -u
mpiexec=$1 np=$2 topo=$3 python=$4 check=$5 mode=$6 size=${7:-600} chunk=${8:-100}
dem=/usr/share/matplotlib/mpl-data/sample_data/jacksboro_fault_dem.npz
tmp=$(mktemp -d "${TMPDIR:-/tmp}/topo-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
run() { "$mpiexec" --oversubscribe --allow-run-as-root -np "$np" "$@"; }
fail() { echo "FAIL: $*"; exit 1; }
"$python" -c "import numpy, h5py, zarr" || fail "$python lacks numpy/h5py/zarr"

if [ "$mode" = dem ]; then
  [ -r "$dem" ] || fail "$dem is missing (install python-matplotlib-data)"
  run "$topo" --output "$tmp/out" --format both --check --no-progress \
      --trace "$tmp/trace.json" --dot "$tmp/graph.dot" > "$tmp/log" 2>&1 ||
    { cat "$tmp/log"; fail "darray-topo on the DEM"; }
  cat "$tmp/log"
  # The default chunks of the 344 x 403 DEM: ceil(403 / 8) = 51.
  "$python" "$check" --mode dem --npz "$dem" --out "$tmp/out" --log "$tmp/log" --chunks 51 \
      --zarr || fail "the DEM's numbers differ from NumPy's"
  grep -q '"traceEvents"\|"ph"' "$tmp/trace.json" || fail "no trace events in --trace's file"
  grep -q "Aggregate time per action" "$tmp/out/report.txt" || fail "no trace table in the report"
  grep -q "digraph" "$tmp/graph.dot" || fail "--dot wrote no graph"
else
  run "$topo" --make-terrain "$size" --chunks "$chunk" --output "$tmp/land.h5" ||
    fail "--make-terrain"
  run "$topo" --input "hdf5:$tmp/land.h5:/land" --chunks "$chunk" --output "$tmp/out" \
      --format both --check --no-progress > "$tmp/log" 2>&1 ||
    { cat "$tmp/log"; fail "darray-topo on the synthetic terrain"; }
  cat "$tmp/log"
  "$python" "$check" --mode rgba --h5 "$tmp/land.h5" --out "$tmp/out" --log "$tmp/log" \
      --chunks "$chunk" --zarr || fail "the synthetic terrain's numbers differ from NumPy's"
  # Under a memory limit too small to hold the maps they are spooled to scratch .npy files
  # and read back: the same answers, and no scratch left behind.
  DARRAY_MEMORY_LIMIT=1M run "$topo" --input "hdf5:$tmp/land.h5:/land" --chunks "$chunk" \
      --output "$tmp/out3" --format both --check --no-progress > "$tmp/log3" 2>&1 ||
    { cat "$tmp/log3"; fail "darray-topo under a 1 MiB memory limit"; }
  grep -q "elevation: .* spooled to" "$tmp/log3" && grep -q "slope: .* spooled to" "$tmp/log3" ||
    { cat "$tmp/log3"; fail "the maps were not spooled under a 1 MiB memory limit"; }
  ! ls -A "$tmp/out3" | grep -q '^\.topo-' || fail "scratch files left in the output directory"
  "$python" "$check" --mode rgba --h5 "$tmp/land.h5" --out "$tmp/out3" --log "$tmp/log3" \
      --chunks "$chunk" --zarr || fail "the spooled run's numbers differ from NumPy's"
  # synthetic:N generated in place with other chunks gives the same terrain, bit for bit.
  other=$((chunk * 3 / 4))
  run "$topo" --input "synthetic:$size" --chunks "$other" --output "$tmp/out2" --format hdf5 \
      --no-progress > "$tmp/log2" 2>&1 || { cat "$tmp/log2"; fail "synthetic:$size"; }
  "$python" - "$tmp/out/topo.h5" "$tmp/out2/topo.h5" <<'PY' || fail "synthetic terrain depends on chunks"
import sys, h5py, numpy as np
a = h5py.File(sys.argv[1], "r")["/elevation_ft"][...]
b = h5py.File(sys.argv[2], "r")["/elevation_ft"][...]
assert np.array_equal(a, b), "elevations differ"
print("synthetic terrain: identical for two chunkings")
PY
fi
echo "PASS: darray-topo $mode at $np ranks"
