#!/usr/bin/env bash
# One interoperability round trip between darray and Python (h5py, zarr, dask).
#   roundtrip.sh MPIEXEC NP DA_INTEROP PYTHON CHECK_PY c2py|py2c h5|zarr DTYPE SHAPE CHUNKS COMP [opts]
# c2py: darray writes on NP ranks, Python reads and compares; py2c: the other way round.
set -euo pipefail
mpiexec=$1 np=$2 helper=$3 python=$4 check=$5 dir=$6 fmt=$7
shift 7
if ! "$python" -c 'import h5py, zarr, dask.array' 2>/dev/null; then
  echo "roundtrip.sh: FAIL: $python cannot import h5py, zarr and dask.array;" \
       "install the Debian packages python3-h5py python3-zarr python3-dask" >&2
  exit 1
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/da-interop.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
path="$tmp/a.$fmt"
run_c() { "$mpiexec" --oversubscribe --allow-run-as-root -n "$np" "$helper" "$@"; }
case $dir in
  c2py) run_c write "$fmt" "$path" "$@" && "$python" "$check" read "$fmt" "$path" "$@" ;;
  py2c) "$python" "$check" write "$fmt" "$path" "$@" && run_c read "$fmt" "$path" "$@" ;;
  *) echo "roundtrip.sh: direction must be c2py or py2c" >&2; exit 2 ;;
esac
