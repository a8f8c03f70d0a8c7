#!/usr/bin/env bash
# A real one-node SLURM cluster for tests/test_slurm.py (Debian packages, no systemd needed).
#
#   tests/slurm/setup_slurm.sh STATE_DIR     install if needed, configure, start, wait until idle
#   tests/slurm/teardown_slurm.sh STATE_DIR  stop what this script started, remove its config
#
# slurm.conf and gres.conf go to /etc/slurm, the default path: the slurm-jobstep executor plugin
# strips SLURM_CONF from the job environment, so a config elsewhere is not found by the `srun` it
# runs inside each job. An existing slurm.conf this script did not write is never touched (exit 3).
# Spool, state, logs and pid files live in STATE_DIR, and the two records of finished jobs the tests
# read: STATE_DIR/jobcomp.log (slurmctld's job completion log: state, work dir) and STATE_DIR/jobs.log
# (the GPUs of each job, from the node's epilog).
# One node named after this host at 127.0.0.1 with all its CPUs, ~90 % of its memory and one fake
# GPU (gres gpu:1 backed by /dev/null), one partition `main` (the name profiles/slurm uses).
#
# Exit codes: 0 cluster up; 3 SLURM is not installed and cannot be (not root, no apt-get, install
# failed, foreign slurm.conf): the reason is the last line of stderr; 1 anything else.
# SLURM_SETUP_NO_INSTALL=1 forbids the apt-get install (exit 3 instead).
set -euo pipefail

STATE=${1:?usage: setup_slurm.sh STATE_DIR}
mkdir -p "$STATE"
STATE=$(cd "$STATE" && pwd)
PARTITION=main
PACKAGES=(slurmctld slurmd slurm-client munge)
CONF_DIR=/etc/slurm
MARKER="# written by tests/slurm/setup_slurm.sh"

skip() { echo "SLURM not installed: $*" >&2; exit 3; }
log() { echo "setup_slurm: $*" >&2; }

# -- 1. install ------------------------------------------------------------------------------------
have_all() {
    [[ -x /usr/sbin/slurmctld && -x /usr/sbin/slurmd && -x /usr/sbin/munged ]] &&
        command -v sbatch >/dev/null && command -v sinfo >/dev/null
}
if ! have_all; then
    [[ ${SLURM_SETUP_NO_INSTALL:-0} == 1 ]] && skip "slurmctld/slurmd/munge missing and SLURM_SETUP_NO_INSTALL=1"
    [[ $(id -u) == 0 ]] || skip "slurmctld/slurmd/munge missing and not root (as root: apt-get install ${PACKAGES[*]})"
    command -v apt-get >/dev/null || skip "slurmctld/slurmd/munge missing and no apt-get on this machine"
    log "installing ${PACKAGES[*]} (apt-get)"
    start=$(date +%s)
    export DEBIAN_FRONTEND=noninteractive
    # a stale package index makes `install` fail with 404s: update first
    if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}"; } >"$STATE/apt.log" 2>&1; then
        tail -n 20 "$STATE/apt.log" >&2
        skip "apt-get install ${PACKAGES[*]} failed (log: $STATE/apt.log)"
    fi
    log "installed in $(($(date +%s) - start)) s"
    have_all || skip "apt-get install ran but slurmctld/slurmd/munged are still missing"
fi

# -- 2. configure ------------------------------------------------------------------------------------
if [[ -e $CONF_DIR/slurm.conf ]] && ! grep -qF "$MARKER" "$CONF_DIR/slurm.conf"; then
    skip "this machine has its own $CONF_DIR/slurm.conf (not written by this script); not touching it"
fi
HOST=$(hostname -s)
CPUS=$(nproc)
MEM_MB=$(awk '/MemTotal/ {printf "%d", $2 / 1024 * 0.9}' /proc/meminfo)
mkdir -p "$STATE/spool" "$STATE/state" "$STATE/log" "$CONF_DIR"
cat >"$CONF_DIR/slurm.conf" <<EOF
$MARKER ($STATE): one node, for tests only
ClusterName=partbased-test
SlurmctldHost=${HOST}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=${STATE}/state
SlurmdSpoolDir=${STATE}/spool
SlurmctldPidFile=${STATE}/slurmctld.pid
SlurmdPidFile=${STATE}/slurmd.pid
SlurmctldLogFile=${STATE}/log/slurmctld.log
SlurmdLogFile=${STATE}/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
# every finished job, one line each (JobState, WorkDir): what the tests read, since slurmctld
# forgets a job MinJobAge seconds after it ends, long before a slow test suite asks
JobCompType=jobcomp/filetxt
JobCompLoc=${STATE}/jobcomp.log
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
# squeue-based status checks need finished jobs kept >= 3x the first status interval
MinJobAge=300
# the GPUs each job was given, from the node's epilog (jobcomp has no GRES without slurmdbd)
Epilog=${STATE}/record_job.sh
GresTypes=gpu
NodeName=${HOST} NodeAddr=127.0.0.1 CPUs=${CPUS} RealMemory=${MEM_MB} Gres=gpu:1 State=UNKNOWN
PartitionName=${PARTITION} Nodes=${HOST} Default=YES MaxTime=INFINITE State=UP
EOF
cat >"$STATE/record_job.sh" <<'END'
#!/bin/sh
# slurmd's Epilog: one line per finished job; Gpus= is empty when the job got no GPU
echo "JobId=$SLURM_JOB_ID Gpus=${SLURM_JOB_GPUS:-} WorkDir=$SLURM_JOB_WORK_DIR" >>"$(dirname "$0")/jobs.log"
END
chmod 755 "$STATE/record_job.sh"
cat >"$CONF_DIR/gres.conf" <<EOF
$MARKER
NodeName=${HOST} Name=gpu File=/dev/null
EOF
unset SLURM_CONF

# -- 3. start ------------------------------------------------------------------------------------
alive() { [[ -s $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

if ! pgrep -x munged >/dev/null; then
    if [[ ! -s /etc/munge/munge.key ]]; then
        /usr/sbin/mungekey --create >/dev/null 2>&1 || dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
    fi
    chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
    mkdir -p /run/munge /var/log/munge /var/lib/munge
    chown munge:munge /run/munge /var/log/munge /var/lib/munge
    runuser -u munge -- /usr/sbin/munged
    for _ in $(seq 1 25); do [[ -s /run/munge/munged.pid ]] && break; sleep 0.2; done
    cp /run/munge/munged.pid "$STATE/munged.pid"
    touch "$STATE/started-munged" # ours: teardown stops it
fi
alive "$STATE/slurmctld.pid" || /usr/sbin/slurmctld
alive "$STATE/slurmd.pid" || /usr/sbin/slurmd

# -- 4. wait until the node is idle --------------------------------------------------------------
state=""
for _ in $(seq 1 60); do
    state=$(sinfo -h -N -n "$HOST" -o %T 2>/dev/null || true)
    if [[ $state == idle* ]]; then
        log "node $HOST idle (partition $PARTITION, $CPUS CPUs, ${MEM_MB} MB, gres gpu:1)"
        exit 0
    fi
    sleep 1
done
log "node never became idle (last state: '${state:-none}'); logs in $STATE/log"
tail -n 20 "$STATE/log/slurmctld.log" "$STATE/log/slurmd.log" >&2 || true
exit 1
