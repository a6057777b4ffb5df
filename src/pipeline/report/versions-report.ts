/** The report's `versions` section, and the flags that choose the sandbox's major. */
import { ConfigError } from '../../errors.js';
import type { PgVersion } from '../../exec/binaries.js';
import type { VersionsReport } from '../../report/model.js';
import type { Toolchain } from '../../toolchain/toolchain.js';

/** The source, pg_dump and sandbox versions side by side, and every program chosen. */
export function versionsReport(bins: Toolchain, o: { readonly source: PgVersion | null; readonly pgDump: PgVersion | null; readonly targetMajor: number | null }): VersionsReport {
  return {
    source: o.source?.text ?? null, source_major: o.source?.major ?? null,
    pg_dump: o.pgDump?.text ?? null, pg_dump_major: o.pgDump?.major ?? null,
    sandbox: bins.server.version.text, sandbox_major: bins.server.version.major, sandbox_reason: bins.server.reason,
    target_major: o.targetMajor,
    programs: bins.programs.map((p) => ({ ...p })),
  };
}

/** The sandbox's major from --sandbox-major / --target-major (both: they must agree). @throws ConfigError */
export function sandboxMajorOf(o: { readonly sandboxMajor?: number; readonly targetMajor?: number }): number | undefined {
  for (const [flag, v] of [['--sandbox-major', o.sandboxMajor], ['--target-major', o.targetMajor]] as const) {
    if (v !== undefined && (!Number.isInteger(v) || v < 10 || v > 99)) throw new ConfigError(`${flag} ${v}: expected a PostgreSQL major version such as 17`);
  }
  if (o.sandboxMajor !== undefined && o.targetMajor !== undefined && o.sandboxMajor !== o.targetMajor) {
    throw new ConfigError(`--sandbox-major ${o.sandboxMajor} and --target-major ${o.targetMajor} disagree: give one`);
  }
  return o.targetMajor ?? o.sandboxMajor;
}

