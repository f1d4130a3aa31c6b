#!/usr/bin/env bash
# darray.sh -- build, demo, test and benchmark entry point for darray.
#
#   ./darray.sh demo [OPT...]   install deps, build Release in build/, run darray-topo on the real
#                               DEM on 2 ranks (output in topo-out/; OPTs go to darray-topo)
#   ./darray.sh test            install deps, build build/ (Release, -Werror) and run ctest (incl.
#                               the Slurm test), then build-asan/ (Debug, ASan+UBSan, -Werror) and
#                               run ctest, then build-fuzz/ (clang, libFuzzer) and fuzz each target
#                               for 30 s
#   ./darray.sh bench [NAME...] install deps, build Release, run darray-bench NAME... on 2 ranks
#   ./darray.sh build           install deps and build Release in build/ only
#
# Environment: DARRAY_JOBS (build/ctest parallelism, default 2), DARRAY_NP (ranks for demo and
# bench, default 2), DARRAY_FUZZ_SECONDS (per fuzz target, default 30), DARRAY_SKIP_DEPS=1 (do not
# check/install Debian packages).
# Works without a terminal (CI=true, no stdin). Exits non-zero if anything fails.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$ROOT"

JOBS=${DARRAY_JOBS:-2}
NP=${DARRAY_NP:-2}
BUILD_DIR="$ROOT/build"
ASAN_DIR="$ROOT/build-asan"
FUZZ_DIR="$ROOT/build-fuzz"
BIN_DIR="$BUILD_DIR/bin"

PACKAGES=(build-essential cmake pkg-config libopenmpi-dev openmpi-bin
          libscalapack-openmpi-dev libhdf5-openmpi-dev libopenblas-dev
          zlib1g-dev libzstd-dev libblosc-dev libjansson-dev libzip-dev libpng-dev
          python3-h5py python3-zarr python3-dask python-matplotlib-data)
# Only `test` needs these: -fsanitize=fuzzer links libclang_rt.fuzzer, which is in libclang-rt-dev
# (only recommended by clang, and apt-get runs here without recommends).
FUZZ_PACKAGES=(clang libclang-rt-dev)
# Only `test` needs these too: the Slurm test (tests/slurm/run.sh) starts a single-node Slurm.
SLURM_PACKAGES=(slurm-wlm munge)

# Open MPI settings that make mpirun usable as root, oversubscribed, and inside containers
# (CMA single-copy via process_vm_readv is often forbidden there).
export OMPI_ALLOW_RUN_AS_ROOT=1
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_btl_vader_single_copy_mechanism=${OMPI_MCA_btl_vader_single_copy_mechanism:-none}
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
export DEBIAN_FRONTEND=noninteractive
MPIRUN=(mpirun --allow-run-as-root --oversubscribe -x OPENBLAS_NUM_THREADS=1)

log() { printf '\n==> %s\n' "$*"; }
die() { printf 'darray.sh: error: %s\n' "$*" >&2; exit 1; }

usage() {
  sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

# ---------------------------------------------------------------------------
# Dependencies
# ---------------------------------------------------------------------------
# ensure_packages [extra packages...]: PACKAGES plus the extras.
ensure_packages() {
  if [[ "${DARRAY_SKIP_DEPS:-0}" == 1 ]]; then
    return 0
  fi
  if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "darray.sh: dpkg-query not found (not Debian?); assuming dependencies are installed" >&2
    return 0
  fi
  local missing=() p
  for p in "${PACKAGES[@]}" "$@"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
      missing+=("$p")
    fi
  done
  if ((${#missing[@]} == 0)); then
    return 0
  fi
  log "installing missing packages: ${missing[*]}"
  local sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || die "need root or sudo to install: ${missing[*]}"
    if [[ -t 0 ]]; then
      sudo=(sudo env DEBIAN_FRONTEND=noninteractive)
    else
      sudo=(sudo -n env DEBIAN_FRONTEND=noninteractive)
    fi
  fi
  "${sudo[@]}" apt-get update </dev/null
  "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}" </dev/null
}

# ---------------------------------------------------------------------------
# Build
# ---------------------------------------------------------------------------
# configure_build DIR BUILD_TYPE [extra cmake args...]; $BUILD_TARGET, when set, is all it builds.
configure_build() {
  local dir=$1 type=$2
  shift 2
  log "configure $dir ($type $*)"
  cmake -S "$ROOT" -B "$dir" -DCMAKE_BUILD_TYPE="$type" "$@" </dev/null || return 1
  log "build $dir${BUILD_TARGET:+ (target $BUILD_TARGET)}"
  cmake --build "$dir" -j "$JOBS" ${BUILD_TARGET:+--target "$BUILD_TARGET"} </dev/null || return 1
}

build_release() {
  configure_build "$BUILD_DIR" Release
}

# run_ctest DIR LOG [extra ctest args...]; prints ctest's summary afterwards.
run_ctest() {
  local dir=$1 logf=$2
  shift 2
  log "ctest in $dir"
  local rc=0
  (cd "$dir" && ctest --output-on-failure --no-label-summary -j "$JOBS" "$@" </dev/null) 2>&1 | tee "$logf" ||
    rc=$?
  return "$rc"
}

ctest_summary() {
  local name=$1 logf=$2
  echo "--- $name:"
  if [[ ! -s "$logf" ]]; then
    echo "(not run)"
  elif grep -q 'tests passed,' "$logf"; then
    sed -n '/tests passed,/,$p' "$logf"
  else
    grep -E 'No tests were found|Errors while running CTest' "$logf" || tail -n 5 "$logf"
  fi
}

# ---------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------
cmd_build() {
  ensure_packages
  build_release
}

# The main job: darray-topo's topography analysis of the real DEM (from python-matplotlib-data),
# writing topo-out/ (topo.h5, PNG pictures, report.txt). darray-demo stands in if darray-topo
# was not built.
cmd_demo() {
  ensure_packages
  build_release
  if [[ -x "$BIN_DIR/darray-topo" ]]; then
    log "mpirun -np $NP darray-topo --input dem --output topo-out $*"
    "${MPIRUN[@]}" -np "$NP" "$BIN_DIR/darray-topo" --input dem --output topo-out "$@" </dev/null
    return
  fi
  echo "darray.sh: $BIN_DIR/darray-topo was not built; running darray-demo instead" >&2
  [[ -x "$BIN_DIR/darray-demo" ]] || die "$BIN_DIR/darray-demo was not built either"
  log "mpirun -np $NP darray-demo"
  "${MPIRUN[@]}" -np "$NP" "$BIN_DIR/darray-demo" </dev/null
}

cmd_bench() {
  ensure_packages
  build_release
  [[ -x "$BIN_DIR/darray-bench" ]] || die "$BIN_DIR/darray-bench was not built"
  log "mpirun -np $NP darray-bench $*"
  "${MPIRUN[@]}" -np "$NP" "$BIN_DIR/darray-bench" "$@" </dev/null
}

cmd_test() {
  ensure_packages "${FUZZ_PACKAGES[@]}" "${SLURM_PACKAGES[@]}"
  local logdir failed=()
  logdir=$(mktemp -d "${TMPDIR:-/tmp}/darray-test.XXXXXX")

  # 1. Release build with -Werror, full test suite (incl. install-consumer and slurm).
  if configure_build "$BUILD_DIR" Release -DDARRAY_WERROR=ON; then
    run_ctest "$BUILD_DIR" "$logdir/release.log" || failed+=("ctest (build/)")
  else
    failed+=("build (build/)")
  fi

  # 2. Debug build with ASan + UBSan and -Werror (install-consumer is not registered there; the
  # Slurm test only runs the same programs again, so it is left to the Release stage).
  if configure_build "$ASAN_DIR" Debug -DDARRAY_SANITIZE=ON -DDARRAY_WERROR=ON; then
    run_ctest "$ASAN_DIR" "$logdir/asan.log" -LE 'install|slurm' || failed+=("ctest (build-asan/)")
  else
    failed+=("build (build-asan/)")
  fi

  # 3. libFuzzer targets (tests/fuzz/, clang only), each fuzzed from a copy of tests/fuzz/corpus;
  # a crash, sanitizer report, leak or hang fails. Debug: builds in a quarter of the time of -O2
  # and fuzzes as fast (the time goes to the uninstrumented JSON library). Only the fuzz targets
  # are built and registered.
  if BUILD_TARGET=fuzz configure_build "$FUZZ_DIR" Debug -DCMAKE_C_COMPILER=clang \
    -DDARRAY_FUZZ=ON -DDARRAY_FUZZ_SECONDS="${DARRAY_FUZZ_SECONDS:-30}" \
    -DDARRAY_BUILD_APPS=OFF -DDARRAY_BUILD_TESTS=OFF; then
    run_ctest "$FUZZ_DIR" "$logdir/fuzz.log" -L fuzz || failed+=("fuzz (build-fuzz/)")
  else
    failed+=("build (build-fuzz/)")
  fi

  log "summary"
  ctest_summary "build/ (Release, -Werror)" "$logdir/release.log"
  ctest_summary "build-asan/ (Debug, ASan+UBSan, -Werror)" "$logdir/asan.log"
  ctest_summary "build-fuzz/ (Debug, libFuzzer+ASan+UBSan)" "$logdir/fuzz.log"
  rm -rf "$logdir"
  if ((${#failed[@]})); then
    echo
    echo "darray.sh test: FAILED: ${failed[*]}"
    return 1
  fi
  echo
  echo "darray.sh test: all passed"
}

main() {
  local cmd=${1:-}
  (($#)) && shift
  case "$cmd" in
    demo) cmd_demo "$@" ;;
    test) cmd_test "$@" ;;
    bench) cmd_bench "$@" ;;
    build) cmd_build "$@" ;;
    -h | --help | help) usage ;;
    "") usage; exit 2 ;;
    *) usage >&2; die "unknown command: $cmd" ;;
  esac
}

main "$@"
