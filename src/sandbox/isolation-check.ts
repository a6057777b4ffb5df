/**
 * The proof that the restore target is not production, measured on the running server rather than assumed from
 * its config: its system_identifier differs from the source's (a clone or a standby of production shares it —
 * that is exactly what must be refused), it has `listen_addresses` empty, and its postmaster holds no listening
 * TCP socket (read from /proc: the sockets among the postmaster's open files, in its own network namespace).
 */
import { readdir, readFile, readlink } from 'node:fs/promises';
import type { DbSession } from '../pg/client.js';
import type { CheckResult } from '../report/model.js';

/** What was measured. */
export interface IsolationEvidence {
  readonly sandbox_system_identifier: string;
  readonly source_system_identifier: string | null;
  readonly listen_addresses: string;
  readonly postmaster_pid: number | null;
  /** "127.0.0.1:5432"-style TCP endpoints the postmaster listens on; null when /proc could not tell. */
  readonly tcp_listeners: string[] | null;
  /** Why the TCP listeners could not be read. */
  readonly tcp_unreadable: string | null;
}

function parentPid(stat: string): number {
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

function hexToEndpoint(hex: string, v6: boolean): string {
  const [addr, port] = hex.split(':') as [string, string];
  const p = parseInt(port, 16);
  if (!v6) {
    const b = addr.match(/../g)!.map((x) => parseInt(x, 16)).reverse();
    return `${b.join('.')}:${p}`;
  }
  // /proc/net/tcp6: four little-endian 32-bit words.
  const words = addr.match(/.{8}/g)!.map((w) => w.match(/../g)!.reverse().join(''));
  const groups = words.join('').match(/.{4}/g)!.map((g) => g.replace(/^0+(?=.)/, ''));
  return `[${groups.join(':')}]:${p}`;
}

/** TCP endpoints a process listens on: its socket inodes matched against its network namespace's tcp tables. */
export async function tcpListenersOf(pid: number): Promise<string[]> {
  const inodes = new Set<string>();
  for (const fd of await readdir(`/proc/${pid}/fd`)) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    const m = /^socket:\[(\d+)\]$/.exec(target);
    if (m) inodes.add(m[1]!);
  }
  const out: string[] = [];
  for (const [table, v6] of [['tcp', false], ['tcp6', true]] as const) {
    const text = await readFile(`/proc/${pid}/net/${table}`, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // sl local rem st tx:rx tr:when retrnsmt uid timeout inode; st 0A = LISTEN
      if (f.length > 9 && f[3] === '0A' && inodes.has(f[9]!)) out.push(hexToEndpoint(f[1]!, v6));
    }
  }
  return out;
}

/** Measure the isolation of the server `db` is connected to, against the source's system_identifier. */
export async function measureIsolation(db: DbSession, sourceSystemIdentifier: string | null): Promise<IsolationEvidence> {
  const sysid = await db.value<string>('SELECT system_identifier::text FROM pg_control_system()');
  const listen = await db.value<string>('SHOW listen_addresses');
  let postmaster: number | null = null;
  let tcp: string[] | null = null;
  let why: string | null = null;
  try {
    const backend = db.backendPid;
    if (!backend) throw new Error('backend pid unknown');
    postmaster = parentPid(await readFile(`/proc/${backend}/stat`, 'utf8'));
    tcp = await tcpListenersOf(postmaster);
  } catch (err) {
    why = `could not read the postmaster's sockets from /proc: ${(err as Error).message}`;
  }
  return {
    sandbox_system_identifier: sysid, source_system_identifier: sourceSystemIdentifier, listen_addresses: listen,
    postmaster_pid: postmaster, tcp_listeners: tcp, tcp_unreadable: why,
  };
}

/** Is it isolated? Every reason it is not, empty when it is. */
export function isolationProblems(e: IsolationEvidence): string[] {
  const problems: string[] = [];
  if (e.source_system_identifier !== null && e.sandbox_system_identifier === e.source_system_identifier) {
    problems.push(`sandbox system_identifier ${e.sandbox_system_identifier} EQUALS the source's: this server is production or a copy of it (clone, standby); refusing to restore into it`);
  }
  if (e.listen_addresses.trim() !== '') problems.push(`the sandbox listens on TCP (listen_addresses = '${e.listen_addresses}')`);
  if (e.tcp_listeners?.length) problems.push(`the sandbox postmaster (pid ${e.postmaster_pid}) has listening TCP socket(s): ${e.tcp_listeners.join(', ')}`);
  return problems;
}

/** The `restore.isolation` check from the evidence. */
export function isolationCheck(e: IsolationEvidence, socketDir: string): CheckResult {
  const problems = isolationProblems(e);
  const tcp = e.tcp_listeners === null ? `TCP listeners not verified (${e.tcp_unreadable})` : `no listening TCP socket (postmaster pid ${e.postmaster_pid})`;
  return {
    name: 'restore.isolation', stage: 'restore', status: problems.length ? 'fail' : 'pass',
    detail: problems.length
      ? problems.join('; ')
      : `sandbox system_identifier ${e.sandbox_system_identifier} ≠ source ${e.source_system_identifier ?? '(no source)'}; listen_addresses '' and ${tcp}; Unix socket only, in ${socketDir} (mode 0700)`,
    evidence: { ...e, socket_dir: socketDir },
  };
}
