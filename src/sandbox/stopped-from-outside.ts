/**
 * A sandbox server that stopped while pgdrill used it, with nothing in its log that says it failed: its postmaster
 * was killed (SIGKILL by an admin, the OOM killer) or asked to stop (`pg_ctl stop`, SIGTERM, SIGINT, SIGQUIT) by
 * someone else. pgdrill itself never stops a sandbox before its teardown, so such a stop says nothing of the backup:
 * the drill ends as an environment error (exit 4), not a FAIL. So does a server process killed with SIGKILL (the
 * OOM killer's choice is often the backend restoring), after which the postmaster restarts the server. A server
 * that failed on its own — a PANIC, a server process that crashed (a statement of the dump can crash one) — is not
 * this: its errors stay the drill's findings.
 */
import { forEachForeignLine } from '../exec/input-file.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { EnvironmentError } from '../errors.js';
import type { SandboxCluster } from './cluster.js';

/** What a server log says of the server's end. */
export interface ServerStop {
  /** "received smart|fast|immediate shutdown request". */
  readonly shutdownRequest: string | null;
  /**
   * A server process killed with SIGKILL ("… (PID n) was terminated by signal 9: Killed"): PostgreSQL never sends it
   * a signal it logs so, the OOM killer or an admin does. The postmaster restarts the server, the sessions are lost.
   */
  readonly killedProcess: string | null;
  /** The server's own failure: a PANIC line, or a server process's crash ("… (PID n) was terminated by signal …" but 9, "… exited with exit code …"). */
  readonly ownFailure: string | null;
}

/** "… (PID n) was terminated by signal 9: Killed": a server process killed with SIGKILL, from outside the server. */
export function killedBySigkill(line: string): boolean {
  return /\(PID \d+\) was terminated by signal 9\b/.test(line);
}

/** Read `text`, a server log, for how the server ended. */
export function readServerStop(text: string): ServerStop {
  let shutdownRequest: string | null = null;
  let ownFailure: string | null = null;
  let killedProcess: string | null = null;
  for (const line of text.split('\n')) {
    const m = /\b(LOG|PANIC):\s+(.*)$/.exec(line);
    if (!m) continue;
    const [, level, msg] = m as unknown as [string, string, string];
    if (level === 'PANIC') ownFailure ??= `PANIC: ${msg}`;
    else if (/^received (smart|fast|immediate) shutdown request/.test(msg)) shutdownRequest ??= msg;
    else if (killedBySigkill(msg)) killedProcess ??= msg;
    else if (/\(PID \d+\) (was terminated by (signal|exception)|exited with exit code)/.test(msg)) ownFailure ??= msg;
  }
  return { shutdownRequest, killedProcess, ownFailure };
}

/** The drill-ending error of a sandbox stopped from outside. */
export class SandboxStoppedFromOutside extends EnvironmentError {}

/**
 * Has `sandbox`'s server been stopped or killed from outside pgdrill (see above)? The error that ends the drill,
 * naming the postmaster, `during` what, and the log's line that shows it (a shutdown request, a process killed with
 * SIGKILL) if there is one; null when the server runs and nothing of the kind is in its log, or it failed for a
 * reason of its own. A server asked to stop that has not finished shutting down is waited for a few seconds, and
 * counts either way. Read when something failed: the log is read whole.
 */
export async function stoppedFromOutside(sandbox: SandboxCluster, during: string): Promise<SandboxStoppedFromOutside | null> {
  const gone = sandbox.postmasterGone();
  // The log lies in the sandbox user's directory: read without following a link or waiting on a FIFO, only the
  // server user's file, up to its size now (src/exec/input-file.ts); only the lines readServerStop looks at are kept.
  const lines: string[] = [];
  await forEachForeignLine(sandbox.logFile, sandbox.serverFileOwners, (l) => void (/\b(LOG|PANIC):\s/.test(l) && lines.push(l))).catch(() => false);
  const stop = readServerStop(lines.join('\n'));
  if (stop.ownFailure) return null;
  const pid = sandbox.postmasterPid;
  const postmaster = `the ${sandbox.label}'s postmaster${pid ? ` (pid ${pid})` : ''}`;
  const notAVerdict = 'This is not a verdict on the backup: run the drill again once nothing stops the sandbox\'s server (a cleanup job, a memory limit)';
  if (!gone && !stop.shutdownRequest) {
    if (!stop.killedProcess) return null;
    // A backend killed (the OOM killer picks the biggest process, often the one restoring): the server restarted.
    return new SandboxStoppedFromOutside(`a server process of the ${sandbox.label} was killed from outside pgdrill during ${during}: its log says "${stop.killedProcess}" (SIGKILL: the OOM killer or an admin — see dmesg or journalctl -k), and ${postmaster} restarted the server, ending every session; nothing in its log says the server failed. ${notAVerdict}`);
  }
  if (!gone) for (let i = 0; i < 50 && !sandbox.postmasterGone(); i++) await sleep(100);
  return new SandboxStoppedFromOutside(
    `${postmaster} stopped during ${during} and was killed or stopped from outside pgdrill: nothing in its log says the server failed (${
      stop.shutdownRequest ? `its log says "${stop.shutdownRequest}": someone asked it to stop, by pg_ctl stop or a signal` : stop.killedProcess ? `its log says "${stop.killedProcess}": killed with SIGKILL` : 'no shutdown request in its log: killed outright, by SIGKILL or the OOM killer — see dmesg or journalctl -k'
    }). ${notAVerdict}`,
  );
}
