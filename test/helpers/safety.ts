/**
 * Fixtures for the production-safety and fault tests: a small application database, sessions that hold locks on
 * the source, waiting for what a running drill does (by polling the server, never by sleeping a guessed time),
 * and evidence of what a drill left behind on the source and on this machine.
 */
import { spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { DbSession } from '../../src/pg/client.js';
import type { SandboxCluster } from '../../src/sandbox/cluster.js';
import { psql } from './clusters.js';

/** A small application: two tables with a foreign key, a sequence, a view, a function, a role with a grant. */
export const APP_SQL = `
CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, email text);
CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id int NOT NULL REFERENCES customers, total numeric(10,2) NOT NULL, at timestamptz NOT NULL DEFAULT '2026-01-01');
CREATE VIEW big_orders AS SELECT * FROM orders WHERE total > 100;
CREATE FUNCTION order_count(c int) RETURNS bigint LANGUAGE sql STABLE AS $$ SELECT count(*) FROM orders WHERE customer_id = c $$;
DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'app_reader') THEN CREATE ROLE app_reader NOLOGIN; END IF; END $$;
GRANT SELECT ON customers, orders, big_orders TO app_reader;
INSERT INTO customers SELECT g, 'customer ' || g, 'c' || g || '@example.com' FROM generate_series(1, 200) g;
INSERT INTO orders (customer_id, total) SELECT 1 + g % 200, (g % 500) / 3.0 FROM generate_series(1, 2000) g;
`;

/** Create database `name` on the cluster and load the small application into it. */
export async function createAppDatabase(c: SandboxCluster, name: string): Promise<void> {
  await psql(c, 'postgres', { sql: `CREATE DATABASE "${name}"` });
  await psql(c, name, { sql: APP_SQL });
}

/** A superuser session on a test cluster (not audited: it is the test, not pgdrill). */
export function openSession(c: SandboxCluster, database: string, applicationName = 'pgdrill-test'): Promise<DbSession> {
  return DbSession.open({ ...c.connection(database), user: c.superuser, application_name: applicationName });
}

/**
 * Another client holding a lock: `BEGIN; LOCK TABLE … IN ACCESS EXCLUSIVE MODE` kept open until `release()`.
 * `pid` is its backend pid, what pgdrill must name.
 */
export async function holdLock(c: SandboxCluster, database: string, table: string): Promise<{ pid: number; release(): Promise<void> }> {
  const db = await openSession(c, database, 'lock-holder');
  await db.query('BEGIN');
  await db.query(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
  const pid = Number(await db.value('SELECT pg_backend_pid()'));
  let released = false;
  return {
    pid,
    async release() {
      if (released) return;
      released = true;
      await db.query('ROLLBACK').catch(() => {});
      await db.close();
    },
  };
}

/** Poll `cond` every `everyMs` (25) ms until it holds; fail after `ms` (a bound against hanging, not a timing assertion). */
export async function waitFor<T>(what: string, cond: () => Promise<T | null | undefined | false>, ms = 60_000, everyMs = 25): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await cond().catch(() => null);
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Sessions of application `pgdrill` on a cluster (any database), waiting for a lock or not. */
export async function pgdrillSessions(c: SandboxCluster): Promise<{ pid: number; waiting: boolean; query: string }[]> {
  await using db = await openSession(c, 'postgres');
  return await db.query<{ pid: number; waiting: boolean; query: string }>(
    `SELECT a.pid, EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid AND NOT l.granted) AS waiting, a.query
       FROM pg_stat_activity a WHERE a.application_name = 'pgdrill' AND a.pid <> pg_backend_pid()`,
  );
}

/** Wait until a pgdrill session (pgdrill itself or its pg_dump) waits for a lock on the cluster. */
export function waitForPgdrillLockWait(c: SandboxCluster): Promise<unknown> {
  return waitFor('a pgdrill session waiting for a lock', async () => (await pgdrillSessions(c)).find((s) => s.waiting));
}

/** Wait until no session of application pgdrill is left on the cluster (they end with the drill). */
export function waitForNoPgdrillSessions(c: SandboxCluster): Promise<unknown> {
  return waitFor('pgdrill sessions to end', async () => (await pgdrillSessions(c)).length === 0, 15_000);
}

/** Children (and their children) of a process, from /proc. */
export async function descendants(pid: number): Promise<number[]> {
  const parent = new Map<number, number>();
  for (const p of await readdir('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const st = await readFile(`/proc/${p}/stat`, 'utf8');
      parent.set(Number(p), Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      /* exited */
    }
  }
  const out: number[] = [];
  const queue = [pid];
  while (queue.length) {
    const cur = queue.shift()!;
    for (const [child, ppid] of parent) {
      if (ppid !== cur) continue;
      out.push(child);
      queue.push(child);
    }
  }
  return out;
}

/** The command line of a process ('' when it is gone). */
export async function cmdline(pid: number): Promise<string> {
  return (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).replace(/\0/g, ' ').trim();
}

/** The pid of a process that has already exited (for stale locks and markers). */
export async function deadPid(): Promise<number> {
  const child = spawn('/bin/true');
  await new Promise((r) => child.on('close', r));
  return child.pid!;
}

/** A stderr watcher for runCli: resolves the first line matching `re`, with the CLI's pid. */
export function stderrWatcher() {
  let buffer = '';
  let cliPid = 0;
  const waiters: { re: RegExp; resolve: (v: { line: string; pid: number }) => void }[] = [];
  const onStderr = (s: string, pid: number) => {
    buffer += s;
    if (pid) cliPid = pid;
    for (const w of [...waiters]) {
      const m = buffer.split('\n').find((l) => w.re.test(l));
      if (m !== undefined) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve({ line: m, pid: cliPid });
      }
    }
  };
  const next = (re: RegExp) => new Promise<{ line: string; pid: number }>((resolve) => {
    waiters.push({ re, resolve });
    onStderr('', cliPid);
  });
  return { onStderr, next };
}
