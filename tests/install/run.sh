#!/usr/bin/env bash
# Install test: install the current build tree into a temporary prefix, then build
# and run tests/install/consumer against it, once via find_package(DArray) and once
# via pkg-config. Registered with CTest as `install-consumer`.
#
# usage: run.sh BUILD_DIR CONSUMER_SRC_DIR [MPIEXEC] [CMAKE]
set -euo pipefail

die() { echo "install-consumer: FAILED: $*" >&2; exit 1; }
trap 'echo "install-consumer: FAILED (line $LINENO: $BASH_COMMAND)" >&2' ERR

build_dir=$(cd "${1:?usage: run.sh BUILD_DIR CONSUMER_SRC_DIR [MPIEXEC] [CMAKE]}" && pwd)
consumer_src=$(cd "${2:?usage: run.sh BUILD_DIR CONSUMER_SRC_DIR [MPIEXEC] [CMAKE]}" && pwd)
mpiexec=${3:-mpiexec}
cmake=${4:-cmake}
cc=${CC:-cc}

[[ -f "$build_dir/CMakeCache.txt" ]] || die "$build_dir is not a CMake build tree"

work=$(mktemp -d "${TMPDIR:-/tmp}/darray-install-test.XXXXXX")
cleanup() { rm -rf "$work"; }
trap cleanup EXIT

prefix="$work/prefix"
export OPENBLAS_NUM_THREADS=1
export OMPI_MCA_rmaps_base_oversubscribe=1
mpirun_args=(--allow-run-as-root --oversubscribe -n 2)

echo "== install $build_dir -> $prefix"
"$cmake" --install "$build_dir" --prefix "$prefix"

[[ -f "$prefix/include/darray.h" ]] || die "darray.h not installed"
[[ -f "$prefix/include/darray/version.h" ]] || die "darray/version.h not installed"
cfg=$(find "$prefix" -name DArrayConfig.cmake -print -quit)
[[ -n "$cfg" ]] || die "DArrayConfig.cmake not installed"
pc=$(find "$prefix" -name darray.pc -print -quit)
[[ -n "$pc" ]] || die "darray.pc not installed"

echo "== consumer via find_package(DArray)"
"$cmake" -S "$consumer_src" -B "$work/consumer-build" \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release
"$cmake" --build "$work/consumer-build" --verbose
out=$("$mpiexec" "${mpirun_args[@]}" "$work/consumer-build/consumer")
echo "$out"
grep -q "consumer ok" <<<"$out" || die "cmake consumer did not print 'consumer ok'"

echo "== consumer via pkg-config"
pc_dir=$(dirname "$pc")
export PKG_CONFIG_PATH="$pc_dir${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
pkg-config --exists --print-errors darray || die "pkg-config cannot find darray"
pc_flags=$(pkg-config --cflags --libs darray)
pc_libdir=$(pkg-config --variable=libdir darray)
echo "pkg-config --cflags --libs darray: $pc_flags"
# shellcheck disable=SC2086 # word splitting of the flags is intended
"$cc" -std=c17 -o "$work/consumer-pc" "$consumer_src/consumer.c" $pc_flags -Wl,-rpath,"$pc_libdir"
out=$("$mpiexec" "${mpirun_args[@]}" "$work/consumer-pc")
echo "$out"
grep -q "consumer ok" <<<"$out" || die "pkg-config consumer did not print 'consumer ok'"

echo "install-consumer: PASSED"
