/**
 * The `restore_command` a restored copy uses to read a WAL archive directory: it only reads the archive (never
 * writes, never follows a symbolic link in it), decompresses .gz/.zst/.lz4/.bz2/.xz files, and tells PostgreSQL the
 * difference between "not in the archive" (exit 1: recovery ends there, as it must at the archive's end) and "there
 * but unreadable" (exit 126: PostgreSQL treats it like a signal and aborts recovery, instead of promoting silently
 * short of the target). It runs as the sandbox's OS user, inside its jail: bind the archive read-only there.
 */
import { ConfigError } from '../errors.js';

/** A restore_command and what it needs. */
export interface WalRestoreCommand {
  /** The value of restore_command, unquoted (quote it for postgresql.conf: `'` doubled). */
  readonly command: string;
  /** Paths the command reads: bind them read-only into the sandbox's jail. */
  readonly readPaths: readonly string[];
  /** Programs it may run besides /bin/sh and cp (only those of the compressions present are needed). */
  readonly programs: readonly string[];
}

/**
 * The shell script, run as `sh -c SCRIPT pgdrill-restore-wal DIR %f %p`. One line (a postgresql.conf string cannot
 * hold a newline), and no single quote, backslash or percent sign: it is quoted once for the shell, once for
 * postgresql.conf, and %-expanded by PostgreSQL.
 */
const SCRIPT = [
  'd="$1"; f="$2"; p="$3";',
  'case "$f" in ""|*[!0-9A-Za-z.]*) echo "pgdrill: refused WAL file name $f" >&2; exit 126;; esac;',
  'for s in "" .gz .zst .lz4 .bz2 .xz; do',
  'a="$d/$f$s";',
  'if [ -L "$a" ]; then echo "pgdrill: $a is a symbolic link: not followed" >&2; exit 126; fi;',
  '[ -e "$a" ] || continue;',
  'if [ ! -f "$a" ]; then echo "pgdrill: $a is not a regular file" >&2; exit 126; fi;',
  'case "$s" in',
  '"") cp -- "$a" "$p" ;;',
  '.gz) gzip -dc < "$a" > "$p" ;;',
  '.zst) zstd -dcq < "$a" > "$p" ;;',
  '.lz4) lz4 -dcq < "$a" > "$p" ;;',
  '.bz2) bzip2 -dc < "$a" > "$p" ;;',
  '.xz) xz -dc < "$a" > "$p" ;;',
  'esac && exit 0;',
  'echo "pgdrill: $a could not be read or decompressed" >&2; exit 126;',
  'done;',
  'exit 1',
].join(' ');

/**
 * Build the restore_command for the archive `walDir` (an absolute path, as the jail sees it).
 * @throws ConfigError when the path holds a character that cannot be quoted safely through postgresql.conf and
 * the shell (a quote, a backslash, a control character).
 */
export function walRestoreCommand(walDir: string): WalRestoreCommand {
  if (!walDir.startsWith('/')) throw new ConfigError(`the WAL archive's path ${walDir} must be absolute`);
  // eslint-disable-next-line no-control-regex
  if (/['\\\x00-\x1f\x7f]/.test(walDir)) {
    throw new ConfigError(`the WAL archive's path ${JSON.stringify(walDir)} holds a quote, backslash or control character: it cannot be passed safely to restore_command; give it through a path without them (a bind mount or a symbolic link you own)`);
  }
  const sh = (s: string) => `'${s}'`; // no single quote in either (checked above; SCRIPT has none)
  const command = `/bin/sh -c ${sh(SCRIPT)} pgdrill-restore-wal ${sh(walDir.replace(/%/g, '%%'))} %f %p`;
  return { command, readPaths: [walDir], programs: ['gzip', 'zstd', 'lz4', 'bzip2', 'xz'] };
}

/** `value` quoted as a postgresql.conf string ('…', a quote doubled). */
export function confQuote(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}
