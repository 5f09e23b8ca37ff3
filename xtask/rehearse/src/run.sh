#!/bin/sh
# One rehearsal run, written by `cargo xtask rehearse` into the payload beside the bundle.
# Usage: sh run.sh IN OUT  (IN holds bundle.tar.gz; everything the run leaves goes to OUT)
# The exit status is the apply's. Every file it writes is read by bascule-rehearse (outcome.rs).
IN=$1
OUT=$2
HOST_PROFILE='{host_profile}'
ROLLBACK={rollback}
mkdir -p "$OUT/runs"
mark() { echo "$1 $(cut -d' ' -f1 /proc/uptime)" >>"$OUT/timeline"; }
mark start
cd "$IN" || exit 90
tar -xzf bundle.tar.gz || { echo "cannot unpack the bundle" >"$OUT/error"; exit 91; }
BASCULE=$(ls -d "$IN"/bascule-*/bin/bascule | head -n 1)
[ -x "$BASCULE" ] || { echo "no bin/bascule in the bundle" >"$OUT/error"; exit 92; }
digest() { "$BASCULE" digest --host "$HOST_PROFILE" >"$OUT/digest-$1.txt" 2>"$OUT/digest-$1.err"; }
# The run directory a command printed ("run <id>: log and journal in <dir>"), copied to OUT.
keep_run() {
    dir=$(sed -n 's/^run [^:]*: log and journal in //p' "$OUT/$1.out" | tail -n 1)
    [ -n "$dir" ] && [ -d "$dir" ] && cp -R "$dir" "$OUT/runs/$1"
}
digest before
mark apply
# A rehearsal is what a patch's `require_rehearsal` asks for: it cannot require itself. Nor is
# it a release: its day and the snapshot's backups are not what it tests (its disk is).
rehearsal="this run is a rehearsal (cargo xtask rehearse)"
"$BASCULE" apply --host "$HOST_PROFILE" --no-multiplexer --allow-forbidden-time "$rehearsal" \
    --allow-stale-backup "$rehearsal" --accept-differences "$rehearsal" --yes >"$OUT/apply.out" 2>&1
status=$?
echo "$status" >"$OUT/apply.status"
mark applied
keep_run apply
digest applied
if [ "$ROLLBACK" = 1 ] && [ "$status" = 0 ]; then
    mark rollback
    "$BASCULE" rollback --host "$HOST_PROFILE" --no-multiplexer >"$OUT/rollback.out" 2>&1
    echo "$?" >"$OUT/rollback.status"
    mark rolled-back
    keep_run rollback
    digest rolled-back
fi
mark end
exit "$status"
