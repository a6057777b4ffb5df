/**
 * What the fidelity checks take from the dump itself rather than from production (src/fidelity/schema-from-dump.ts):
 * the round trip's source side and, `--deep`, the large objects' hashes. A plain dump is read as pg_dump writes it (a
 * consumer of the backup's one pass); an archive once it is written, through pg_restore.
 */
import { join } from 'node:path';
import type { ChunkConsumer } from '../../backup/hashing-stream.js';
import type { DumpFormat } from '../../backup/pg-dump.js';
import { DumpSchemaExtractor, readArchiveSide, type DumpSideFidelity } from '../../fidelity/schema-from-dump.js';
import { withDumpSide, type SourceFidelity } from '../../fidelity/source-capture.js';
import type { Toolchain } from '../../toolchain/toolchain.js';

/** What `DumpSide` needs. */
export interface DumpSideOptions {
  readonly bins: Toolchain;
  readonly format: DumpFormat;
  /** The fidelity directory (the schema goes to `source-schema.sql` there). */
  readonly dir: string;
  /** Take the round trip's source side from the dump (schemaFromDumpPossible). */
  readonly schema: boolean;
  /** `--deep`: the large objects' hashes. */
  readonly largeObjects: boolean;
  readonly signal?: AbortSignal;
}

/** The dump's side of the fidelity checks, read during (plain) or after (archives) the dump. */
export class DumpSide {
  private readonly plain: DumpSchemaExtractor | null;

  constructor(private readonly o: DumpSideOptions) {
    this.plain = o.format === 'plain' && this.wanted() ? new DumpSchemaExtractor(this.extractorOptions()) : null;
  }

  /** The consumer of a plain dump's bytes (none for archives, or when nothing is wanted). */
  get consumer(): ChunkConsumer | null {
    return this.plain?.push ?? null;
  }

  private wanted(): boolean {
    return this.o.schema || this.o.largeObjects;
  }

  private extractorOptions() {
    return { schemaPath: this.o.schema ? join(this.o.dir, 'source-schema.sql') : null, largeObjects: this.o.largeObjects };
  }

  /** The dump is written: the source's fidelity with the dump's side added. Never throws but for an interrupt. */
  async complete(fidelity: SourceFidelity, dumpPath: string): Promise<SourceFidelity> {
    if (!this.wanted()) return fidelity;
    const t0 = performance.now();
    let side: DumpSideFidelity;
    try {
      side = this.plain
        ? await this.plain.finish()
        : await readArchiveSide({ ...this.extractorOptions(), bins: this.o.bins, archive: dumpPath, listPath: join(this.o.dir, 'dump-side.list'), signal: this.o.signal });
    } catch (err) {
      if (this.o.signal?.aborted) throw err;
      return withDumpSide(fidelity, null, 0, (err as Error).message);
    }
    return withDumpSide(fidelity, side, Math.round(performance.now() - t0));
  }

  /** The dump failed: nothing to read (a partial schema file removed). */
  async abandon(): Promise<void> {
    await this.plain?.abandon();
  }
}
