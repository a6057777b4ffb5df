/**
 * What the sandbox jail costs per drill (run as root, the case where it applies):
 *
 * 1. sandbox start + stop (initdb included) with its own network namespace vs without (same dedicated OS user),
 *    N rounds alternated; then `pg_ctl start -w` + stop alone on one data directory, 2N rounds alternated, which
 *    removes initdb's noise;
 * 2. a jailed program start (`unshare --net --setgid --setuid -- true`) vs the same program spawned as the user
 *    (psql replaying a plain dump pays this once);
 * 3. the dedicated user: looking it up (every drill) and creating it (once per machine; measured on a throwaway
 *    user that is deleted again);
 * 4. optionally, the content stage of an archive: `pg_restore --schema-only -f -` vs the full `pg_restore -f -`
 *    read that the hostile-content scan needs (pass a custom archive, e.g. of pgbench scale 50).
 *
 * Run: npx tsx bench/jail-cost.ts [rounds=5] [archive]
 */
import { appendFile, chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { localToolchain } from '../src/toolchain/toolchain.js';
import { lookupOsUser, resolveSandboxUser } from '../src/exec/os-user.js';
import { runProcess } from '../src/exec/run-process.js';
import { fmt, median, time } from './timing.js';
import { scanArchive } from '../src/inventory/read-inventory.js';
import { silentLogger } from '../src/logger.js';
import { SandboxCluster } from '../src/sandbox/cluster.js';
import { jailedCommand, resolveJail } from '../src/sandbox/jail.js';

const rounds = Number(process.argv[2] ?? 5);
const archive = process.argv[3];
if (process.getuid?.() !== 0) throw new Error('run as root: the jail (dedicated user + unshare --net) applies to root');


const bins = await localToolchain();
const parent = await mkdtemp(join(tmpdir(), 'pgdrill-jail-bench-'));
try {
  const tLookup: number[] = [];
  for (let i = 0; i < 20; i++) tLookup.push(await time(() => resolveSandboxUser()));
  const user = (await resolveSandboxUser())!;
  const jail = await resolveJail(user);
  console.log(`jail: ${JSON.stringify({ user: user.name, networkNamespace: jail.networkNamespace, mode: jail.mode })}`);

  const withNs: number[] = [];
  const without: number[] = [];
  for (let i = 0; i < rounds; i++) {
    for (const network of i % 2 ? [true, false] : [false, true]) {
      (network ? withNs : without).push(await time(async () => {
        const c = await SandboxCluster.start({ bins, parentDir: parent, osUser: user, logger: silentLogger, network });
        await c.stop();
      }));
    }
  }
  console.log(`sandbox start+stop, own network namespace: ${fmt(withNs)}`);
  console.log(`sandbox start+stop, host network:          ${fmt(without)}`);
  console.log(`  → namespace cost per sandbox: ${(median(withNs) - median(without)).toFixed(1)} ms (difference of medians)`);

  // The server start alone, on one data directory (initdb's ~1 s of noise removed): pg_ctl start -w + stop.
  const dataDir = join(parent, 'data');
  const sock = await mkdtemp(join(tmpdir(), 'pgdrill-jail-bench-sock-'));
  await chown(parent, user.uid, user.gid);
  await chown(sock, user.uid, user.gid);
  await runProcess({ bin: bins.path('initdb'), args: ['-D', dataDir, '-U', 'b', '--auth=trust', '--no-sync'], uid: user.uid, gid: user.gid });
  await appendFile(join(dataDir, 'postgresql.conf'), `listen_addresses = ''\nunix_socket_directories = '${sock}'\nfsync = off\n`);
  const ctlNs: number[] = [];
  const ctlHost: number[] = [];
  const off = await resolveJail(user, { network: false });
  for (let i = 0; i < rounds * 2; i++) {
    for (const j of i % 2 ? [jail, off] : [off, jail]) {
      const start = jailedCommand(j, bins.path('pg_ctl'), ['-D', dataDir, '-l', join(parent, 'log'), '-w', 'start']);
      (j === jail ? ctlNs : ctlHost).push(await time(async () => {
        await runProcess({ ...start, detached: true });
        await runProcess({ bin: bins.path('pg_ctl'), args: ['-D', dataDir, '-m', 'fast', '-w', 'stop'], uid: user.uid, gid: user.gid });
      }));
    }
  }
  await rm(sock, { recursive: true, force: true });
  console.log(`pg_ctl start -w + stop, own network namespace: ${fmt(ctlNs)}`);
  console.log(`pg_ctl start -w + stop, host network:          ${fmt(ctlHost)}`);
  console.log(`  → namespace cost per server start: ${(median(ctlNs) - median(ctlHost)).toFixed(1)} ms (difference of medians)`);

  const tJailed: number[] = [];
  const tPlain: number[] = [];
  const cmd = jailedCommand(jail, '/bin/true', []);
  for (let i = 0; i < 50; i++) {
    tJailed.push(await time(() => runProcess({ bin: cmd.bin, args: cmd.args, uid: cmd.uid, gid: cmd.gid })));
    tPlain.push(await time(() => runProcess({ bin: '/bin/true', args: [], uid: user.uid, gid: user.gid })));
  }
  console.log(`program start in the jail (unshare --net, setuid): ${fmt(tJailed)}`);
  console.log(`program start as the user, no namespace:          ${fmt(tPlain)}`);
  console.log(`dedicated user lookup (every drill): ${fmt(tLookup)}`);

  const name = `pgdrill-bench-${process.pid}`;
  const tCreate = await time(() => runProcess({ bin: '/usr/sbin/useradd', args: ['--system', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', '--user-group', name] }));
  if (await lookupOsUser(name)) await runProcess({ bin: '/usr/sbin/userdel', args: [name] });
  console.log(`dedicated user creation (once per machine, useradd): ${tCreate.toFixed(1)} ms`);

  if (archive) {
    const so: number[] = [];
    const full: number[] = [];
    for (let i = 0; i < 3; i++) {
      so.push(await time(() => scanArchive(bins, archive, undefined, { schemaOnly: true })));
      full.push(await time(() => scanArchive(bins, archive, undefined)));
    }
    console.log(`archive scan --schema-only (inventory only): ${fmt(so)}`);
    console.log(`archive scan, full read (inventory + every entry scanned + rows + truncation): ${fmt(full)}`);
  }
} finally {
  await rm(parent, { recursive: true, force: true });
}
