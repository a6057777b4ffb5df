/**
 * pgdrill's few error classes. Each carries data and maps to one documented exit code; only `cli/main.ts`
 * turns them into an exit. A failed *check* is not an error: it is a FAIL in the report (exit 1).
 */

/** Base class: `exitCode` is what the CLI exits with when this error ends a command. */
export class PgdrillError extends Error {
  readonly exitCode: number = 1;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Bad flags or config (exit 2). `problems` lists every problem with its path. */
export class ConfigError extends PgdrillError {
  override readonly exitCode = 2;
  constructor(message: string, readonly problems: readonly string[] = [], options?: { cause?: unknown }) {
    super(problems.length ? `${message}\n${problems.map((p) => `  - ${p}`).join('\n')}` : message, options);
  }
}

/** A guard refused to go on before anything was done to the source (exit 3). */
export class GuardError extends PgdrillError {
  override readonly exitCode = 3;
  constructor(message: string, readonly guard: string, readonly expected?: string, readonly actual?: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The machine cannot run a drill: binaries missing or too old, sandbox would not start, source unreachable (exit 4). */
export class EnvironmentError extends PgdrillError {
  override readonly exitCode = 4;
  constructor(message: string, readonly logTail?: string, options?: { cause?: unknown }) {
    super(logTail ? `${message}\n--- log tail ---\n${logTail}` : message, options);
  }
}

/** A child process failed. Carries the tool, its (secret-free) argv, exit code or signal and the tail of stderr. */
export class ToolError extends PgdrillError {
  constructor(
    readonly tool: string,
    readonly args: readonly string[],
    readonly exitCode_: number | null,
    readonly signal: NodeJS.Signals | null,
    readonly stderrTail: string,
    options?: { cause?: unknown },
  ) {
    super(
      `${tool} ${signal ? `was killed by ${signal}` : `exited with code ${exitCode_}`}` +
        (stderrTail.trim() ? `: ${stderrTail.trim()}` : ''),
      options,
    );
  }
}

/** The run was interrupted by SIGINT/SIGTERM; exit 130 or 143 after teardown. */
export class InterruptedError extends PgdrillError {
  override readonly exitCode: number;
  constructor(readonly signal: 'SIGINT' | 'SIGTERM') {
    super(`interrupted by ${signal}`);
    this.exitCode = signal === 'SIGINT' ? 130 : 143;
  }
}

/** Wraps a PostgreSQL error, keeping SQLSTATE, detail and hint. */
export function describePgError(err: unknown): string {
  const e = err as { message?: string; code?: string; detail?: string; hint?: string };
  const parts = [e.message ?? String(err)];
  if (e.code) parts.push(`(SQLSTATE ${e.code})`);
  if (e.detail) parts.push(`DETAIL: ${e.detail}`);
  if (e.hint) parts.push(`HINT: ${e.hint}`);
  return parts.join(' ');
}
