#!/usr/bin/env bash
# Start a single-node SLURM on this machine (controller and compute node on one host), for the tests
# and for trying `snakemake --profile profiles/slurm` without a cluster. Run as root. Installs nothing:
# the Debian packages slurmctld slurmd slurm-client munge must be there (.ci/run installs them).
#
# Idempotent: writes /etc/slurm/slurm.conf for this host (refusing to replace one it did not write),
# starts only the daemons (munged, slurmctld, slurmd) that are not already running and records them in
# /run/iml-slurm/started, so that stop_slurm.sh stops those and no others. Waits until `sinfo` shows
# the node idle (IML_SLURM_TIMEOUT seconds, default 60), else exits 1 with the daemons' log tails.
# Exits 3 without touching anything where it cannot run: not root, SLURM or munge missing, or a
# slurm.conf that this script did not write (a real cluster's). IML_SLURM_PARTITION names the partition.
# No systemd, no accounting storage (slurmdbd): Snakemake's SLURM plugin must query job status with
# squeue (profiles/slurm sets it), which sees finished jobs for MinJobAge seconds (900 here).
# The settings follow a single-node SLURM measured on a machine of this kind (2 cores, no systemd).
set -euo pipefail

PARTITION=${IML_SLURM_PARTITION:-debug}
TIMEOUT=${IML_SLURM_TIMEOUT:-60}
CONF=/etc/slurm/slurm.conf
MARKER="# written by tests/slurm/start_slurm.sh"
STATE=/run/iml-slurm
LOGDIR=/var/log/slurm

die() { echo "start_slurm.sh: $*" >&2; exit 1; }
refuse() { echo "start_slurm.sh: $*" >&2; exit 3; } # exit status 3: cannot run here (tests skip)

[ "$(id -u)" = 0 ] || refuse "must run as root (it starts munged, slurmctld and slurmd)"
for bin in /usr/sbin/munged /usr/sbin/slurmctld /usr/sbin/slurmd sinfo scontrol sbatch squeue; do
    command -v "$bin" >/dev/null || refuse "$bin not found: apt-get install slurmctld slurmd slurm-client munge"
done

host=$(hostname -s)
cpus=$(nproc)
mem_total_mb=$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo)
real_mem=$((mem_total_mb * 9 / 10)) # below what slurmd measures, or the node is refused as invalid

# --- slurm.conf -------------------------------------------------------------------------------
new_conf=$(cat <<CONF
$MARKER: a single-node SLURM for the tests; rewritten on every start
ClusterName=iml
SlurmctldHost=$host
SlurmUser=slurm
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
# squeue (the status command without accounting) sees a finished job for MinJobAge seconds (SLURM's
# default 300); the Snakemake plugin falls back to sacct (which hangs without accounting) below 3 x its
# first-check delay. 900 keeps a test run's jobs visible to squeue until the test has checked them.
MinJobAge=900
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$LOGDIR/slurmctld.log
SlurmdLogFile=$LOGDIR/slurmd.log
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
NodeName=$host CPUs=$cpus RealMemory=$real_mem State=UNKNOWN
PartitionName=$PARTITION Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
)
conf_changed=0
if [ -e "$CONF" ] && ! head -n 1 "$CONF" | grep -qF "$MARKER"; then
    refuse "$CONF exists and was not written by this script; not replacing it"
fi
if [ ! -e "$CONF" ] || [ "$(cat "$CONF")" != "$new_conf" ]; then
    mkdir -p "$(dirname "$CONF")"
    printf '%s\n' "$new_conf" > "$CONF.tmp" && mv "$CONF.tmp" "$CONF"
    conf_changed=1
fi

# --- folders ----------------------------------------------------------------------------------
mkdir -p /var/spool/slurmctld /var/spool/slurmd "$LOGDIR" /run/munge /var/log/munge /var/lib/munge "$STATE"
chown slurm:slurm /var/spool/slurmctld "$LOGDIR"
chown munge:munge /run/munge /var/log/munge /var/lib/munge
[ -s /etc/munge/munge.key ] || die "/etc/munge/munge.key is missing (the munge package creates it)"

running() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
started() { echo "$1" >> "$STATE/started"; echo "start_slurm.sh: started $1"; }

# --- daemons, in order: munged, slurmctld, slurmd -----------------------------------------------
if ! running /run/munge/munged.pid; then
    runuser -u munge -- /usr/sbin/munged
    started munged
fi
for _ in $(seq 50); do munge -n | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
munge -n | unmunge >/dev/null 2>&1 || die "munged does not answer (munge -n | unmunge)"

restart_needed=$conf_changed
if ! running /run/slurmctld.pid; then
    /usr/sbin/slurmctld
    started slurmctld
    restart_needed=0
fi
if ! running /run/slurmd.pid; then
    /usr/sbin/slurmd
    started slurmd
    restart_needed=0
fi
if [ "$restart_needed" = 1 ]; then
    scontrol reconfigure # both daemons were already up with an older slurm.conf
fi

# --- wait for the node ------------------------------------------------------------------------
deadline=$((SECONDS + TIMEOUT))
state=""
while [ $SECONDS -lt $deadline ]; do
    state=$(sinfo -h -N -n "$host" -p "$PARTITION" -o %t 2>/dev/null | head -n 1 || true)
    case "$state" in
        idle | mix | alloc) echo "start_slurm.sh: node $host is $state in partition $PARTITION ($cpus CPUs, ${real_mem} MB)"; exit 0 ;;
        drain* | down* | inval*) scontrol update NodeName="$host" State=RESUME >/dev/null 2>&1 || true ;;
    esac
    sleep 0.5
done
{
    echo "start_slurm.sh: node $host not idle after ${TIMEOUT} s (sinfo state: '${state:-no answer}')"
    sinfo -N -l 2>&1 || true
    for log in "$LOGDIR/slurmctld.log" "$LOGDIR/slurmd.log"; do echo "--- $log"; tail -n 20 "$log" 2>/dev/null || true; done
} >&2
exit 1
