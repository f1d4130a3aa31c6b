#!/usr/bin/env bash
# Slurm test: start a real single-node Slurm (munged, slurmctld, slurmd from Debian's slurm-wlm
# and munge) on this machine, submit slurm/darray-demo.sbatch, slurm/darray-topo.sbatch,
# slurm/darray-bench.sbatch and slurm/template.sbatch (with darray-demo as its program) with
# sbatch, wait for them and check their outputs. Everything lives in a temporary directory
# (configuration, key, sockets, state, logs); the daemons are stopped on exit, whatever
# happens, and their logs are printed when anything fails.
# Registered with CTest as `slurm` (label slurm).
#
# usage: run.sh BIN_DIR REPO_ROOT
#
# Needs root (slurmd starts jobs as their user) and no systemd. Without root or without the
# Slurm/munge programs it skips (exit 77), except under CI=true, where it fails.
# shellcheck disable=SC2317 # (the cleanup functions run from the EXIT trap)
set -uo pipefail

SKIP=77
bin_dir=${1:?usage: run.sh BIN_DIR REPO_ROOT}
repo=${2:?usage: run.sh BIN_DIR REPO_ROOT}
bin_dir=$(cd "$bin_dir" && pwd) || exit 1
repo=$(cd "$repo" && pwd) || exit 1

say() { printf 'slurm-test: %s\n' "$*"; }
# Missing prerequisites: a skip on a developer's machine, a failure in CI.
unavailable() {
  if [[ "${CI:-}" == true ]]; then
    say "FAILED: $* (CI=true: the Slurm test must run)" >&2
    exit 1
  fi
  say "SKIPPED: $*"
  exit "$SKIP"
}

[[ $(id -u) -eq 0 ]] || unavailable "needs root to run slurmd"
for p in munged munge unmunge slurmctld slurmd sbatch scontrol sinfo squeue scancel; do
  command -v "$p" >/dev/null 2>&1 ||
    unavailable "$p not found (install the Debian packages slurm-wlm and munge)"
done
for s in darray-demo darray-topo darray-bench template; do
  [[ -f "$repo/slurm/$s.sbatch" ]] || { say "FAILED: $repo/slurm/$s.sbatch missing" >&2; exit 1; }
done
[[ -x "$bin_dir/darray-demo" && -x "$bin_dir/darray-bench" ]] ||
  { say "FAILED: darray-demo or darray-bench not built in $bin_dir" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/darray-slurm.XXXXXX") || exit 1
chmod 711 "$tmp" # munged wants its socket reachable by all
jobs_dir="$tmp/jobs"
mkdir -p "$jobs_dir" "$tmp/state" "$tmp/spool"
conf="$tmp/slurm.conf"
export SLURM_CONF=$conf
munged_pid='' ctld_pid='' slurmd_pid=''
job_ids=()
last_job=''

show_logs() {
  local f d
  # A daemon's log file, else (started in the foreground: munged) its stdout and stderr.
  for d in munged slurmctld slurmd; do
    f="$tmp/$d.log"
    [[ -s "$f" ]] || f="$tmp/$d.stdout"
    [[ -s "$f" ]] || continue
    echo "----- $d: ${f#"$tmp"/} (last 60 lines)"
    tail -n 60 "$f"
  done
  for f in "$jobs_dir"/*.out; do
    [[ -s "$f" ]] || continue
    echo "----- ${f#"$tmp"/} (last 60 lines)"
    tail -n 60 "$f"
  done
  echo "----- end of logs"
}

# Stops a daemon by its pid: TERM, up to 10 s, then KILL.
stop_pid() {
  local pid=$1 i
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  return 0
}

# slurmstepd detaches from slurmd, and job processes may outlive a cancel: what is left of this
# cluster carries the SLURM_CONF=$conf that this script exported to the daemons and the jobs.
# leftovers [jobs]: sets left to those processes (not this shell, not the daemons it started;
# with `jobs`, only the jobs' processes, which have a SLURM_JOB_ID).
leftovers() {
  local d pid
  left=()
  for d in /proc/[0-9]*; do
    pid=${d#/proc/}
    case " $$ $BASHPID $munged_pid $ctld_pid $slurmd_pid " in *" $pid "*) continue ;; esac
    grep -qzxF "SLURM_CONF=$conf" "$d/environ" 2>/dev/null || continue
    [[ "${1:-}" == jobs ]] && ! grep -qz '^SLURM_JOB_ID=' "$d/environ" 2>/dev/null && continue
    left+=("$pid")
  done
}

kill_leftovers() {
  local pid left
  leftovers
  for pid in "${left[@]}"; do
    say "killing leftover process $pid ($(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-80))"
    kill -KILL "$pid" 2>/dev/null
  done
}

cleanup() {
  local rc=$? j i left
  trap - EXIT INT TERM
  if ((rc != 0)) && [[ -d "$tmp" ]]; then
    show_logs >&2
  fi
  if [[ -n "$ctld_pid" ]] && ((${#job_ids[@]})); then
    for j in "${job_ids[@]}"; do scancel "$j" 2>/dev/null; done
    # Give Slurm time to end the jobs' processes (TERM, KillWait, KILL).
    for ((i = 0; i < 30; i++)); do
      leftovers jobs
      ((${#left[@]} == 0)) && break
      sleep 0.5
    done
  fi
  stop_pid "$slurmd_pid"
  stop_pid "$ctld_pid"
  kill_leftovers
  stop_pid "$munged_pid"
  rm -rf "$tmp"
  if ((rc == 0)); then
    say "PASSED"
  else
    say "FAILED" >&2
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail() {
  say "FAILED: $*" >&2
  exit 1
}

# A TCP port on which nothing listens (slurmctld and slurmd need one each; a real Slurm on
# this machine keeps its 6817/6818).
free_port() {
  local p
  for ((p = $1; p < $1 + 200; p++)); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  return 1
}

host=$(hostname -s)
ncpu=$(nproc)
((ncpu < 2)) && ncpu=2 # the scripts run 2 tasks; config_overrides lets a 1-CPU node take them
mem_total=$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo)
mem=$((mem_total - 512))
((mem < 1024)) && mem=1024
ctld_port=$(free_port 16817) || fail "no free port for slurmctld"
slurmd_port=$(free_port $((ctld_port + 1))) || fail "no free port for slurmd"

# munged with its own key, socket, pid, seed and log, all in $tmp.
dd if=/dev/urandom of="$tmp/munge.key" bs=1024 count=1 status=none || fail "cannot write a munge key"
chmod 400 "$tmp/munge.key"
sock="$tmp/munge.socket"
munged -F --force --socket="$sock" --key-file="$tmp/munge.key" --pid-file="$tmp/munged.pid" \
  --log-file="$tmp/munged.log" --seed-file="$tmp/munged.seed" >"$tmp/munged.stdout" 2>&1 &
munged_pid=$!
for ((i = 0; i < 100; i++)); do
  [[ -S "$sock" ]] && break
  kill -0 "$munged_pid" 2>/dev/null || fail "munged exited"
  sleep 0.1
done
munge -S "$sock" -n </dev/null | unmunge -S "$sock" >/dev/null || fail "munge credentials do not work"

cat >"$conf" <<EOF
# Written by tests/slurm/run.sh: a single-node cluster for the darray Slurm test.
ClusterName=darraytest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$sock
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/slurmctld.log
SlurmdLogFile=$tmp/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# No cgroups in containers: track processes through /proc, no task binding, no accounting.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
MailProg=/bin/true
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
ReturnToService=2
InactiveLimit=0
KillWait=5
MinJobAge=300
SlurmdTimeout=60
NodeName=$host NodeAddr=127.0.0.1 CPUs=$ncpu RealMemory=$mem State=UNKNOWN
PartitionName=debug Default=YES Nodes=ALL MaxTime=INFINITE State=UP
EOF

slurmctld -D -i -f "$conf" >"$tmp/slurmctld.stdout" 2>&1 &
ctld_pid=$!
slurmd -D -f "$conf" -N "$host" >"$tmp/slurmd.stdout" 2>&1 &
slurmd_pid=$!

say "waiting for node $host to be idle (slurmctld port $ctld_port, slurmd port $slurmd_port)"
state=''
for ((i = 0; i < 600; i++)); do
  kill -0 "$ctld_pid" 2>/dev/null || fail "slurmctld exited"
  kill -0 "$slurmd_pid" 2>/dev/null || fail "slurmd exited"
  state=$(sinfo -h -n "$host" -o %T 2>/dev/null)
  [[ "$state" == idle ]] && break
  sleep 0.1
done
[[ "$state" == idle ]] || fail "node $host not idle after 60 s (state: '${state:-none}')"

# The jobs inherit this environment (sbatch's default --export=ALL): Open MPI as root, in a
# container (no CMA), oversubscribed if the node has fewer cores than tasks.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
export DARRAY_BIN=$bin_dir

# run_job NAME TIMEOUT [sbatch options...]: submits slurm/NAME.sbatch (or $jobs_dir/NAME.sbatch
# if there is one) from $jobs_dir, waits for it to end, and fails unless it COMPLETED with exit
# code 0. Its output (stdout and stderr): $jobs_dir/NAME.out.
run_job() {
  local name=$1 limit=$2 script="$repo/slurm/$1.sbatch" id info jstate code t0=$SECONDS
  shift 2
  [[ -f "$jobs_dir/$name.sbatch" ]] && script="$jobs_dir/$name.sbatch"
  # Submitted from $jobs_dir: the job's SLURM_SUBMIT_DIR, where darray-topo.sbatch writes.
  id=$(cd "$jobs_dir" && sbatch --parsable --output="$jobs_dir/$name.out" \
    --error="$jobs_dir/$name.out" --mem=1G "$@" "$script" </dev/null) ||
    fail "sbatch $script was refused"
  id=${id%%;*}
  job_ids+=("$id")
  last_job=$id
  say "job $id: $name.sbatch submitted"
  while :; do
    info=$(scontrol -o show job "$id" 2>/dev/null)
    jstate=$(sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' <<<"$info")
    case "$jstate" in
      PENDING | CONFIGURING | RUNNING | COMPLETING | SUSPENDED | '') ;;
      *) break ;;
    esac
    ((SECONDS - t0 > limit)) && fail "job $id ($name) still ${jstate:-unknown} after $limit s"
    kill -0 "$ctld_pid" 2>/dev/null || fail "slurmctld exited"
    kill -0 "$slurmd_pid" 2>/dev/null || fail "slurmd exited"
    sleep 0.5
  done
  code=$(sed -n 's/.* ExitCode=\([0-9:]*\).*/\1/p' <<<"$info")
  say "job $id: $name.sbatch $jstate, exit code $code, $((SECONDS - t0)) s"
  [[ "$jstate" == COMPLETED && "$code" == 0:0 ]] ||
    fail "job $id ($name) ended $jstate with exit code $code"
  echo "----- $name.out"
  cat "$jobs_dir/$name.out"
}

# 1. The demo on a small array: prints the statistics of its mean over axis 0 (about 10).
run_job darray-demo 90 --ntasks=2 --export=ALL,DEMO_N=2000,DEMO_CHUNKS=500
out="$jobs_dir/darray-demo.out"
grep -q '^computed on 2 ranks' "$out" || fail "darray-demo did not report its result on 2 ranks"
mean=$(awk '$1 == "mean" {print $2}' "$out")
awk -v m="$mean" 'BEGIN {exit !(m > 9.99 && m < 10.01)}' ||
  fail "darray-demo's mean is '${mean:-missing}', not about 10"

# 2. darray-topo on a small synthetic terrain: the report and the pictures.
if [[ -x "$bin_dir/darray-topo" ]]; then
  run_job darray-topo 150 --ntasks=2 --export=ALL,TOPO_N=800,TOPO_CHUNKS=200
  topo="$jobs_dir/topo-$last_job"
  [[ -d "$topo" ]] || fail "darray-topo.sbatch made no topo-$last_job directory"
  for f in report.txt topo.h5 elevation.png block_std.png slope.png; do
    [[ -s "$topo/$f" ]] || fail "darray-topo wrote no $f"
  done
  for f in elevation.png block_std.png slope.png; do
    [[ "$(head -c 8 "$topo/$f" | od -An -tx1 | tr -d ' \n')" == 89504e470d0a1a0a ]] ||
      fail "$f is not a PNG file"
  done
  # One pixel per point at this size: IHDR's width and height (bytes 16-23) are 800 (0x320).
  for f in elevation.png slope.png; do
    [[ "$(head -c 24 "$topo/$f" | tail -c 8 | od -An -tx1 | tr -d ' \n')" == 0000032000000320 ]] ||
      fail "$f is not 800 x 800 pixels"
  done
  [[ "$(head -c 8 "$topo/topo.h5" | od -An -tx1 | tr -d ' \n')" == 894844460d0a1a0a ]] ||
    fail "topo.h5 is not an HDF5 file"
  grep -q 'synthetic:800' "$topo/report.txt" || fail "report.txt does not name its input"
  say "darray-topo report:"
  cat "$topo/report.txt"
else
  say "SKIPPING the darray-topo job: $bin_dir/darray-topo is not built"
fi

# 3. darray-bench, one quick workload: one JSON line with its name, ranks and time.
run_job darray-bench 90 --ntasks=2 --export=ALL,BENCH_WORKLOADS=overhead
grep -q '^{"workload": "overhead", "ranks": 2, "seconds": [0-9.]*.*}$' "$jobs_dir/darray-bench.out" ||
  fail "darray-bench printed no JSON line for the overhead workload"

# 4. The template, with darray-demo as the program: srun --mpi=pmix starts the ranks, and the
# memory limit comes from the job's memory (3/4 of 1024 MiB over 2 ranks).
sed "s|^srun --mpi=pmix ./my-darray-program .*|srun --mpi=pmix \"\$DARRAY_BIN/darray-demo\" 1000 250|" \
  "$repo/slurm/template.sbatch" >"$jobs_dir/template.sbatch"
# shellcheck disable=SC2016 # (a literal $DARRAY_BIN)
grep -qF 'srun --mpi=pmix "$DARRAY_BIN/darray-demo" 1000 250' "$jobs_dir/template.sbatch" ||
  fail "template.sbatch has no 'srun --mpi=pmix ./my-darray-program' line to fill in"
run_job template 90 --nodes=1 --ntasks-per-node=2
grep -q 'memory limit per rank 384M' "$jobs_dir/template.out" ||
  fail "template.sbatch did not set DARRAY_MEMORY_LIMIT=384M from --mem=1G"
grep -q '^computed on 2 ranks' "$jobs_dir/template.out" ||
  fail "template.sbatch: darray-demo under srun --mpi=pmix did not run on 2 ranks"

exit 0
