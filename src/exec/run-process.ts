/**
 * The only place that spawns processes. Argument arrays, never a shell; an explicit environment (secrets only
 * through PGPASSWORD/PGPASSFILE in `env`, never in argv); exit code, signal and the tail of stderr always
 * captured; stdout streamed to the caller, never buffered whole (except `captureStdout` for small outputs).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { InterruptedError, ToolError } from '../errors.js';
import { serverBytesDecoder } from '../pg/server-bytes.js';

/** How to run one child process. */
export interface ProcessOptions {
  /** Absolute path of the executable. */
  readonly bin: string;
  readonly args: readonly string[];
  /** Extra environment on top of a minimal base (PATH, LANG, TZ). The caller's environment is never inherited. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly cwd?: string;
  /** Run as this OS user (root only). */
  readonly uid?: number;
  readonly gid?: number;
  /** 'ignore' (default), a stream that is piped into the child's stdin, or 'pipe': the caller writes `stdin` itself. */
  readonly stdin?: 'ignore' | 'pipe' | Readable;
  /** 'ignore' (default), 'capture' (small outputs only, returned as text), or a stream the child's stdout is piped into. */
  readonly stdout?: 'ignore' | 'capture' | 'pipe' | Writable;
  /** Abort kills the child (SIGTERM and SIGCONT, then SIGKILL after 5 s) and rejects with the signal's reason. */
  readonly signal?: AbortSignal;
  /** Start in its own process group so that a terminal's Ctrl-C does not reach it (servers). */
  readonly detached?: boolean;
  /**
   * Start in a session and process group of its own (no controlling terminal), and deliver every signal pgdrill
   * sends it — kill(), abort, a crash — to the whole group. For jailed programs (src/sandbox/jail.ts): the process
   * spawned is bwrap, whose own children run the program, and a bwrap killed during its setup was seen to leave its
   * child behind (holding the pipes, so the drill waited forever). Unlike `detached`, still killed on a crash.
   */
  readonly group?: boolean;
  /** Called with each stderr line (for run.log). */
  readonly onStderrLine?: (line: string) => void;
  /** Do not throw on a non-zero exit; return the result instead. Default false. */
  readonly allowFailure?: boolean;
}

/** How a child process ended. */
export interface ProcessResult {
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stderrTail: string;
  /** Only with stdout: 'capture'. */
  readonly stdout: string;
  readonly pid: number | undefined;
}

/** A running child: its stdout (with stdout: 'pipe') and a promise of its end. */
export interface RunningProcess {
  readonly child: ChildProcess;
  readonly stdout: Readable | null;
  /** The child's stdin, with stdin: 'pipe' (the caller writes and ends it). */
  readonly stdin: Writable | null;
  readonly done: Promise<ProcessResult>;
}

const STDERR_TAIL_BYTES = 8192;
const CAPTURE_LIMIT = 64 * 1024 * 1024;

/** A minimal environment: enough for PostgreSQL's tools to run and speak UTF-8, nothing of the caller's. */
export function baseEnv(): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    LANG: 'C.UTF-8',
    LC_ALL: 'C.UTF-8',
    TZ: 'UTC',
  };
}

/** The tool's name for messages: basename of bin. */
function toolName(bin: string): string {
  return bin.split('/').pop() ?? bin;
}

/** Children still running that are not servers (not detached): pg_dump, psql, cp… — what a crash must stop. */
const running = new Set<ChildProcess>();

/** SIGKILL every non-detached child still running (src/cli/crash.ts: a crash must not leave pg_dump holding locks on the source). */
export function killRunningChildren(): void {
  for (const c of running) c.kill('SIGKILL');
}

/** Make every kill of this child (here, by a caller holding `child`, by killRunningChildren) reach its group. */
function killWholeGroup(child: ChildProcess, pgid: number): void {
  const killOne = child.kill.bind(child);
  child.kill = (sig?: NodeJS.Signals | number) => {
    try {
      return process.kill(-pgid, sig);
    } catch {
      return killOne(sig);
    }
  };
}

/** A child's stderr as it is read: its last STDERR_TAIL_BYTES, and its lines handed on as they complete. */
interface StderrReader {
  /** The last STDERR_TAIL_BYTES of stderr so far. */
  tail(): string;
  /** Hand on the last line if it had no newline (once the child has closed its stderr). */
  flush(): void;
}

/** Read a child's stderr into a bounded tail, handing each line to onLine. */
function readStderr(stream: Readable, onLine: ((line: string) => void) | undefined): StderrReader {
  let tail = '';
  let partial = '';
  // Decoded as pgdrill's sessions decode a SQL_ASCII database (src/pg/server-bytes.ts): UTF-8 as ever, and a byte
  // that is not UTF-8 (a name quoted from a SQL_ASCII or LATIN1 database) kept, to be shown as \xNN, not as U+FFFD.
  const errText = serverBytesDecoder();
  stream.on('data', (b: Buffer) => {
    const s = errText.write(b);
    tail = (tail + s).slice(-STDERR_TAIL_BYTES);
    if (onLine) {
      const lines = (partial + s).split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) onLine(l);
    }
  });
  return {
    tail: () => tail,
    flush: () => {
      if (partial && onLine) onLine(partial);
    },
  };
}

/** Capture a child's stdout as text (up to CAPTURE_LIMIT), decoded as stderr is; the getter reads it once ended. */
function captureText(stream: Readable): () => string {
  let captured = '';
  const outText = serverBytesDecoder();
  stream.on('data', (b: Buffer) => {
    if (captured.length < CAPTURE_LIMIT) captured += outText.write(b);
  });
  stream.on('end', () => void (captured += outText.end()));
  return () => captured;
}

/** Start a child process. Resolve `done` to its result; reject with ToolError on failure (unless allowFailure). */
export function startProcess(opts: ProcessOptions): RunningProcess {
  const tool = toolName(opts.bin);
  if (opts.signal?.aborted) throw opts.signal.reason ?? new InterruptedError('SIGINT');
  const env: Record<string, string> = baseEnv();
  for (const [k, v] of Object.entries(opts.env ?? {})) if (v !== undefined) env[k] = v;
  const stdoutMode = opts.stdout ?? 'ignore';
  const child = spawn(opts.bin, [...opts.args], {
    env,
    cwd: opts.cwd,
    uid: opts.uid,
    gid: opts.gid,
    detached: (opts.detached || opts.group) ?? false,
    stdio: [opts.stdin && opts.stdin !== 'ignore' ? 'pipe' : 'ignore', stdoutMode === 'ignore' ? 'ignore' : 'pipe', 'pipe'],
  });
  if (opts.group && child.pid !== undefined) killWholeGroup(child, child.pid);
  if (!opts.detached && child.pid !== undefined) {
    running.add(child);
    child.once('exit', () => running.delete(child));
  }
  const stderr = readStderr(child.stderr!, opts.onStderrLine);
  // A stream piped into stdin (or out of stdout) that fails — a file gone or unreadable, a corrupt gzip, a full disk —
  // would be an unhandled 'error' event (`pipe` does not forward errors): node would crash. The child is killed
  // instead (it must not act on half its input) and `done` rejects naming the stream's error.
  let streamError: string | null = null;
  const onStreamError = (what: string) => (err: Error) => {
    streamError ??= `${what} failed: ${err.message}`;
    child.kill('SIGKILL');
  };
  const captured = stdoutMode === 'capture' ? captureText(child.stdout!) : null;
  if (stdoutMode !== 'ignore' && stdoutMode !== 'pipe' && stdoutMode !== 'capture') {
    stdoutMode.on('error', onStreamError('writing its output'));
    child.stdout!.pipe(stdoutMode);
  }
  if (opts.stdin && opts.stdin !== 'ignore') {
    if (opts.stdin !== 'pipe') {
      opts.stdin.on('error', onStreamError('reading its input'));
      opts.stdin.pipe(child.stdin!);
    }
    // A child that exits early closes its stdin: that is reported by its exit code, not as an EPIPE crash.
    child.stdin!.on('error', () => {});
  }
  let killTimer: NodeJS.Timeout | undefined;
  const onAbort = () => {
    child.kill('SIGTERM');
    child.kill('SIGCONT'); // a stopped child (SIGSTOP, ^Z) acts on the SIGTERM only once it runs again
    killTimer = setTimeout(() => child.kill('SIGKILL'), 5000);
    killTimer.unref();
  };
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  const done = new Promise<ProcessResult>((resolve, reject) => {
    child.on('error', (err) => {
      opts.signal?.removeEventListener('abort', onAbort);
      reject(new ToolError(tool, opts.args, null, null, String(err.message), { cause: err }));
    });
    child.on('close', (code, sig) => {
      opts.signal?.removeEventListener('abort', onAbort);
      if (killTimer) clearTimeout(killTimer);
      stderr.flush();
      const tail = stderr.tail();
      const result: ProcessResult = { exitCode: code, signal: sig, stderrTail: tail, stdout: captured?.() ?? '', pid: child.pid };
      if (opts.signal?.aborted) return reject(opts.signal.reason instanceof Error ? opts.signal.reason : new InterruptedError('SIGINT'));
      if (streamError) return reject(new ToolError(tool, opts.args, code, sig, `${streamError}${tail.trim() ? `; ${tail}` : ''}`));
      if ((code !== 0 || sig) && !opts.allowFailure) return reject(new ToolError(tool, opts.args, code, sig, tail));
      resolve(result);
    });
  });
  // Avoid unhandled rejections when the caller awaits something else first.
  done.catch(() => {});
  return { child, stdout: stdoutMode === 'pipe' ? child.stdout : null, stdin: opts.stdin === 'pipe' ? child.stdin : null, done };
}

/** Run a child process to its end. */
export async function runProcess(opts: ProcessOptions): Promise<ProcessResult> {
  return startProcess(opts).done;
}
