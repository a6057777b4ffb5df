/**
 * The library never prints: it logs through this interface and reports progress through a callback.
 * The CLI sends logs to stderr and run.log.
 */
import { appendFileSync } from 'node:fs';
import { terminalText } from './terminal-text.js';

export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

/** A logger that drops everything (library default). */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** Fan out to several loggers. */
export function teeLogger(...loggers: Logger[]): Logger {
  return {
    debug: (m) => loggers.forEach((l) => l.debug(m)),
    info: (m) => loggers.forEach((l) => l.info(m)),
    warn: (m) => loggers.forEach((l) => l.warn(m)),
    error: (m) => loggers.forEach((l) => l.error(m)),
  };
}

/** Appends timestamped lines to a file (run.log). Synchronous so nothing is lost on a crash. Bytes of a SQL_ASCII database that are not UTF-8 show as `\xNN`, control characters but line feed and tab as visible symbols (terminal-text.ts). */
export function fileLogger(path: string, redact: (s: string) => string = (s) => s): Logger {
  const w = (level: string) => (msg: string) => {
    try {
      appendFileSync(path, `${new Date().toISOString()} ${level} ${redact(terminalText(msg))}\n`, { mode: 0o600 });
    } catch (err) {
      (err as NodeJS.ErrnoException).path ??= path; // a write error says which file (a full disk: see exec/disk-full.ts)
      throw err;
    }
  };
  return { debug: w('DEBUG'), info: w('INFO'), warn: w('WARN'), error: w('ERROR') };
}

/** Stage progress events: the CLI renders them (TTY spinner line or plain lines). */
export interface ProgressEvent {
  readonly stage: string;
  readonly state: 'start' | 'progress' | 'end';
  readonly message?: string;
  readonly bytes?: number;
  readonly status?: 'pass' | 'fail' | 'warn' | 'skip';
}

export type ProgressCallback = (e: ProgressEvent) => void;
