/**
 * The toolchain of one drill: a program per role, each found on its own (src/toolchain/discover.ts) and chosen for
 * the majors at hand (src/toolchain/select.ts):
 * - dump (pg_dump, pg_dumpall): major ≥ the source's — pg_dump refuses a newer server —, the source's own first;
 * - server (initdb, pg_ctl, postgres): the sandbox's major, one directory;
 * - client (psql, pg_restore, pg_amcheck): drives the sandbox, so its major is the sandbox's or the closest newer;
 *   pg_restore must also read the archive (major ≥ the pg_dump that wrote it);
 * - sandbox-dump (pg_dump of the restored copy, for the round trip): major ≥ the sandbox's.
 */
import { ConfigError, EnvironmentError } from '../errors.js';
import type { PgTool, PgVersion } from '../exec/binaries.js';
import { findPrograms, programDirs, withVersions, type DiscoverOptions, type FoundProgram, type ProgramOrigin, type VersionedProgram } from './discover.js';
import { clientInstallHint, serverInstallHint } from './install-hints.js';
import { chooseSandboxServer, knowsRestrict, pickProgram, SERVER_TOOLS, serverCandidates, type SandboxChoice } from './select.js';

/** What a program is used for. */
export type ToolRole = 'dump' | 'server' | 'client' | 'sandbox-dump';

/** One program chosen, as the report names it. */
export interface ChosenProgram {
  readonly name: PgTool;
  readonly role: ToolRole;
  readonly path: string;
  readonly version: string;
  readonly origin: ProgramOrigin;
}

/** The programs of one drill. */
export interface Toolchain {
  /** The program for `tool` in its usual role (pg_dump: the dump's; `role` 'sandbox-dump' for the restored copy's). @throws EnvironmentError when none was found */
  path(tool: PgTool, role?: ToolRole): string;
  /** Whether a program was found for `tool` (e.g. pg_amcheck, optional). */
  has(tool: PgTool, role?: ToolRole): boolean;
  /** The version of the program for `tool`. @throws EnvironmentError when none was found */
  version(tool: PgTool, role?: ToolRole): PgVersion;
  /** The sandbox's server: its directory and postgres's version. */
  readonly server: { readonly bindir: string; readonly version: PgVersion; readonly origin: ProgramOrigin; readonly reason: string };
  readonly programs: readonly ChosenProgram[];
  /** Why a choice departs from the obvious one (another major, a PG_BINDIR program that could not serve). */
  readonly notes: readonly string[];
}

/** What the drill needs the toolchain for. */
export interface ToolchainRequest {
  /** The source's version (run: the server's; verify: the dump's "Dumped from"), null when unknown. */
  readonly source: PgVersion | null;
  /** verify: the version of the pg_dump that wrote the artefact (its header), null when unknown; run: absent (chosen here). */
  readonly dumpedBy?: PgVersion | null;
  /** verify of an archive: the oldest pg_restore major that reads its format. */
  readonly archiveMinMajor?: number;
  /** --sandbox-major / --target-major. */
  readonly sandboxMajor?: number;
  /** Whether pg_dump/pg_dumpall must dump the source (run; verify --source does not dump it). */
  readonly dumpSource: boolean;
  /** Whether pg_restore reads the dump (an archive, not a plain dump): it must then be as new as the pg_dump that wrote it. */
  readonly archive: boolean;
}

const DEFAULT_ROLE: Record<PgTool, ToolRole> = {
  pg_dump: 'dump', pg_dumpall: 'dump', initdb: 'server', pg_ctl: 'server', postgres: 'server', pg_controldata: 'server',
  psql: 'client', pg_restore: 'client', pg_amcheck: 'client',
};

function describeFound(programs: readonly VersionedProgram[], tool: PgTool): string {
  const found = programs.filter((p) => p.tool === tool);
  return found.length ? `found: ${found.map((p) => `${tool} ${p.version.text} (${p.dir})`).join(', ')}` : `no ${tool} was found at all`;
}

function checkPromises(programs: readonly VersionedProgram[]): void {
  const wrong = programs.filter((p) => p.promisedMajor !== null && p.promisedMajor !== p.version.major);
  if (wrong.length) {
    throw new EnvironmentError(`the config's binaries.majors names ${wrong[0]!.dir} for PostgreSQL ${wrong[0]!.promisedMajor}, but ${wrong.map((p) => `${p.tool} there is ${p.version.text}`).join(', ')}: correct the config`);
  }
}

function pickDump(programs: readonly VersionedProgram[], req: ToolchainRequest): VersionedProgram[] {
  if (!req.dumpSource) return [];
  const min = req.source?.major ?? 0;
  return (['pg_dump', 'pg_dumpall'] as const).map((tool) => {
    const p = pickProgram(programs, tool, min);
    if (p) return p;
    throw new EnvironmentError(
      `the source runs PostgreSQL ${req.source?.text ?? '(unknown)'}, and no ${tool} of major ${min} or newer was found (${describeFound(programs, tool)}): ` +
        `pg_dump cannot dump a newer major. Nothing was written. To drill it, ${clientInstallHint(min)}.`,
    );
  });
}

function chooseServer(found: readonly FoundProgram[], programs: readonly VersionedProgram[], req: ToolchainRequest, dumpMajor: number | null): SandboxChoice {
  const servers = serverCandidates(found, programs);
  const choice = chooseSandboxServer(servers, { sourceMajor: req.source?.major ?? null, dumpMajor, explicit: req.sandboxMajor });
  if (choice) return choice;
  const want = req.sandboxMajor ?? Math.max(req.source?.major ?? 0, dumpMajor ?? 0);
  const seen = servers.length ? `servers found: ${servers.map((s) => `${s.version.text} (${s.bindir})`).join(', ')}` : 'no server (initdb, pg_ctl, postgres in one directory) was found';
  throw new EnvironmentError(
    `the sandbox needs a PostgreSQL ${want || ''}${req.sandboxMajor === undefined && want ? ' (or newer)' : ''} server (${seen}). Nothing was written. To get one, ${serverInstallHint(want || 17)}.`,
  );
}

/**
 * psql replays plain dumps (and pg_dumpall's globals): from a pg_dump that writes `\restrict`, only a psql that
 * knows it can (an older one stops at "invalid command"). Such psqls are kept when there are any.
 */
function psqlCandidates(programs: readonly VersionedProgram[], writer: PgVersion | null): { candidates: readonly VersionedProgram[]; note: string | null } {
  if (!writer || !knowsRestrict(writer)) return { candidates: programs, note: null };
  const aware = programs.filter((p) => p.tool !== 'psql' || knowsRestrict(p.version));
  if (aware.some((p) => p.tool === 'psql')) return { candidates: aware, note: null };
  return { candidates: programs, note: `pg_dump ${writer.text} brackets plain dumps with \\restrict, which no psql found knows (it needs 17.6, 16.10, 15.14, 14.19, 13.22 or newer): install a current minor release of the client programs` };
}

function pickClients(programs: readonly VersionedProgram[], req: ToolchainRequest, sandboxMajor: number, dumpMajor: number | null, writer: PgVersion | null): { chosen: VersionedProgram[]; notes: string[] } {
  const chosen: VersionedProgram[] = [];
  const notes: string[] = [];
  // pg_restore reads the archive pg_dump writes: never older than that pg_dump, nor than the archive's format.
  const restoreMin = Math.max(req.archive ? dumpMajor ?? 0 : 0, req.archiveMinMajor ?? 0);
  const psqls = psqlCandidates(programs, writer);
  if (psqls.note) notes.push(psqls.note);
  for (const tool of ['psql', 'pg_restore', 'pg_amcheck'] as const) {
    const min = tool === 'pg_restore' ? restoreMin : 0;
    const p = pickProgram(tool === 'psql' ? psqls.candidates : programs, tool, min, Math.max(sandboxMajor, min));
    if (p) {
      chosen.push(p);
      if (p.version.major < sandboxMajor) notes.push(`${tool} ${p.version.text} drives a PostgreSQL ${sandboxMajor} sandbox: no ${tool} ${sandboxMajor} or newer was found`);
    } else if (tool !== 'pg_amcheck') {
      throw new EnvironmentError(
        `no ${tool}${min ? ` of major ${min} or newer` : ''} was found to ${tool === 'pg_restore' ? `read the dump${dumpMajor ? ` (written by pg_dump ${dumpMajor})` : ''}${req.archiveMinMajor ? ` (its archive format needs pg_restore ${req.archiveMinMajor} or newer)` : ''}` : 'drive the sandbox'} (${describeFound(programs, tool)}). Nothing was written. To get one, ${clientInstallHint(Math.max(min, sandboxMajor))}.`,
      );
    }
  }
  return { chosen, notes };
}

/** The chosen server's three programs with their versions: one major, else the installation is not one server. */
async function serverPrograms(found: readonly FoundProgram[], sandbox: SandboxChoice): Promise<VersionedProgram[]> {
  const progs = await withVersions(found.filter((p) => p.dir === sandbox.server.bindir && SERVER_TOOLS.includes(p.tool)));
  checkPromises(progs);
  const odd = progs.filter((p) => p.version.major !== sandbox.server.version.major);
  if (progs.length !== SERVER_TOOLS.length || odd.length) {
    throw new EnvironmentError(`${sandbox.server.bindir} does not hold one server: postgres is ${sandbox.server.version.text}, but ${odd.map((p) => `${p.tool} is ${p.version.text}`).join(', ') || 'initdb or pg_ctl does not run'}: repair or remove that installation`);
  }
  return progs;
}

function pickSandboxDump(programs: readonly VersionedProgram[], sandboxMajor: number, dump: VersionedProgram | undefined): VersionedProgram | null {
  // The same pg_dump as the source's side when it can dump the sandbox: the round trip then compares like with like.
  if (dump && dump.version.major >= sandboxMajor) return dump;
  return pickProgram(programs, 'pg_dump', sandboxMajor);
}

function notesOnPgBindir(programs: readonly VersionedProgram[], chosen: readonly ChosenProgram[]): string[] {
  return programs
    .filter((p) => p.origin === 'PG_BINDIR' && !chosen.some((c) => c.path === p.path))
    .filter((p) => chosen.some((c) => c.name === p.tool))
    .map((p) => `${p.tool} ${p.version.text} in PG_BINDIR (${p.dir}) could not serve: another was chosen`);
}

/**
 * Find the programs and choose one per role for this drill.
 * @throws EnvironmentError (exit 4) naming what is missing, the versions involved and what to install.
 */
export async function resolveToolchain(req: ToolchainRequest, discover: DiscoverOptions = {}): Promise<Toolchain> {
  const { dirs, promised } = await programDirs(discover);
  const need: PgTool[] = ['initdb', 'pg_ctl', 'postgres', 'psql', 'pg_restore', 'pg_amcheck', 'pg_dump', ...(req.dumpSource ? (['pg_dumpall'] as const) : [])];
  const found = await findPrograms(dirs, promised, need);
  // Of the server programs, only postgres's version is read before the choice.
  const programs = await withVersions(found.filter((p) => !SERVER_TOOLS.includes(p.tool) || p.tool === 'postgres'));
  checkPromises(programs);
  const dump = pickDump(programs, req);
  const dumpMajor = req.dumpedBy?.major ?? dump[0]?.version.major ?? null;
  // Older than pg_dump is allowed down to the source's own major (the emergency restore, as the default does);
  // older than the source is no restore anyone would do.
  const lowest = req.source?.major ?? dumpMajor;
  if (req.sandboxMajor !== undefined && lowest !== null && req.sandboxMajor < Math.min(lowest, dumpMajor ?? lowest)) {
    throw new ConfigError(`PostgreSQL ${req.sandboxMajor} cannot be the sandbox: the source runs ${req.source?.text ?? 'an unknown version'} and the dump is pg_dump ${dumpMajor ?? 'unknown'}'s; the sandbox must run the source's major or newer`);
  }
  const sandbox = chooseServer(found, programs, req, dumpMajor);
  const serverProgs = await serverPrograms(found, sandbox);
  const clients = pickClients(programs, req, sandbox.server.version.major, dumpMajor, req.dumpedBy ?? dump[0]?.version ?? null);
  const sandboxDump = pickSandboxDump(programs, sandbox.server.version.major, dump[0]);
  const byRole = new Map<string, VersionedProgram>();
  const chosen: ChosenProgram[] = [];
  const add = (p: VersionedProgram, role: ToolRole) => {
    byRole.set(`${role}:${p.tool}`, p);
    chosen.push({ name: p.tool, role, path: p.path, version: p.version.text, origin: p.origin });
  };
  for (const p of dump) add(p, 'dump');
  for (const p of serverProgs) add(p, 'server');
  for (const p of clients.chosen) add(p, 'client');
  if (sandboxDump) add(sandboxDump, 'sandbox-dump');
  const notes = [...clients.notes, ...notesOnPgBindir(programs, chosen)];
  if (req.source && sandbox.server.version.major !== req.source.major) notes.unshift(`the sandbox runs PostgreSQL ${sandbox.server.version.text}, not the source's ${req.source.major}: ${sandbox.reason}`);
  const get = (tool: PgTool, role?: ToolRole): VersionedProgram | undefined => {
    const r = role ?? DEFAULT_ROLE[tool];
    // verify dumps nothing: its pg_dump is the sandbox's.
    return byRole.get(`${r}:${tool}`) ?? (r === 'dump' && !req.dumpSource ? byRole.get(`sandbox-dump:${tool}`) : undefined);
  };
  const must = (tool: PgTool, role?: ToolRole): VersionedProgram => {
    const p = get(tool, role);
    if (p) return p;
    throw new EnvironmentError(`no ${tool} usable for this drill was found: ${clientInstallHint(sandbox.server.version.major)}`);
  };
  return {
    path: (tool, role) => must(tool, role).path,
    has: (tool, role) => get(tool, role) !== undefined,
    version: (tool, role) => must(tool, role).version,
    server: { bindir: sandbox.server.bindir, version: sandbox.server.version, origin: sandbox.server.origin, reason: sandbox.reason },
    programs: chosen,
    notes,
  };
}

/** The programs that only read a dump (inspect): no sandbox, no source. */
export type DumpReader = Pick<Toolchain, 'path' | 'version' | 'has'>;

/**
 * A pg_restore able to read an archive whose writer needs major `min` (0: any), the closest to it first.
 * @throws EnvironmentError naming the major needed and what to install
 */
export async function resolveDumpReader(min: number, discover: DiscoverOptions = {}): Promise<DumpReader> {
  const { dirs, promised } = await programDirs(discover);
  const programs = await withVersions(await findPrograms(dirs, promised, ['pg_restore']));
  checkPromises(programs);
  const p = pickProgram(programs, 'pg_restore', min);
  if (!p) throw new EnvironmentError(`no pg_restore${min ? ` of major ${min} or newer` : ''} was found to read the dump (${describeFound(programs, 'pg_restore')}). To get one, ${clientInstallHint(min || 17)}.`);
  const must = (tool: PgTool): VersionedProgram => {
    if (tool === 'pg_restore') return p;
    throw new EnvironmentError(`${tool} is not among the programs chosen to read a dump`);
  };
  return { path: (tool) => must(tool).path, version: (tool) => must(tool).version, has: (tool) => tool === 'pg_restore' };
}

/**
 * The toolchain of the newest server installed (the system's before the store's) and the programs of its major:
 * for clusters pgdrill starts as a source (demo, tests, benchmarks).
 */
export async function localToolchain(discover: DiscoverOptions = {}): Promise<Toolchain> {
  const server = await resolveToolchain({ source: null, dumpSource: false, archive: false }, discover);
  return resolveToolchain({ source: server.server.version, dumpSource: true, archive: true }, discover);
}
