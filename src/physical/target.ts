/**
 * `--target`: where a physical drill recovers to, as PostgreSQL's recovery_target_* settings express it.
 * `immediate` (the end of the base backup: the earliest consistent point), `latest` (every archived segment),
 * a time (`2026-12-06 14:00:00+00`, ISO 8601 accepted), `lsn:0/3000028`, `xid:1234`, `name:RESTORE_POINT`.
 */
import { ConfigError } from '../errors.js';

/** A parsed recovery target. */
export type RecoveryTarget =
  | { readonly kind: 'immediate' }
  | { readonly kind: 'latest' }
  | { readonly kind: 'time'; readonly time: string }
  | { readonly kind: 'lsn'; readonly lsn: string }
  | { readonly kind: 'xid'; readonly xid: string }
  | { readonly kind: 'name'; readonly name: string };

const LSN = /^[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}$/;

/** Parse `--target` (default: `latest` with a WAL archive, `immediate` without). @throws ConfigError (exit 2) */
export function parseRecoveryTarget(text: string | undefined, haveWal: boolean): RecoveryTarget {
  if (text === undefined) return haveWal ? { kind: 'latest' } : { kind: 'immediate' };
  const t = text.trim();
  if (t === 'immediate' || t === 'latest') {
    if (t === 'latest' && !haveWal) throw new ConfigError('--target latest replays every archived WAL segment: give --wal DIR (the WAL archive), or --target immediate');
    return { kind: t };
  }
  const colon = /^(lsn|xid|name):(.*)$/s.exec(t);
  if (!haveWal) throw new ConfigError(`--target ${t} recovers past the end of the base backup: give --wal DIR (the WAL archive)`);
  if (colon) {
    const [, kind, value] = colon as unknown as [string, 'lsn' | 'xid' | 'name', string];
    if (kind === 'lsn' && LSN.test(value)) return { kind, lsn: value.toUpperCase() };
    if (kind === 'xid' && /^[1-9][0-9]{0,19}$/.test(value)) return { kind, xid: value };
    if (kind === 'name' && value.length > 0 && value.length < 64 && !/[\0\n']/.test(value)) return { kind, name: value };
    throw new ConfigError(`--target ${t}: ${kind === 'lsn' ? 'an LSN looks like 0/3000028' : kind === 'xid' ? 'a transaction id is a positive integer' : 'a restore point name is 1-63 characters, no quote or newline'}`);
  }
  if (!Number.isNaN(timeMs(t))) {
    if (!/(Z|[+-]\d{2}(:?\d{2})?)$/.test(t)) throw new ConfigError(`--target ${t}: give the time zone (e.g. ${t}+00 or ${t}Z): a time without one would be read in the sandbox's zone`);
    return { kind: 'time', time: t };
  }
  throw new ConfigError(`--target ${t}: expected immediate, latest, a time with its zone (2026-12-06 14:00:00+00), lsn:LSN, xid:XID or name:RESTORE_POINT`);
}

/** The recovery_target_* settings for postgresql.conf (values quoted). `latest` sets none: recovery ends at the archive's end. */
export function recoveryTargetSettings(target: RecoveryTarget, timeline: string | undefined): Record<string, string> {
  const q = (v: string) => `'${v.replace(/'/g, "''")}'`;
  const s: Record<string, string> = { recovery_target_timeline: q(timeline ?? 'latest') };
  switch (target.kind) {
    case 'immediate': s.recovery_target = q('immediate'); break;
    case 'time': s.recovery_target_time = q(target.time); break;
    case 'lsn': s.recovery_target_lsn = q(target.lsn); break;
    case 'xid': s.recovery_target_xid = q(target.xid); break;
    case 'name': s.recovery_target_name = q(target.name); break;
    case 'latest': break;
  }
  s.recovery_target_action = q('promote'); // with hot_standby off, the default 'pause' would shut the server down
  return s;
}

/** The target as the report says it (`lsn:0/5000000`, `2026-… (time)`). */
export function describeTarget(t: RecoveryTarget): string {
  switch (t.kind) {
    case 'immediate': return 'immediate (the end of the base backup)';
    case 'latest': return 'latest (every archived segment)';
    case 'time': return `time ${t.time}`;
    case 'lsn': return `lsn:${t.lsn}`;
    case 'xid': return `xid:${t.xid}`;
    case 'name': return `name:${t.name} (restore point)`;
  }
}

/** Parse an LSN (`0/3000028`) into a bigint, or null. */
export function lsnValue(lsn: string | null | undefined): bigint | null {
  if (!lsn || !LSN.test(lsn)) return null;
  const [hi, lo] = lsn.split('/') as [string, string];
  return (BigInt(`0x${hi}`) << 32n) + BigInt(`0x${lo}`);
}

/** The `--target-timeline` value: `latest`, `current` or a number. @throws ConfigError */
export function parseTargetTimeline(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  if (text === 'latest' || text === 'current' || /^[1-9][0-9]{0,9}$/.test(text)) return text;
  throw new ConfigError(`--target-timeline ${text}: expected latest, current or a timeline number`);
}

/** Milliseconds of a PostgreSQL timestamp with zone (`2026-12-06 14:31:20.840280+00`), or NaN. */
export function timeMs(text: string | null): number {
  if (!text) return NaN;
  const m = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(\.\d+)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/.exec(text.trim());
  if (!m) return NaN;
  const zone = !m[4] || m[4] === 'Z' ? 'Z' : m[4].length === 3 ? `${m[4]}:00` : m[4].replace(/^([+-]\d{2})(\d{2})$/, '$1:$2');
  return Date.parse(`${m[1]}T${m[2]}${(m[3] ?? '').slice(0, 4)}${zone}`);
}
