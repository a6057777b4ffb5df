/**
 * `pgbackrest verify`, read as a verdict. pgBackRest 2.45 exits 0 even when it finds a file missing from a backup
 * (measured: `status: error`, `missing: 1`, "completed successfully"), so the exit code says nothing: pgdrill reads
 * the text report (`--output=text --verbose`) and the lines naming each bad file (console log at info level).
 */
import type { CheckResult } from '../report/model.js';

/** What verify reported. */
export interface VerifyReport {
  /** `status:` of the stanza: 'ok' or 'error' (null: not found in the output). */
  readonly status: string | null;
  /** Each backup and its status ('valid', 'invalid', …). */
  readonly backups: ReadonlyMap<string, string>;
  /** Archive ids with WAL found invalid or missing, with the counts line. */
  readonly badArchives: readonly string[];
  /** The files named as missing or invalid, as verify names them ('file missing 'LABEL/pg_data/…''). */
  readonly problems: readonly string[];
}

/** Parse verify's output (stdout with `--output=text --verbose --log-level-console=info`). */
export function parseVerifyOutput(text: string): VerifyReport {
  const backups = new Map<string, string>();
  const badArchives: string[] = [];
  const problems: string[] = [];
  let status: string | null = null;
  for (const line of text.split('\n')) {
    const logged = /^\S+ \S+ P\d+ +(?:INFO|WARN|ERROR|DETAIL): (.*)$/.exec(line);
    const body = (logged ? logged[1]! : line).trim();
    if (logged && /'[^']+'/.test(body) && !/ command (begin|end)/.test(body)) {
      if (!problems.includes(body)) problems.push(body);
      continue;
    }
    let m = /^status: (\S+)/.exec(body);
    if (m) status ??= m[1]!;
    m = /^archiveId: (\S+), total WAL checked: (\d+), total valid WAL: (\d+)/.exec(body);
    if (m) {
      const bad = `${m[1]} (${m[3]} of ${m[2]} WAL files valid)`;
      if (m[2] !== m[3] && !badArchives.includes(bad)) badArchives.push(bad);
    }
    m = /^backup: (\S+), status: ([^,]+)/.exec(body);
    if (m) backups.set(m[1]!, m[2]!);
  }
  return { status, backups, badArchives, problems };
}

/**
 * The `backup.pgbackrest_verify` check for the backup `label` (and the backups it references): FAIL when any of them
 * or the WAL archive is invalid, or verify could not run; WARN when only other backups of the stanza are invalid.
 */
export function verifyCheck(r: VerifyReport, o: { label: string; references: readonly string[]; exitCode: number | null; stderr: string }): CheckResult {
  const evidence = { status: r.status, backups: Object.fromEntries(r.backups), invalid_archives: r.badArchives, problems: r.problems.slice(0, 50), exit_code: o.exitCode };
  const base = { name: 'backup.pgbackrest_verify', stage: 'backup', evidence } as const;
  if (o.exitCode !== 0 || r.status === null) {
    return { ...base, status: 'fail', detail: `pgbackrest verify did not complete (exit ${o.exitCode}): ${o.stderr.trim().split('\n').slice(-3).join(' ') || 'no report in its output'}` };
  }
  const chain = [...o.references, o.label];
  const bad = chain.filter((l) => r.backups.has(l) && r.backups.get(l) !== 'valid');
  const named = r.problems.slice(0, 5).join('; ') + (r.problems.length > 5 ? `; … ${r.problems.length - 5} more` : '');
  if (bad.length || r.badArchives.length) {
    const what = [...bad.map((l) => `backup ${l} is ${r.backups.get(l)}`), ...r.badArchives.map((a) => `WAL archive ${a}`)].join(', ');
    return { ...base, status: 'fail', detail: `pgbackrest verify: ${what}${named ? ` — ${named}` : ''}` };
  }
  const others = [...r.backups].filter(([, s]) => s !== 'valid').map(([l, s]) => `${l} (${s})`);
  if (others.length || r.status !== 'ok') {
    return { ...base, status: 'warn', detail: `pgbackrest verify: the backup ${o.label} and its WAL are valid, but the stanza's status is ${r.status}${others.length ? `: ${others.join(', ')}` : ''}${named ? ` — ${named}` : ''}` };
  }
  return { ...base, status: 'pass', detail: `pgbackrest verify: ${r.backups.size} backup(s) of the stanza valid (${chain.join(' ← ')} included), every WAL file in the repository valid` };
}
