/**
 * A large table's read-back through a `psql` child: `psql -X -q -c SET… -c "COPY … TO STDOUT"`. psql (C) parses the
 * COPY protocol — one CopyData message per row — and writes the rows to its stdout in large buffered writes, which
 * pgdrill reads from the pipe as ~64 KiB chunks and hashes. Read through node-postgres instead, every row is a
 * message parsed in JavaScript and a chunk handed through an async iterator on pgdrill's main thread: measured the
 * larger part of the read-back's cost (docs/performance.md, "The restored side's read-back"). A child costs a
 * connection (a few ms), so small tables stay on the session (copy-hash-restored.ts decides).
 */
import { startProcess } from '../exec/run-process.js';
import { ToolError } from '../errors.js';

/** What `copyOutThroughPsql` needs. */
export interface PsqlCopyOptions {
  /** The psql to run. */
  readonly bin: string;
  /** libpq environment of the restored database (the sandbox's `checkEnv`). */
  readonly env: Readonly<Record<string, string>>;
  /** Statements run first, in this order (pg_dump's session settings); any failure fails the read. */
  readonly setup: readonly string[];
  /** The `COPY … TO STDOUT` statement. */
  readonly sql: string;
  readonly signal?: AbortSignal;
}

/** The psql arguments: no psqlrc, quiet (no command tags in stdout), stop at the first error. */
export function psqlCopyArgs(setup: readonly string[], sql: string): string[] {
  return ['-X', '-q', '-v', 'ON_ERROR_STOP=1', ...setup.flatMap((s) => ['-c', s]), '-c', sql];
}

/**
 * Run the COPY in a psql child and hand its output's bytes (the session's client_encoding, never decoded) to
 * `onChunk` as they arrive. @throws Error with psql's message (its stderr's last line) when psql fails.
 */
export async function copyOutThroughPsql(o: PsqlCopyOptions, onChunk: (chunk: Buffer) => void): Promise<void> {
  const p = startProcess({ bin: o.bin, args: psqlCopyArgs(o.setup, o.sql), env: o.env, stdout: 'pipe', signal: o.signal });
  try {
    for await (const chunk of p.stdout!) onChunk(chunk as Buffer);
  } finally {
    await p.done.catch((err: unknown) => {
      if (err instanceof ToolError) throw new Error(psqlMessage(err.stderrTail) ?? err.message, { cause: err });
      throw err;
    });
  }
}

/** psql's error, without its `psql:` prefix: `ERROR:  cannot copy from partitioned table "p"`. */
function psqlMessage(stderr: string): string | null {
  const lines = stderr.split('\n').map((l) => l.replace(/^psql:[^:]*:\s*/, '').trim()).filter(Boolean);
  const at = lines.findIndex((l) => /^(ERROR|FATAL|PANIC):/.test(l));
  return at >= 0 ? lines.slice(at).join(' ') : lines.at(-1) ?? null;
}
