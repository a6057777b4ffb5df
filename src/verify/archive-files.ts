/**
 * `backup.archive_files`: what an archive would make pg_restore open, checked before pg_restore runs.
 *
 * pg_restore opens every data file of a directory archive by the name toc.dat records, relative to the directory,
 * following symlinks. A hostile archive can hold a data file that is a symlink to a root-only file, a FIFO that
 * blocks the read forever, or a toc.dat naming `../../root/secret` (a decoy `1234.dat` keeping the per-entry
 * check green). So, before any tool reads the archive:
 * - directory archive: every entry below the directory is a regular file or a directory (no symlink, FIFO, socket
 *   or device, anywhere); every file name toc.dat records — and every name in a large-object TOC (blobs.toc) — is
 *   a plain file name (no `/`, not `..`), and what it names is not a directory;
 * - tar archive: every member is a regular file with a plain name (no link, device, directory, absolute or
 *   climbing name) — pg_restore reads members from the tar itself, so this is defence in depth.
 */
import { isEndBlock, paddedSize, parseTarHeader, TAR_TYPE_NAMES } from '../exec/tar-header.js';
import { lstat, readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import { ConfigError } from '../errors.js';
import { kindOf, openRegularFile } from '../exec/input-file.js';
import type { CheckResult } from '../report/model.js';
import { archiveVersion, readDirectoryToc, TocFormatError, type DirectoryToc } from './archive-toc.js';

/** Whether `name` is a plain file name: what pg_restore joins to the directory stays inside it. */
export function isPlainFileName(name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && !name.includes('/') && !name.includes('\0');
}

/** The suffixes pg_restore tries after a recorded name (InitDiscoverCompressFileHandle / cfopen_read). */
const COMPRESSED = ['', '.gz', '.lz4', '.zst'];

/** Most problems named in the detail (all are in the evidence, up to 100). */
const SHOWN = 10;

/** Check a directory or tar archive's files before any tool reads it. */
export async function archiveFilesCheck(artifact: string, format: 'directory' | 'tar'): Promise<CheckResult> {
  const problems: string[] = [];
  let detailOk: string;
  try {
    detailOk = format === 'directory' ? await checkDirectory(artifact, problems) : await checkTar(artifact, problems);
  } catch (err) {
    if (!(err instanceof TocFormatError || err instanceof ConfigError)) throw err;
    problems.push(err.message);
    detailOk = '';
  }
  const what = format === 'directory' ? 'directory archive' : 'tar archive';
  return {
    name: 'backup.archive_files', stage: 'backup', status: problems.length ? 'fail' : 'pass',
    detail: problems.length
      ? `the ${what} ${artifact} is refused before any tool reads it — ${problems.length} problem(s): ${problems.slice(0, SHOWN).join('; ')}${problems.length > SHOWN ? '; …' : ''}. ` +
        'pg_dump writes only regular files with plain names; an archive holding anything else was altered, and pg_restore would follow it out of the archive'
      : detailOk,
    evidence: { problems: problems.slice(0, 100) },
  };
}

async function checkDirectory(dir: string, problems: string[]): Promise<string> {
  // 1. Every entry below the directory, without following anything.
  let files = 0;
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) files++;
      else problems.push(`${relative(dir, p)} is ${kindOf(await lstat(p))}`);
    }
  };
  await walk(dir);
  if (problems.length) return '';

  // 2. The names toc.dat records, read by pgdrill itself (pg_restore --list does not print them).
  const fh = await openRegularFile(join(dir, 'toc.dat'), 'toc.dat of the directory archive');
  let toc: DirectoryToc;
  try {
    toc = await readDirectoryToc(fh);
  } finally {
    await fh.close();
  }
  let named = 0;
  const loTocs: string[] = [];
  for (const e of toc.entries) {
    // Before archive 1.16 pg_restore reads large objects from blobs.toc whatever the entry records.
    const name = e.desc === 'BLOBS' && toc.versionNumber < archiveVersion(1, 16) ? 'blobs.toc' : e.filename;
    if (name === null) continue;
    named++;
    if (!isPlainFileName(name)) {
      problems.push(`toc.dat entry ${e.dumpId} (${e.desc ?? '?'}) names the data file ${JSON.stringify(name)}, which is not a plain file name inside the archive`);
      continue;
    }
    await expectFileOrNothing(dir, name, `the data file of toc.dat entry ${e.dumpId}`, problems);
    if (e.desc === 'BLOBS') loTocs.push(name);
  }
  // 3. Large-object TOCs name one file per large object ("OID blob_OID.dat").
  let loFiles = 0;
  for (const t of loTocs) loFiles += await checkLargeObjectToc(dir, t, problems);
  return `${files} regular file(s), no link or special file; the ${named} data file name(s) toc.dat records (archive ${toc.version})${loFiles ? ` and ${loFiles} large-object file name(s)` : ''} are plain names inside the archive`;
}

/** The recorded name (or a compressed variant pg_restore would pick) must not be a directory. */
async function expectFileOrNothing(dir: string, name: string, what: string, problems: string[]): Promise<void> {
  for (const suffix of COMPRESSED) {
    const st = await lstat(join(dir, name + suffix)).catch(() => null);
    if (st && !st.isFile()) problems.push(`${what}, ${name + suffix}, is ${kindOf(st)}`);
  }
}

/** Read a blobs.toc (plain or .gz, as pg_restore would) and check every file name in it. Returns the count. */
async function checkLargeObjectToc(dir: string, name: string, problems: string[]): Promise<number> {
  const plain = await lstat(join(dir, name)).catch(() => null);
  const file = plain ? name : (await lstat(join(dir, `${name}.gz`)).catch(() => null)) ? `${name}.gz` : null;
  if (!file) return 0; // missing: backup.directory_files names it
  if (!plain && !file.endsWith('.gz')) return 0;
  const fh = await openRegularFile(join(dir, file), 'large-object TOC');
  const raw = fh.createReadStream({ autoClose: false });
  const input = file.endsWith('.gz') ? raw.pipe(createGunzip()) : raw;
  let n = 0;
  try {
    let lineNo = 0;
    for await (const line of createInterface({ input, crlfDelay: Infinity })) {
      lineNo++;
      if (!line.trim()) continue;
      const m = /^\s*\+?(\d+)\s+(\S+)/.exec(line);
      if (!m) {
        problems.push(`${file} line ${lineNo} is not "OID FILE": ${JSON.stringify(line.slice(0, 80))}`);
        continue;
      }
      n++;
      if (!isPlainFileName(m[2]!)) problems.push(`${file} line ${lineNo} names the large-object file ${JSON.stringify(m[2]!.slice(0, 200))}, which is not a plain file name inside the archive`);
      else await expectFileOrNothing(dir, m[2]!, `the file of large object ${m[1]}`, problems);
      if (problems.length > 100) break;
    }
  } catch (err) {
    problems.push(`${file} cannot be read: ${(err as Error).message}`); // e.g. a damaged .gz
  } finally {
    input.destroy();
    raw.destroy();
    await fh.close();
  }
  return n;
}

/** Walk a tar archive's headers: every member a regular file with a plain name. */
async function checkTar(path: string, problems: string[]): Promise<string> {
  const fh = await openRegularFile(path, 'the tar archive');
  let members = 0;
  try {
    const { size } = await fh.stat();
    const header = Buffer.alloc(512);
    let at = 0;
    while (at + 512 <= size) {
      const { bytesRead } = await fh.read(header, 0, 512, at);
      if (bytesRead < 512) break;
      if (isEndBlock(header)) break;
      const { name: full, type, size } = parseTarHeader(header);
      if (size === null) {
        problems.push(`the tar header at byte ${at} has no valid size: damaged`);
        break;
      }
      if (type !== '0' && type !== '\0') problems.push(`tar member ${JSON.stringify(full)} is ${TAR_TYPE_NAMES[type] ?? `of type ${JSON.stringify(type)}`}, not a regular file`);
      else if (!isPlainFileName(full)) problems.push(`tar member ${JSON.stringify(full)} is not a plain file name`);
      members++;
      if (problems.length > 100) break;
      at += 512 + paddedSize(size);
    }
  } finally {
    await fh.close();
  }
  return `${members} tar member(s), all regular files with plain names`;
}

