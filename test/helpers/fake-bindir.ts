/**
 * A directory of PostgreSQL programs for fault tests: symlinks to the real ones, except `pg_dump` (or `tool`), which is a
 * shell script (the real pg_dump is `$REAL` in it; `--version` always reaches the real one; its stdout is the
 * `--file` pgdrill asked for). Pass the directory
 * as PG_BINDIR to the CLI. It is world-traversable: the sandbox's OS user runs initdb and pg_ctl through it.
 */
import { chmod, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bins } from './clusters.js';

/** The directory, removed by the disposer. `body` is sh, run with the arguments pgdrill gave pg_dump (or `tool`). */
export async function fakeBindir(body: string, tool = 'pg_dump'): Promise<{ path: string } & AsyncDisposable> {
  const real = (await bins()).server.bindir;
  const dir = await mkdtemp(join(tmpdir(), 'pgdrill-fakebin-'));
  await chmod(dir, 0o755);
  for (const name of await readdir(real)) if (name !== tool) await symlink(join(real, name), join(dir, name));
  // pgdrill gives pg_dump --file=…: the script's stdout goes there, and "$@" no longer holds it, so a body like
  // `"$REAL" "$@" | head -c N` writes a cut dump into the file pgdrill reads.
  const takeFile = 'for a; do shift; case "$a" in --file=*) OUT="${a#--file=}";; *) set -- "$@" "$a";; esac; done\n[ -n "$OUT" ] && exec > "$OUT"\n';
  const script = `#!/bin/sh\nREAL=${JSON.stringify(join(real, tool))}\ncase "$1" in --version|-V) exec "$REAL" "$@";; esac\n${takeFile}${body}\n`;
  await writeFile(join(dir, tool), script, { mode: 0o755 });
  return { path: dir, [Symbol.asyncDispose]: () => rm(dir, { recursive: true, force: true }) };
}

/** The programs of a server and of a client installation. */
export const SERVER_PROGRAMS = ['initdb', 'pg_ctl', 'postgres'] as const;
export const CLIENT_PROGRAMS = ['pg_dump', 'pg_dumpall', 'pg_restore', 'psql', 'pg_amcheck'] as const;

/**
 * Programs for the tool-selection tests: each is a script that prints `NAME (PostgreSQL) VERSION` for --version
 * (and fails otherwise), made in `dir` (created). Returns `dir`.
 */
export async function fakeProgramDir(dir: string, version: string, tools: readonly string[]): Promise<string> {
  await mkdir(dir, { recursive: true });
  for (const t of tools) await writeFile(join(dir, t), `#!/bin/sh\n[ "$1" = --version ] && echo "${t} (PostgreSQL) ${version}" && exit 0\nexit 1\n`, { mode: 0o755 });
  return dir;
}
