#!/usr/bin/env bash
# Stop the SLURM daemons that start_slurm.sh started (listed in /run/iml-slurm/started), by the PIDs
# in their pid files, in reverse start order; daemons it found already running are left alone.
# `stop_slurm.sh --all` stops slurmd, slurmctld and munged whoever started them. Run as root.
set -uo pipefail

STATE=/run/iml-slurm/started
declare -A PIDFILE=([slurmd]=/run/slurmd.pid [slurmctld]=/run/slurmctld.pid [munged]=/run/munge/munged.pid)

if [ "${1:-}" = --all ]; then
    daemons="slurmd slurmctld munged"
elif [ -s "$STATE" ]; then
    daemons=$(tac "$STATE")
else
    echo "stop_slurm.sh: nothing recorded in $STATE; nothing to stop"
    exit 0
fi

status=0
for daemon in $daemons; do
    pidfile=${PIDFILE[$daemon]}
    pid=$(cat "$pidfile" 2>/dev/null || true)
    if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then
        continue
    fi
    kill -TERM "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
        echo "stop_slurm.sh: $daemon ($pid) ignored SIGTERM for 10 s; SIGKILL" >&2
        kill -KILL "$pid" || status=1
    fi
    echo "stop_slurm.sh: stopped $daemon ($pid)"
done
rm -f "$STATE"
exit $status
