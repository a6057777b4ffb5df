/**
 * Helpers of the jail tests: a TCP listener on the host's 127.0.0.1 that counts connections, and directories
 * where a hostile dump's side effect would land (reachable by the sandbox user) or must not (root's, mode 0755).
 */
import { chmod, chown, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lookupOsUser, resolveSandboxUser } from '../../src/exec/os-user.js';

/** A listener on 127.0.0.1 (host network namespace) that counts the connections it accepts. */
export interface Listener extends AsyncDisposable {
  readonly port: number;
  /** Connections accepted so far. */
  connections(): number;
}

/** Start a listener on 127.0.0.1 on a free port. */
export async function startListener(): Promise<Listener> {
  let count = 0;
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    count++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    s.resume();
  });
  await new Promise<void>((res, rej) => server.listen(0, '127.0.0.1', res).once('error', rej));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    connections: () => count,
    [Symbol.asyncDispose]: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((res) => server.close(() => res()));
    },
  };
}

/** A directory the sandbox's OS user can write to: where a side effect would land if nothing stopped it. */
export async function reachableDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await mkdtemp(join(tmpdir(), 'pgdrill-jail-reach-'));
  const u = await resolveSandboxUser();
  if (u) await chown(path, u.uid, u.gid);
  await chmod(path, 0o755);
  return { path, [Symbol.asyncDispose]: () => rm(path, { recursive: true, force: true }) };
}

/** A directory owned by `owner` (default root) with `mode` (default 0755): the host, outside the sandbox. */
export async function hostDir(mode = 0o755, owner = 'root'): Promise<{ path: string } & AsyncDisposable> {
  const path = await mkdtemp(join(tmpdir(), 'pgdrill-jail-host-'));
  const u = owner === 'root' ? { uid: 0, gid: 0 } : await lookupOsUser(owner);
  if (!u) throw new Error(`no OS user ${owner}`);
  await chown(path, u.uid, u.gid);
  await chmod(path, mode);
  return { path, [Symbol.asyncDispose]: () => rm(path, { recursive: true, force: true }) };
}

/** Wait a little for a connection that a child process might still be opening. */
export const settle = (ms = 300) => new Promise((r) => setTimeout(r, ms));
