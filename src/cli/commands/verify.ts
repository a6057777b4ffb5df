/** `pgdrill verify ARTIFACT`: drill a backup pgdrill did not take (plain, .sql.gz, custom, directory, tar). */
import { Command } from 'commander';
import { loadConfig, validateConfig } from '../../config/load.js';
import { verifyArtifact } from '../../verify/verify-artifact.js';
import { isPhysicalBackup, verifyPhysical } from '../../physical/verify-physical.js';
import { isRepositoryArtifact, verifyRepositoryBackup } from '../../physical/repository-verify.js';
import { ConfigError } from '../../errors.js';
import { progressRenderer } from '../progress.js';
import { renderSummary } from '../summary.js';
import { addMajorOptions, type MajorOptions } from '../major-options.js';
import type { CliContext } from '../context.js';

/** Register `pgdrill verify`. */
export function registerVerify(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('verify')
    .description('drill an existing backup: integrity (SHA256SUMS, trailer, full read), refused content, content check, isolated restore, teardown, report; a pg_basebackup output is recovered from its WAL archive to a target (docs/physical.md)')
    .argument('<artifact>', 'the dump: plain SQL, .sql.gz, custom or tar archive file, or a directory archive; or a pg_basebackup output directory (plain or tar format); or pgbackrest:STANZA[@LABEL], barman:SERVER[@BACKUP_ID]')
    .option('--wal <dir>', 'physical backups: the WAL archive (as archive_command = \'cp %p DIR/%f\' fills it; compressed segments too)')
    .option('--target <target>', 'physical backups: immediate | latest | TIME (with its zone) | lsn:LSN | xid:XID | name:RESTORE_POINT (default: latest with --wal, else immediate)')
    .option('--target-timeline <tli>', 'physical backups: recovery_target_timeline: latest, current or a number (default latest)')
    .option('--pgbackrest-config <file>', 'pgbackrest:STANZA[@LABEL] artefacts: the pgBackRest configuration (default /etc/pgbackrest/pgbackrest.conf)')
    .option('--barman-config <file>', 'barman:SERVER[@BACKUP_ID] artefacts: the Barman configuration (default /etc/barman.conf)')
    .option('--sums <file>', 'SHA256SUMS to check the artefact against (default: SHA256SUMS beside it, when it lists it)')
    .option('--config <file>', 'YAML config: pins, expectations, thresholds, webhook, metadata')
    .option('--source <url>', 'the live source the dump came from: compared now (not snapshot-exact) and proven untouched')
    .option('--deep', 'with --source: also hash every table\'s content on the source now and in the restored copy, and compare (not snapshot-exact: WARN, or FAIL with source.unchanged_since_dump)', false)
    .option('--globals <file>', 'the roles taken with the dump (pg_dumpall --globals-only or --roles-only): restored first, instead of NOLOGIN placeholders (default: NAME.globals.sql beside NAME.sql/.dump/.dir, as pgdrill run writes it)')
    .option('--no-globals', 'do not restore a globals file, not even the one beside the dump')
    .option('--out <dir>', 'directory for run directories (default: config out, else ./drills)')
    .option('--database <name>', 'name to restore into and file the run under (default: source, config, archive dbname, or the file name)')
    .option('--junit <file>', 'write JUnit XML (one test case per check)')
    .option('--metrics <file>', 'update a Prometheus textfile-collector file (atomic; other databases kept)')
    .option('--keep', 'leave the sandbox running and print how to connect', false)
    .option('--json', 'print report.json on stdout', false);
  addMajorOptions(cmd, 'the "Dumped from" major in the dump\'s header')
    .action(async (artifact: string, o: MajorOptions & { pgbackrestConfig?: string; barmanConfig?: string; wal?: string; target?: string; targetTimeline?: string; sums?: string; config?: string; source?: string; globals?: string | false; out?: string; database?: string; junit?: string; metrics?: string; keep: boolean; deep: boolean; json: boolean }) => {
      const config = o.config ? await loadConfig(o.config) : validateConfig({});
      const repository = isRepositoryArtifact(artifact);
      const physical = repository || await isPhysicalBackup(artifact);
      if (!physical && (o.wal || o.target || o.targetTimeline)) throw new ConfigError(`--wal, --target and --target-timeline are for physical backups, and ${artifact} is not a pg_basebackup output (no backup_label, backup_manifest or base.tar in it)`);
      if (o.pgbackrestConfig && !artifact.startsWith('pgbackrest:')) throw new ConfigError(`--pgbackrest-config is for pgbackrest:STANZA artefacts, not ${artifact}`);
      if (o.barmanConfig && !artifact.startsWith('barman:')) throw new ConfigError(`--barman-config is for barman:SERVER artefacts, not ${artifact}`);
      const result = await (repository ? verifyRepositoryBackup : physical ? verifyPhysical : verifyArtifact)({
        pgbackrestConfig: o.pgbackrestConfig, barmanConfig: o.barmanConfig, wal: o.wal, target: o.target, targetTimeline: o.targetTimeline,
        artifact, sums: o.sums, config, source: o.source, globals: o.globals, outDir: o.out, database: o.database, keep: o.keep, deep: o.deep, sandboxMajor: o.sandboxMajor, targetMajor: o.targetMajor,
        junit: o.junit, metrics: o.metrics, signal: ctx.signal, logger: ctx.logger, progress: progressRenderer(process.stderr, o.json), argv: ctx.argv,
      });
      if (o.json) process.stdout.write(JSON.stringify(result.report, null, 2) + '\n');
      else process.stdout.write(renderSummary(result.report, result.runDir));
      ctx.exitCode = result.exitCode;
    });
}
