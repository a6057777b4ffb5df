/**
 * pgdrill's own DDL in the restored copy (amcheck's CREATE EXTENSION, and its DROP for a kept sandbox) must not fire
 * the copy's event triggers: an auditing one would add rows to a table that the content hashes then compare with the
 * source, and a blocking one would make the DDL fail. `session_replication_role` cannot do it for every trigger (in
 * `replica` mode triggers ENABLE REPLICA and ENABLE ALWAYS still fire, in `origin` mode ENABLE and ENABLE ALWAYS do),
 * so the statement runs in one transaction with every enabled event trigger disabled around it, each set back to its
 * own mode (ENABLE, ENABLE REPLICA, ENABLE ALWAYS) before COMMIT. ALTER EVENT TRIGGER fires no event trigger itself,
 * and a disabled trigger stops firing at once within the transaction. Nothing outside it ever sees them disabled.
 * Needs a superuser (the sandbox's): only the owner of an event trigger, a superuser, may alter it.
 */
import { quoteIdent } from '../catalog/tables.js';
import type { DbSession } from '../pg/client.js';

/** The ALTER EVENT TRIGGER clause that restores each pg_event_trigger.evtenabled mode ('D', disabled, is left alone). */
const ENABLE: Readonly<Record<string, string>> = { O: 'ENABLE', R: 'ENABLE REPLICA', A: 'ENABLE ALWAYS' };

/**
 * Run `sql` (DDL) on `db` without firing any of the database's event triggers, in a transaction of its own.
 * @returns the event triggers that were held off (names), for the record.
 * @throws the statement's error (the transaction is rolled back: the triggers stay as they were).
 */
export async function runWithoutEventTriggers(db: DbSession, sql: string): Promise<string[]> {
  await db.query('BEGIN');
  try {
    const enabled = await db.query<{ name: string; mode: string }>(
      "SELECT evtname AS name, evtenabled::text AS mode FROM pg_catalog.pg_event_trigger WHERE evtenabled <> 'D' ORDER BY evtname");
    for (const t of enabled) await db.query(`ALTER EVENT TRIGGER ${quoteIdent(t.name)} DISABLE`);
    await db.query(sql);
    for (const t of enabled) await db.query(`ALTER EVENT TRIGGER ${quoteIdent(t.name)} ${ENABLE[t.mode] ?? 'ENABLE'}`);
    await db.query('COMMIT');
    return enabled.map((t) => t.name);
  } catch (err) {
    await db.query('ROLLBACK').catch(() => {});
    throw err;
  }
}
