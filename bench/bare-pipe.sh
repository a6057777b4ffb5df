#!/usr/bin/env bash
# The bare lower bound of a restore drill, benchmark variant (c) of bench/drill-bench.ts: initdb and start a
# throwaway cluster (with pgdrill's sandbox settings), then `pg_dump | psql` into it — no file, no checksum, no
# scan, no counts — then stop and delete it. Prints "phase <name> <seconds since start>" lines.
#
# Environment: PGBIN, PGHOST/PGPORT/PGUSER/PGDATABASE (the source), WORK (an empty directory RUN_AS can traverse),
# RUN_AS (OS user of the throwaway cluster, default pgdrill-sandbox).
set -euo pipefail
: "${PGBIN:?}" "${WORK:?}" "${PGDATABASE:?}"
RUN_AS=${RUN_AS:-pgdrill-sandbox}
t0=$(date +%s.%N)
phase() { echo "phase $1 $(echo "$(date +%s.%N) - $t0" | bc)"; }
as() { runuser -u "$RUN_AS" -- "$@"; }
cd "$WORK"
mkdir -m 700 restore sock
chown "$RUN_AS" restore sock
as "$PGBIN/initdb" -D restore/data -U postgres --auth=trust --encoding=UTF8 --locale=C --no-sync --no-instructions > /dev/null
opts="-c listen_addresses='' -k $WORK/sock -p 5432 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_wal_size=4GB -c checkpoint_timeout=30min"
as "$PGBIN/pg_ctl" -D restore/data -l restore/log -o "$opts" -w start > /dev/null
as "$PGBIN/psql" -X -h "$WORK/sock" -p 5432 -U postgres -d postgres -q -c "CREATE DATABASE \"$PGDATABASE\" TEMPLATE template0"
phase initdb_start
"$PGBIN/pg_dump" --no-password | as "$PGBIN/psql" -X -h "$WORK/sock" -p 5432 -U postgres -d "$PGDATABASE" -q -v ON_ERROR_STOP=1 > /dev/null
phase pipe
as "$PGBIN/pg_ctl" -D restore/data -m fast -w stop > /dev/null
rm -rf restore sock
phase done
