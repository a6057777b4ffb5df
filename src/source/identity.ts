/** Who the source is, and the guard that pins it before anything else happens. */
import { GuardError } from '../errors.js';
import { versionFromNum, type PgVersion } from '../exec/binaries.js';
import type { DbSession } from '../pg/client.js';

/** The facts that identify a cluster and database. */
export interface SourceIdentity {
  readonly systemIdentifier: string;
  readonly database: string;
  readonly serverVersion: PgVersion;
  readonly serverVersionText: string;
  readonly user: string;
  readonly isSuperuser: boolean;
  readonly inRecovery: boolean;
}

/** Read the identity (read-only catalog functions only). */
export async function readIdentity(db: DbSession): Promise<SourceIdentity> {
  const [r] = await db.query<{
    sysid: string; db: string; vnum: string; vtext: string; usr: string; su: boolean; recovery: boolean;
  }>(
    `SELECT (SELECT system_identifier::text FROM pg_control_system()) AS sysid, current_database() AS db,
            current_setting('server_version_num') AS vnum, current_setting('server_version') AS vtext,
            current_user AS usr, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS su,
            pg_is_in_recovery() AS recovery`,
  );
  return {
    systemIdentifier: r!.sysid,
    database: r!.db,
    serverVersion: versionFromNum(Number(r!.vnum)),
    serverVersionText: r!.vtext,
    user: r!.usr,
    isSuperuser: r!.su,
    inRecovery: r!.recovery,
  };
}

/** Pins from the config. */
export interface IdentityPins {
  readonly systemIdentifier?: string;
  readonly database?: string;
}

/**
 * Abort (exit 3) when the source is not the pinned one. Called before any dump file or run directory exists.
 * @throws GuardError
 */
export function assertIdentity(id: SourceIdentity, pins: IdentityPins): void {
  if (pins.systemIdentifier !== undefined && pins.systemIdentifier !== id.systemIdentifier) {
    throw new GuardError(
      `identity guard: source system_identifier is ${id.systemIdentifier}, but the config pins ${pins.systemIdentifier}. ` +
        `This is not the cluster the drill is for; nothing was done. Check --source, or update source.system_identifier.`,
      'system_identifier', pins.systemIdentifier, id.systemIdentifier,
    );
  }
  if (pins.database !== undefined && pins.database !== id.database) {
    throw new GuardError(
      `identity guard: source database is "${id.database}", but the config pins "${pins.database}". Nothing was done.`,
      'database', pins.database, id.database,
    );
  }
}
