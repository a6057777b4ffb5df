/**
 * What the bubblewrap jail costs per drill against the unshare jail it replaces (run as root):
 *
 * 1. `pg_ctl start -w` + stop on one data directory, jailed by bwrap (mount, network, IPC, UTS, user namespaces,
 *    the sandbox's view bound) vs by `unshare --net` + setuid, 2N rounds alternated;
 * 2. a jailed program start (`true`), bwrap vs unshare (psql and initdb pay this once per drill);
 * 3. a confined artefact reader start (`true` in bwrap as root, capabilities dropped) vs the program alone.
 *
 * Run: npx tsx bench/jail-bwrap-cost.ts [rounds=5]
 */
import { appendFile, chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { localToolchain } from '../src/toolchain/toolchain.js';
import { resolveSandboxUser } from '../src/exec/os-user.js';
import { runProcess } from '../src/exec/run-process.js';
import { fmt, time } from './timing.js';
import { jailedCommand, probeJail, type JailView } from '../src/sandbox/jail.js';
import { readerCommand, resolveReaderJail } from '../src/sandbox/reader-jail.js';

const rounds = Number(process.argv[2] ?? 5);
if (process.getuid?.() !== 0) throw new Error('run as root');

const bins = await localToolchain();
const user = (await resolveSandboxUser())!;
const bwrap = await probeJail(user);
const unshare = await probeJail(user, { bwrap: [] });
if (bwrap.mode !== 'bwrap' || unshare.mode !== 'root') throw new Error(`need bwrap and unshare: ${bwrap.mountNote} / ${unshare.note}`);
const parent = await mkdtemp(join(tmpdir(), 'pgdrill-bwrap-bench-'));
const sock = await mkdtemp(join(tmpdir(), 'pgdrill-bwrap-bench-sock-'));
try {
  await chown(parent, user.uid, user.gid);
  await chown(sock, user.uid, user.gid);
  const ident = join(parent, 'jail');
  await mkdir(ident, { mode: 0o755 });
  await writeFile(join(ident, 'passwd'), `${user.name}:x:${user.uid}:${user.gid}::/nonexistent:/usr/sbin/nologin\n`, { mode: 0o644 });
  await writeFile(join(ident, 'group'), `${user.name}:x:${user.gid}:\n`, { mode: 0o644 });
  const view: JailView = { rw: [parent, sock], passwd: join(ident, 'passwd'), group: join(ident, 'group') };
  const dataDir = join(parent, 'data');
  await runProcess({ bin: bins.path('initdb'), args: ['-D', dataDir, '-U', 'b', '--auth=trust', '--no-sync'], uid: user.uid, gid: user.gid });
  await appendFile(join(dataDir, 'postgresql.conf'), `listen_addresses = ''\nunix_socket_directories = '${sock}'\nfsync = off\n`);
  const ctl = new Map<string, number[]>([['bwrap', []], ['unshare', []]]);
  for (let i = 0; i < rounds * 2; i++) {
    for (const j of i % 2 ? [bwrap, unshare] : [unshare, bwrap]) {
      const start = jailedCommand(j, bins.path('pg_ctl'), ['-D', dataDir, '-l', join(parent, 'log'), '-w', 'start'], { ...view, dieWithParent: false });
      ctl.get(j.mode === 'bwrap' ? 'bwrap' : 'unshare')!.push(await time(async () => {
        await runProcess({ ...start, detached: true });
        await runProcess({ bin: bins.path('pg_ctl'), args: ['-D', dataDir, '-m', 'fast', '-w', 'stop'], uid: user.uid, gid: user.gid });
      }));
    }
  }
  console.log(`pg_ctl start -w + stop, bwrap:   ${fmt(ctl.get('bwrap')!)}`);
  console.log(`pg_ctl start -w + stop, unshare: ${fmt(ctl.get('unshare')!)}`);
  const prog = new Map<string, number[]>([['bwrap', []], ['unshare', []], ['reader', []], ['plain', []]]);
  const reader = await resolveReaderJail();
  for (let i = 0; i < 30; i++) {
    prog.get('bwrap')!.push(await time(() => runProcess(jailedCommand(bwrap, '/usr/bin/true', [], view))));
    prog.get('unshare')!.push(await time(() => runProcess(jailedCommand(unshare, '/usr/bin/true', []))));
    prog.get('reader')!.push(await time(() => runProcess(readerCommand(reader, '/usr/bin/true', [], { ro: [parent] }))));
    prog.get('plain')!.push(await time(() => runProcess({ bin: '/usr/bin/true', args: [] })));
  }
  for (const [k, v] of prog) console.log(`program start (${k}): ${fmt(v)}`);
} finally {
  await rm(parent, { recursive: true, force: true });
  await rm(sock, { recursive: true, force: true });
}
