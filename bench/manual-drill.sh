#!/usr/bin/env bash
# The manual restore drill of the closeout record (shared/reference/closeout-record-KB-7F26.txt), as a plain shell
# script: identity read, pg_dump to a file, sha256sum + SHA256SUMS -c, grep content checks, initdb + start a
# throwaway cluster as the postgres OS user, psql restore, exact row counts against the source, stop and delete,
# identity read again. Benchmark variant (a) of bench/drill-bench.ts; not a tool.
#
# Environment: PGBIN (PostgreSQL programs), PGHOST/PGPORT/PGUSER/PGDATABASE (the source), WORK (an empty directory
# the postgres OS user can traverse), RUN_AS (OS user of the throwaway cluster, default postgres),
# FAST=1 (durability off in the throwaway cluster, like pgdrill's sandbox; default: PostgreSQL's defaults, as the
# record's operator used). Prints "phase <name> <seconds since start>" lines.
set -euo pipefail
: "${PGBIN:?}" "${WORK:?}" "${PGDATABASE:?}"
RUN_AS=${RUN_AS:-postgres}
t0=$(date +%s.%N)
phase() { echo "phase $1 $(echo "$(date +%s.%N) - $t0" | bc)"; }
as() { runuser -u "$RUN_AS" -- "$@"; }

# §1 identity guard (read before any action)
sysid_before=$("$PGBIN/psql" -X -At -c 'SELECT system_identifier FROM pg_control_system()')
phase identity

# §2 fresh backup + checksum self-check
cd "$WORK"
"$PGBIN/pg_dump" --no-password -f dump.sql
phase pg_dump
sha256sum dump.sql > SHA256SUMS
phase sha256sum
sha256sum -c --quiet SHA256SUMS
phase sha256sum_check

# §3 content check by grep: trailer, no psql meta-command but pg_dump's own, the tables are there
tail -n 20 dump.sql | grep -q -- '-- PostgreSQL database dump complete'
if grep -qE '^\\[!ogiwsc]' dump.sql; then echo "psql meta-command in the dump" >&2; exit 1; fi
tables=$("$PGBIN/psql" -X -At -c "SELECT quote_ident(schemaname)||'.'||quote_ident(tablename) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog','information_schema') ORDER BY 1")
for t in $tables; do grep -q "^CREATE TABLE $t " dump.sql; done
phase grep

# §4 isolated restore: a throwaway cluster, Unix socket only
mkdir -m 700 restore sock
chown "$RUN_AS" restore sock
initdb_flags=(-D restore/data -U postgres --auth=trust --no-instructions)
[ "${FAST:-0}" = 1 ] && initdb_flags+=(--no-sync)
as "$PGBIN/initdb" "${initdb_flags[@]}" > /dev/null
opts="-c listen_addresses='' -k $WORK/sock -p 5432"
[ "${FAST:-0}" = 1 ] && opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_wal_size=4GB"
as "$PGBIN/pg_ctl" -D restore/data -l restore/log -o "$opts" -w start > /dev/null
phase initdb_start
R=(-X -h "$WORK/sock" -p 5432 -U postgres)
restore_sysid=$(as "$PGBIN/psql" "${R[@]}" -d postgres -At -c 'SELECT system_identifier FROM pg_control_system()')
[ "$restore_sysid" != "$sysid_before" ]
as "$PGBIN/psql" "${R[@]}" -d postgres -q -c "CREATE DATABASE \"$PGDATABASE\""
as "$PGBIN/psql" "${R[@]}" -d "$PGDATABASE" -q -v ON_ERROR_STOP=1 -f dump.sql > /dev/null
phase psql_restore

# exact row counts, source against restored copy
for t in $tables; do
  src=$("$PGBIN/psql" -X -At -c "SELECT count(*) FROM $t")
  dst=$(as "$PGBIN/psql" "${R[@]}" -d "$PGDATABASE" -At -c "SELECT count(*) FROM $t")
  [ "$src" = "$dst" ] || { echo "count mismatch $t: $src vs $dst" >&2; exit 1; }
done
phase counts

# §5 teardown, confirmed
as "$PGBIN/pg_ctl" -D restore/data -m fast -w stop > /dev/null
rm -rf restore sock
[ ! -e restore ]
phase teardown

# §6 production untouched
sysid_after=$("$PGBIN/psql" -X -At -c 'SELECT system_identifier FROM pg_control_system()')
[ "$sysid_after" = "$sysid_before" ]
phase done
