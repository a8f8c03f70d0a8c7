#!/usr/bin/env bash
# Undo tests/slurm/setup_slurm.sh STATE_DIR: cancel leftover jobs, stop slurmd and slurmctld (by the
# pid files in STATE_DIR), stop munged only if setup started it, and remove /etc/slurm/slurm.conf and
# gres.conf if setup wrote them. (With slurm-client installed, a slurm.conf that points at a stopped
# slurmctld makes every later `snakemake` call ~10 s slower: the slurm executor plugin runs
# `scontrol show config` when it is loaded.) Idempotent; never kills by process name.
set -uo pipefail

STATE=${1:?usage: teardown_slurm.sh STATE_DIR}
MARKER="# written by tests/slurm/setup_slurm.sh"
[[ -d $STATE ]] || exit 0

stop() { # stop PIDFILE: SIGTERM, wait up to 10 s, then SIGKILL
    local pidfile=$1 pid
    [[ -s $pidfile ]] || return 0
    pid=$(cat "$pidfile")
    kill -0 "$pid" 2>/dev/null || return 0
    kill "$pid" 2>/dev/null
    for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.2
    done
    kill -9 "$pid" 2>/dev/null
}

if [[ -s $STATE/slurmctld.pid ]] && kill -0 "$(cat "$STATE/slurmctld.pid")" 2>/dev/null; then
    timeout 10 scancel --quiet --partition main 2>/dev/null
fi
stop "$STATE/slurmd.pid"
stop "$STATE/slurmctld.pid"
if [[ -f $STATE/started-munged ]]; then
    stop "$STATE/munged.pid"
    rm -f "$STATE/started-munged"
fi
for f in /etc/slurm/slurm.conf /etc/slurm/gres.conf; do
    [[ -f $f ]] && grep -qF "$MARKER" "$f" && rm -f "$f"
done
exit 0
