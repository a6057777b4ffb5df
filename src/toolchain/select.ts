/**
 * The choice of a program per role, over programs already found and versioned: pure, so that every layout and
 * every mix of majors is a unit test. Ties keep the discovery order (PG_BINDIR, config, packaged layouts,
 * pg_config, PATH, the store).
 */
import type { PgTool, PgVersion } from '../exec/binaries.js';
import type { FoundProgram, ProgramOrigin, VersionedProgram } from './discover.js';

/** How far `major` is from `prefer`: equal first, then newer (closest first), then older (closest first). */
function distance(major: number, prefer: number): number {
  return major >= prefer ? major - prefer : 1000 + (prefer - major);
}

/**
 * The program of `tool` with major ≥ `min`, preferring `prefer` (default `min`), then the closest newer, then the
 * closest older still ≥ `min`. A usable program in PG_BINDIR wins over every other.
 */
export function pickProgram(programs: readonly VersionedProgram[], tool: PgTool, min: number, prefer = min): VersionedProgram | null {
  const usable = programs.filter((p) => p.tool === tool && p.version.major >= min);
  const explicit = usable.find((p) => p.origin === 'PG_BINDIR');
  if (explicit) return explicit;
  let best: VersionedProgram | null = null;
  for (const p of usable) if (!best || distance(p.version.major, prefer) < distance(best.version.major, prefer)) best = p;
  return best;
}

/** A directory that can run a sandbox: initdb, pg_ctl and postgres of one major. */
export interface ServerCandidate {
  readonly bindir: string;
  readonly origin: ProgramOrigin;
  /** postgres's own version. */
  readonly version: PgVersion;
}

/** The programs of a server: one directory holds all three. */
export const SERVER_TOOLS: readonly PgTool[] = ['initdb', 'pg_ctl', 'postgres'];

/**
 * The directories holding a whole server (the three programs), in discovery order, with postgres's version (the
 * only one read before a server is chosen: initdb's and pg_ctl's are read, and checked, for the chosen one only).
 */
export function serverCandidates(found: readonly FoundProgram[], postgresVersions: readonly VersionedProgram[]): ServerCandidate[] {
  const out: ServerCandidate[] = [];
  for (const postgres of postgresVersions) {
    if (postgres.tool !== 'postgres') continue;
    if (SERVER_TOOLS.every((t) => found.some((p) => p.dir === postgres.dir && p.tool === t))) out.push({ bindir: postgres.dir, origin: postgres.origin, version: postgres.version });
  }
  return out;
}

/** What the sandbox's server should be. */
export interface SandboxWish {
  /** The source's major (verify: the dump's "Dumped from"); null when unknown. */
  readonly sourceMajor: number | null;
  /** The major of the pg_dump that wrote (or will write) the dump: its output loads into this major or newer. */
  readonly dumpMajor: number | null;
  /** --sandbox-major / --target-major: exactly this major. */
  readonly explicit?: number;
}

/** The server chosen for the sandbox, and why when it is not the source's major. */
export interface SandboxChoice {
  readonly server: ServerCandidate;
  readonly reason: string;
}

/**
 * The sandbox's server. Explicit: that major or nothing. Default: a server in PG_BINDIR (an explicit choice) when
 * pg_dump's output is guaranteed to load into it; else the source's major — the restore an emergency would do, even
 * when pg_dump is newer (PostgreSQL guarantees its output only for its own major or newer, so the reason says so and
 * `--sandbox-major` chooses pg_dump's); else the closest server ≥ both. System installations come before the store.
 * Null when none fits.
 */
export function chooseSandboxServer(servers: readonly ServerCandidate[], wish: SandboxWish): SandboxChoice | null {
  const floor = wish.dumpMajor ?? 0;
  if (wish.explicit !== undefined) {
    const s = servers.find((c) => c.version.major === wish.explicit);
    return s ? { server: s, reason: wish.explicit === wish.sourceMajor ? 'the source\'s major, as asked' : `PostgreSQL ${wish.explicit}, as asked` } : null;
  }
  const explicit = servers.find((c) => c.origin === 'PG_BINDIR' && c.version.major >= floor);
  if (explicit) return { server: explicit, reason: `the server in PG_BINDIR (${explicit.bindir})` };
  const want = Math.max(wish.sourceMajor ?? 0, floor);
  if (want === 0) {
    // The system's newest before the store's: the store holds servers without client programs.
    const newest = [...servers].sort((a, b) => Number(a.origin === 'store') - Number(b.origin === 'store') || b.version.major - a.version.major)[0];
    return newest ? { server: newest, reason: 'the newest server found (the source\'s major is not known)' } : null;
  }
  const own = wish.sourceMajor === null ? undefined : servers.find((c) => c.version.major === wish.sourceMajor);
  if (own && wish.sourceMajor !== null && wish.sourceMajor < floor) {
    return {
      server: own,
      reason: `the source's major, the restore an emergency would do; pg_dump ${floor} wrote the dump, and PostgreSQL guarantees ` +
        `its output only for ${floor} or newer (--sandbox-major ${floor} restores into pg_dump's major instead)`,
    };
  }
  let best: ServerCandidate | null = null;
  for (const s of servers) if (s.version.major >= want && (!best || s.version.major < best.version.major)) best = s;
  if (!best) return null;
  const m = best.version.major;
  const reason =
    m === wish.sourceMajor ? 'the source\'s major'
    : m === want ? `pg_dump's major: a dump by pg_dump ${want} is only guaranteed to load into PostgreSQL ${want} or newer, and the source runs ${wish.sourceMajor ?? 'an unknown major'}`
    : `no PostgreSQL ${want} server was found; ${m} is the closest newer one (pg_dump's output loads into its own major or newer)`;
  return { server: best, reason };
}

/** The first minor of each major whose pg_dump brackets plain dumps with `\restrict KEY` and whose psql knows it (CVE-2025-8714). */
const RESTRICT_SINCE: Readonly<Record<number, number>> = { 13: 22, 14: 19, 15: 14, 16: 10, 17: 6 };

/** Whether this version's pg_dump writes, and its psql understands, `\restrict` / `\unrestrict`. */
export function knowsRestrict(v: PgVersion): boolean {
  if (v.major >= 18) return true;
  const since = RESTRICT_SINCE[v.major];
  return since !== undefined && v.minor >= since;
}
