#!/usr/bin/env bash
# darray-info on files written by Python (h5py with gzip, zarr with blosc, NumPy .npy/.npz)
# and by darray (tests/interop's da_interop): the printed shape, dtype, chunks and compression,
# the --list output, SVG pictures that parse as XML, and bad paths failing with a message.
#   run.sh MPIEXEC DARRAY_INFO DA_INTEROP PYTHON
set -euo pipefail
mpiexec=$1 info=$2 helper=$3 python=$4
if ! "$python" -c 'import h5py, zarr, numcodecs, numpy' 2>/dev/null; then
  echo "run.sh: FAIL: $python cannot import h5py, zarr, numcodecs and numpy" >&2
  exit 1
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/da-info.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
fails=0
fail() { echo "run.sh: FAIL: $*" >&2; fails=$((fails + 1)); }
run_info() { "$mpiexec" --oversubscribe --allow-run-as-root -n "${NP:-1}" "$info" "$@"; }

"$python" - <<'EOF'
import numpy as np, h5py, zarr, numcodecs
a = np.arange(100 * 80, dtype='f4').reshape(100, 80)
with h5py.File('py.h5', 'w') as f:
    f.create_dataset('g/temp', data=a, chunks=(25, 40), compression='gzip', compression_opts=4,
                     shuffle=True, fillvalue=-1.5)
    f.create_dataset('flat', data=np.arange(10, dtype='<u2'))
z = zarr.open('py.zarr', mode='w', shape=(50, 60, 7), chunks=(20, 20, 7), dtype='<i4',
              compressor=numcodecs.Blosc('lz4', 5, numcodecs.Blosc.SHUFFLE), fill_value=7)
z[:] = np.arange(50 * 60 * 7).reshape(50, 60, 7)
zarr.open('nan.zarr', mode='w', shape=(4, 4), chunks=(2, 2), dtype='<f8', fill_value=np.nan)
np.save('be.npy', np.arange(30 * 20, dtype='>i8').reshape(30, 20))
np.save('f.npy', np.asfortranarray(np.arange(12, dtype='i2').reshape(3, 4)))
np.save('c.npy', np.zeros((2, 3, 4), dtype='<c16'))
np.savez_compressed('py.npz', temp=a, mask=np.arange(5) > 2)
EOF
NP=2 "$mpiexec" --oversubscribe --allow-run-as-root -n 2 "$helper" write h5 da.h5 int16 30x20x7 8x20x3 gzip4 --dataset /g/sub/x
NP=2 "$mpiexec" --oversubscribe --allow-run-as-root -n 2 "$helper" write zarr da.zarr uint8 23x31 10x7 blosc-zstd

# expect FILE ARGS... -- LINES...: every line must appear in darray-info's output.
expect() {
  local args=() out
  while [ "$1" != "--" ]; do args+=("$1"); shift; done
  shift
  if ! out=$(run_info "${args[@]}" 2>&1); then
    fail "darray-info ${args[*]} exited non-zero: $out"
    return
  fi
  for want in "$@"; do
    grep -qF -- "$want" <<<"$out" || fail "darray-info ${args[*]}: no line '$want' in:
$out"
  done
}

expect py.h5 /g/temp -- "format:       hdf5" "shape:        (100, 80)" \
  "dtype:        float32 (stored as H5T_IEEE_F32LE)" "chunks:       (25, 40), 8 chunks" \
  "bytes:        31.2 KiB (32000 bytes)" "compression:  gzip level 4 shuffle" "order:        C" \
  "fill value:   -1.5" "Data type    float32"
expect py.h5 -- "shape:        (10,)" "dtype:        uint16 (stored as H5T_STD_U16LE)" \
  "compression:  none" "fill value:   0 (default)"
expect nan.zarr -- "dtype:        float64 (stored as <f8)" "fill value:   NaN"
NP=2 expect --svg py.zarr.svg py.zarr -- "format:       zarr" "shape:        (50, 60, 7)" \
  "dtype:        int32 (stored as <i4)" "chunks:       (20, 20, 7), 9 chunks" \
  "compression:  blosc lz4 level 5 shuffle" "fill value:   7" "over 2 ranks"
expect be.npy -- "format:       npy" "shape:        (30, 20)" "dtype:        int64 (stored as >i8)" \
  "chunks:       (30, 20), 1 chunk" "compression:  none" "bytes:        4.7 KiB (4800 bytes)"
run_info be.npy 2>&1 | grep -q "fill value" && fail "darray-info shows a fill value for a .npy file"
expect --svg f.svg f.npy -- "shape:        (3, 4)" "order:        F" "int16"
expect c.npy -- "dtype:        none in darray (stored as <c16)" "darray cannot open it"
expect --svg npz.svg py.npz mask -- "format:       npz" "shape:        (5,)" \
  "dtype:        bool (stored as |b1)" "compression:  zip deflate"
expect py.npz temp.npy -- "shape:        (100, 80)" "dtype:        float32"
expect --svg da.h5.svg da.h5 /g/sub/x -- "format:       hdf5" "shape:        (30, 20, 7)" \
  "dtype:        int16 (stored as H5T_STD_I16LE)" "chunks:       (8, 20, 3), 12 chunks" \
  "compression:  gzip level 4"
expect da.zarr -- "format:       zarr" "shape:        (23, 31)" "dtype:        uint8 (stored as |u1)" \
  "chunks:       (10, 7), 15 chunks" "compression:  blosc zstd level 5 shuffle"
expect --list py.h5 -- "/flat" "/g/temp"
expect --list py.npz -- "temp.npy" "mask.npy"

# The pictures: XML with the chunk grid's rectangles and lines.
for svg in py.zarr.svg f.svg npz.svg da.h5.svg; do
  "$python" - "$svg" <<'EOF' || fail "$svg is not a valid chunk picture"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
ns = '{http://www.w3.org/2000/svg}'
assert root.tag == ns + 'svg', root.tag
rects, lines = root.findall(ns + 'rect'), root.findall(ns + 'line')
assert rects and len(lines) >= 4, (len(rects), len(lines))
EOF
done
# A 3-D picture has its top and side faces.
grep -q "<polygon" py.zarr.svg || fail "py.zarr.svg has no oblique faces"

# Bad input: a message and a non-zero exit on every rank.
for bad in /nonexistent/x.h5 "$tmp" py.h5:/nope; do
  path=${bad%%:*} name=${bad#*:}
  [ "$name" = "$bad" ] && name=
  if out=$(NP=2 run_info "$path" $name 2>&1); then
    fail "darray-info $bad succeeded: $out"
  fi
  grep -q "darray-info:" <<<"$out" || fail "darray-info $bad printed no message: $out"
done
echo "not an array" >text.txt
if out=$(run_info text.txt 2>&1); then fail "a text file was accepted"; fi
grep -q "not an array file" <<<"$out" || fail "no message for a text file: $out"
if run_info >/dev/null 2>&1; then fail "no arguments accepted"; fi

if [ "$fails" -ne 0 ]; then
  echo "info: $fails failure(s)"
  exit 1
fi
echo "info: darray-info checks passed"
