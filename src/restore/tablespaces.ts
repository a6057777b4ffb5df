/**
 * Tablespaces in the sandbox. pg_dumpall writes `CREATE TABLESPACE name OWNER role LOCATION '/path';` with the
 * source's own directory. Replayed as is, the sandbox would create its files there — on the source's host that is
 * production's tablespace directory (a sandbox running as the same OS user as production could write beside
 * production's files; measured: with the same major version it fails with "already in use as a tablespace").
 * So every LOCATION is moved into the sandbox's own directory (`<sandbox root>/tablespaces/<n>`, created 0700 for
 * the sandbox's OS user and removed with the sandbox); names, owners, options, grants and every object's
 * tablespace stay as they are.
 */
import { createReadStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { runProcess } from '../exec/run-process.js';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { lfLines } from '../scan/lf-lines.js';
import type { SandboxCluster } from '../sandbox/cluster.js';
import { quoteIdent } from '../catalog/tables.js';
import type { ReportBuilder } from '../report/builder.js';

/** `CREATE TABLESPACE name OWNER owner LOCATION '…';` exactly as pg_dumpall writes it. */
const CREATE_TABLESPACE = /^(CREATE TABLESPACE ("(?:[^"]|"")+"|[a-z_][a-z0-9_$]*) OWNER (?:"(?:[^"]|"")+"|[a-z_][a-z0-9_$]*) LOCATION )'((?:[^']|'')+)';$/;

/** One tablespace moved into the sandbox. */
export interface TablespaceMove {
  /** The CREATE TABLESPACE statement's name, as written (quoted when pg_dumpall quoted it). */
  readonly name: string;
  /** The source's directory (never touched). */
  readonly from: string;
  /** The sandbox's directory used instead. */
  readonly to: string;
}

/** A fresh directory for a tablespace of the sandbox (`<root>/tablespaces/<name>`), 0700, the sandbox user's. */
async function sandboxTablespaceDir(sandbox: SandboxCluster, name: string): Promise<string> {
  const parent = join(sandbox.rootDir, 'tablespaces');
  const dir = join(parent, name);
  if (sandbox.osUser) {
    // Made by the sandbox's OS user itself: the sandbox's directory is its own (and its server is restoring a dump
    // meanwhile), so a link it put at `tablespaces` leads a mkdir of its own, never root's mkdir and chown.
    await runProcess({ bin: '/usr/bin/mkdir', args: ['-p', '-m', '0700', '--', dir], uid: sandbox.osUser.uid, gid: sandbox.osUser.gid });
  } else {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  }
  return dir;
}

/**
 * The globals script as psql should read it in `sandbox`: every tablespace LOCATION replaced by a fresh directory
 * of the sandbox (created as the lines stream by). `moves` is complete once the stream has ended.
 */
export function globalsForSandbox(path: string, sandbox: SandboxCluster): { readonly input: Readable; readonly moves: TablespaceMove[] } {
  const moves: TablespaceMove[] = [];
  async function* lines(): AsyncGenerator<string> {
    // LF only: a role name holding a CR must reach psql as it is (src/scan/lf-lines.ts).
    for await (const line of lfLines(createReadStream(path))) {
      const m = CREATE_TABLESPACE.exec(line);
      if (!m) {
        yield `${line}\n`;
        continue;
      }
      const dir = await sandboxTablespaceDir(sandbox, String(moves.length + 1));
      moves.push({ name: m[2]!, from: m[3]!.replace(/''/g, "'"), to: dir });
      yield `${m[1]}'${dir.replace(/'/g, "''")}';\n`;
    }
  }
  return { input: Readable.from(lines()), moves };
}

/** Report notes of what happened to tablespaces: locations moved into the sandbox, placeholders created. */
export function noteTablespaces(b: Pick<ReportBuilder, 'note'>, t: { readonly moved?: readonly TablespaceMove[]; readonly placeholders?: readonly string[] }): void {
  if (t.moved?.length) b.note('tablespaces-moved', `tablespace location(s) moved into the sandbox (the source's directories are never used): ${t.moved.map((m) => `${m.name} ${m.from} → ${m.to}`).join('; ')}`);
  if (t.placeholders?.length) b.note('placeholder-tablespaces', `tablespace(s) the globals did not create, made empty in the sandbox so that objects restore where the dump puts them: ${t.placeholders.join(', ')}`);
}

/**
 * Tablespaces the dump places objects in (`DumpInventory.tablespaces`) that the sandbox lacks — the globals were
 * not captured (or only the roles), or `verify` got no `--globals` — are created empty, owned by the sandbox's
 * superuser, in the sandbox's own directory: the objects then restore into a tablespace of the same name, as on
 * the source. Returns the names created.
 */
export async function createPlaceholderTablespaces(sandbox: SandboxCluster, names: readonly string[]): Promise<string[]> {
  if (!names.length) return [];
  await using db = await sandbox.open('postgres');
  const existing = new Set((await db.query<{ spcname: string }>('SELECT spcname FROM pg_tablespace')).map((r) => r.spcname));
  const created: string[] = [];
  for (const name of names) {
    if (existing.has(name)) continue;
    const dir = await sandboxTablespaceDir(sandbox, `placeholder-${created.length + 1}`);
    await db.query(`CREATE TABLESPACE ${quoteIdent(name)} LOCATION '${dir.replace(/'/g, "''")}'`);
    created.push(name);
  }
  return created;
}
