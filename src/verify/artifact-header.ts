/**
 * What an artefact says about its own versions, read by pgdrill itself before any PostgreSQL program touches it:
 * the archive header (custom; directory and tar: their toc.dat) with its format version and "Dumped from/by", or a
 * plain dump's `-- Dumped from database version` / `-- Dumped by pg_dump version` comments. The choice of
 * pg_restore and of the sandbox's major follows from it (src/toolchain/). A header that cannot be read gives
 * nulls: the integrity checks that follow report the damage.
 */
import { join } from 'node:path';
import { createGunzip } from 'node:zlib';
import { parseToolVersion, type PgVersion } from '../exec/binaries.js';
import { openRegularFile } from '../exec/input-file.js';
import type { ArtifactFormat } from '../inventory/read-inventory.js';
import { parseHeaderLine } from '../scan/dump-headers.js';
import { archiveVersion, readArchiveHead } from './archive-toc.js';

/** The versions an artefact names. */
export interface ArtifactHeader {
  /** The source server's version ("Dumped from"). */
  readonly dumpedFrom: PgVersion | null;
  /** The pg_dump's version ("Dumped by"). */
  readonly dumpedBy: PgVersion | null;
  /** The archive format version (e.g. '1.16.0'); null for plain dumps. */
  readonly archiveVersion: string | null;
  /** The oldest pg_restore major that reads the archive's format; null for plain dumps or when unknown. */
  readonly minRestoreMajor: number | null;
}

const NONE: ArtifactHeader = { dumpedFrom: null, dumpedBy: null, archiveVersion: null, minRestoreMajor: null };

/** The first PostgreSQL major whose pg_restore reads archives of this format version. */
export function restoreMajorFor(version: number): number {
  if (version > archiveVersion(1, 16, 255)) return 19; // written by a PostgreSQL newer than this pgdrill knows
  if (version >= archiveVersion(1, 16)) return 17;
  if (version >= archiveVersion(1, 15)) return 16;
  return 0;
}

/** Parse a header's version string, bounded: it is the artefact's text, not pgdrill's. */
function versionOf(text: string | null): PgVersion | null {
  return text ? parseToolVersion(text.slice(0, 200)) : null;
}

async function archiveHeader(path: string, start: number): Promise<ArtifactHeader> {
  const fh = await openRegularFile(path, 'the archive');
  try {
    const head = await readArchiveHead(fh, start);
    return {
      dumpedFrom: versionOf(head.dumpedFrom), dumpedBy: versionOf(head.dumpedBy), archiveVersion: head.version,
      minRestoreMajor: restoreMajorFor(head.versionNumber) || null,
    };
  } catch {
    return NONE;
  } finally {
    await fh.close();
  }
}

/** The first bytes of a plain dump (decompressed for .gz): its version comments are within its first lines. */
async function plainStart(path: string, gzip: boolean, limit = 16 * 1024): Promise<string> {
  const fh = await openRegularFile(path, 'the dump');
  try {
    const raw = Buffer.alloc(limit);
    const { bytesRead } = await fh.read(raw, 0, limit, 0);
    if (!gzip) return raw.subarray(0, bytesRead).toString('utf8');
    const chunks: Buffer[] = [];
    let got = 0;
    await new Promise<void>((resolve) => {
      const z = createGunzip();
      z.on('data', (c: Buffer) => {
        chunks.push(c);
        got += c.length;
        if (got >= limit) z.destroy();
      });
      z.on('error', () => resolve()).on('end', () => resolve()).on('close', () => resolve());
      z.end(raw.subarray(0, bytesRead));
    });
    return Buffer.concat(chunks).subarray(0, limit).toString('utf8');
  } finally {
    await fh.close();
  }
}

async function plainHeader(path: string, gzip: boolean): Promise<ArtifactHeader> {
  let from: string | null = null;
  let by: string | null = null;
  for (const line of (await plainStart(path, gzip)).split('\n').slice(0, 200)) {
    const h = line.startsWith('--') ? parseHeaderLine(line) : null;
    if (h?.kind === 'dumped-from') from ??= h.version;
    else if (h?.kind === 'dumped-by') by ??= h.version;
  }
  return { ...NONE, dumpedFrom: versionOf(from), dumpedBy: versionOf(by) };
}

/** Read an artefact's versions. Never throws for a damaged header (nulls); ConfigError (2) when it cannot be opened. */
export async function readArtifactHeader(path: string, format: ArtifactFormat): Promise<ArtifactHeader> {
  switch (format) {
    case 'plain': return plainHeader(path, false);
    case 'plain-gzip': return plainHeader(path, true);
    case 'custom': return archiveHeader(path, 0);
    case 'directory': return archiveHeader(join(path, 'toc.dat'), 0);
    case 'tar': return archiveHeader(path, 512); // pg_dump writes toc.dat as the tar's first member
  }
}
