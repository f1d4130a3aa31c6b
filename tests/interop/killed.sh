#!/usr/bin/env bash
# Nothing lost: a writer killed (SIGKILL) in the middle of replacing a file or Zarr store
# leaves the previous version intact and readable, and a later write still succeeds.
#   killed.sh MPIEXEC DA_INTEROP h5|zarr
set -uo pipefail
mpiexec=$1 helper=$2 fmt=$3
tmp=$(mktemp -d "${TMPDIR:-/tmp}/da-killed.XXXXXX")
writer=
cleanup() {
  [[ -n $writer ]] && kill -KILL -- "-$writer" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
path="$tmp/a.$fmt"
run_c() { "$mpiexec" --oversubscribe --allow-run-as-root -n 2 "$helper" "$@"; }
fail() { echo "killed.sh ($fmt): FAIL: $*" >&2; exit 1; }
v1=(float64 100x60 32x32 none --seed 1)

run_c write "$fmt" "$path" "${v1[@]}" || fail "writing the first version"
run_c read "$fmt" "$path" "${v1[@]}" || fail "reading the first version"

# The second version: 256 MiB, in its own process group so that the kill reaches mpirun
# and both ranks at once. Kill it once its temporary file/directory holds some data.
setsid "$mpiexec" --oversubscribe --allow-run-as-root -n 2 "$helper" big "$fmt" "$path" 256 \
  >"$tmp.log" 2>&1 &
writer=$!
killed=0
for ((i = 0; i < 12000; i++)); do # up to 120 s on a loaded machine
  if ! kill -0 "$writer" 2>/dev/null; then
    break
  fi
  t=$(compgen -G "$path.da-tmp-*" | head -n 1)
  if [[ -n $t ]] && (($(du -sb "$t" 2>/dev/null | cut -f1) > 4 * 1024 * 1024)); then
    [[ $(ps -o pgid= -p "$writer" | tr -d ' ') == "$writer" ]] || fail "writer is not a group leader"
    # mpirun and every process under it (the ranks may have process groups of their own).
    pids=("$writer") k=0
    while ((k < ${#pids[@]})); do
      pids+=($(ps -o pid= --ppid "${pids[k]}" 2>/dev/null)) k=$((k + 1))
    done
    kill -KILL -- "-$writer" "${pids[@]}" 2>/dev/null
    killed=1
    break
  fi
  sleep 0.01
done
wait "$writer" 2>/dev/null
status=$?
writer=
((killed)) || { cat "$tmp.log" >&2; rm -f "$tmp.log"; fail "the second write ended (status $status) before it could be killed mid-way"; }
rm -f "$tmp.log"
echo "killed.sh ($fmt): killed the writer mid-way (status $status; left: $(cd "$tmp" && echo *))"

run_c read "$fmt" "$path" "${v1[@]}" || fail "the first version is not intact after the kill"
# A write after the kill still replaces the target (the leftover temporary is ignored).
v3=(int32 70x50 16x16 none --seed 3)
run_c write "$fmt" "$path" "${v3[@]}" || fail "writing after the kill"
run_c read "$fmt" "$path" "${v3[@]}" || fail "reading the write after the kill"
echo "killed.sh ($fmt): previous version intact after SIGKILL mid-write"
