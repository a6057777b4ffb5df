/** Run a program to its end and keep what it printed: the one spawn-and-collect of the tests and benches. */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

/** How a child process ended and everything it printed. */
export interface ProcessOutput {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly pid: number;
}

/** Options of spawnOutput: node's spawn options (stdin is always closed, stdout and stderr piped), and two hooks. */
export interface SpawnOutputOptions extends Omit<SpawnOptions, 'stdio'> {
  /** Each chunk of stderr as it arrives, with the child's pid (tests that signal a drill at a stage). Default none. */
  readonly onStderr?: (chunk: string, pid: number) => void;
  /** The child as soon as it is spawned (to kill it after a time). Default none. */
  readonly onSpawn?: (child: ChildProcess) => void;
}

/** Spawn `bin ARGS` and resolve when it has closed, with its exit code or signal, stdout and stderr. Rejects only when it cannot be spawned. */
export function spawnOutput(bin: string, args: readonly string[], opts: SpawnOutputOptions = {}): Promise<ProcessOutput> {
  const { onStderr, onSpawn, ...spawnOpts } = opts;
  return new Promise((res, rej) => {
    const child = spawn(bin, args, { ...spawnOpts, stdio: ['ignore', 'pipe', 'pipe'] });
    onSpawn?.(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => {
      stderr += d;
      onStderr?.(String(d), child.pid!);
    });
    child.on('error', rej);
    child.on('close', (code, signal) => res({ code, signal, stdout, stderr, pid: child.pid! }));
  });
}
