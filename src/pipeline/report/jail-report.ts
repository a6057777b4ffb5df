/**
 * The jail in the report: which OS user and network namespace the sandbox had, and what the scan refused before
 * the sandbox was given anything — each refusal named by the dump entry it sits in.
 */
import { userInfo } from 'node:os';
import type { DrillConfig } from '../../config/schema.js';
import type { ReportBuilder } from '../../report/builder.js';
import type { JailReport, Refused } from '../../report/model.js';
import type { Jail } from '../../sandbox/jail.js';
import type { PlainScanOptions, PlainScanResult } from '../../scan/types.js';

/** The scanner's options from config `sandbox.allow` (default: nothing allowed). */
export function scanOptionsOf(config: Pick<DrillConfig, 'sandbox'>): PlainScanOptions {
  const allow = config.sandbox.allow;
  return { allow: { functions: allow?.functions ?? [], metaCommands: allow?.meta_commands ?? [] } };
}

/**
 * The scan's findings, each with the dump entry it is in: the last `-- Name: …; Type: …` header at or before its
 * line (pg_dump writes one before every entry, and `pg_restore -f -` does the same for archives).
 */
export function locateRefused(scan: PlainScanResult): Refused[] {
  const entries = scan.inventory.entries;
  return scan.findings.map((f) => {
    // Entries are in line order: binary search for the last one at or before the finding.
    let lo = 0;
    let hi = entries.length - 1;
    let at = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (entries[mid]!.line <= f.line) {
        at = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    const e = at >= 0 ? entries[at]! : null;
    return { kind: f.kind, line: f.line, object: e ? `${e.type} ${e.schema ? `${e.schema}.` : ''}${e.name}` : null, text: f.text };
  });
}

/** Where the sandbox's OS user came from. */
export function osUserSource(jail: Jail, configured: string | undefined): JailReport['os_user_source'] {
  if (!jail.osUser) return 'caller';
  return configured === undefined ? 'dedicated' : 'config';
}

/** The report's `jail` section. `scan` null: no dump was scanned (nothing refused). */
export function jailReport(jail: Jail, configured: string | undefined, scan: PlainScanResult | null, opts: PlainScanOptions): JailReport {
  return {
    os_user: jail.osUser?.name ?? null,
    os_user_source: osUserSource(jail, configured),
    network_namespace: jail.networkNamespace,
    namespace_mode: jail.mode,
    namespace_note: jail.note,
    mount_namespace: jail.mountNamespace,
    mount_note: jail.mountNote,
    refused: scan ? locateRefused(scan) : [],
    refused_omitted: scan?.findingsOmitted ?? 0,
    allowed: { functions: [...(opts.allow?.functions ?? [])], meta_commands: [...(opts.allow?.metaCommands ?? [])] },
  };
}

/** Named notes for a weaker jail: no network namespace, no mount namespace, an OS user from the config, or the caller's own user. */
export function jailNotes(builder: ReportBuilder, jail: Jail, configured: string | undefined): void {
  if (!jail.networkNamespace && jail.note) builder.note('no-network-namespace', jail.note);
  if (!jail.mountNamespace && jail.mountNote) builder.note('no-mount-namespace', jail.mountNote);
  const source = osUserSource(jail, configured);
  if (source === 'config') {
    builder.note('sandbox-os-user', `the sandbox runs as sandbox.os_user "${jail.osUser!.name}" from the config, not pgdrill's dedicated user: SQL in the dump that reaches the host (whatever the scan cannot see) acts with that user's file permissions — everything "${jail.osUser!.name}" owns is within its reach`);
  } else if (source === 'caller') {
    builder.note('sandbox-os-user', `pgdrill does not run as root, so the sandbox runs as the caller (${userInfo().username}, uid ${process.getuid?.() ?? '?'}): SQL in the dump that reaches the host (whatever the scan cannot see) can read and write whatever the caller can`);
  }
}
