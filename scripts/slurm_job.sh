# Sourced by the batch scripts of `run_all.sh --slurm` (synvid/slurm.py writes them to runs/<profile>/slurm/).
#
#   run_job DONE_MARKER COMMAND...
#
# Runs COMMAND in the background so that the batch shell can take the warning signal (sbatch --signal=B:USR1@T,
# sent T seconds before the time limit or on preemption): the shell forwards it as SIGTERM to the run (srun passes
# it on to torchrun, torchrun to its workers), whose engine saves last.pth at the step boundary and exits with 75
# (synvid.engine.common.PREEMPTED_EXIT); the job then requeues itself and the rerun resumes from last.pth.
# DONE_MARKER is written only when COMMAND succeeded; run_all.sh --slurm skips a job that has it.
PREEMPTED_EXIT=75

run_job() {
  local marker=$1 child rc seen warned=0
  shift
  echo "== job ${SLURM_JOB_ID:-?} (restart ${SLURM_RESTART_COUNT:-0}) on $(hostname) at $(date -u +%FT%TZ): $*"
  trap 'warned=$((warned + 1)); echo "== warning signal: checkpointing and requeueing"; kill -TERM "$child" 2>/dev/null' USR1
  "$@" &
  child=$!
  while :; do   # `wait` returns early when the trap ran: wait again for the run's own exit status
    seen=$warned; wait "$child"; rc=$?
    [ "$warned" = "$seen" ] && break
  done
  trap - USR1
  if [ "$rc" = 0 ]; then
    date -u +%FT%TZ >"$marker"
    echo "== done"
    return 0
  fi
  if [ "$warned" -gt 0 ] || [ "$rc" = "$PREEMPTED_EXIT" ]; then
    echo "== stopped with last.pth saved (exit $rc); requeueing job ${SLURM_JOB_ID:-?}"
    scontrol requeue "${SLURM_JOB_ID:?}" && exit 0
  fi
  echo "== failed with exit $rc; rerun run_all.sh --slurm to resubmit (it resumes from last.pth)"
  exit "$rc"
}
