/**
 * The proof stage: production untouched — the source's identity and catalog fingerprint read again and compared
 * with the guard's, every statement sent to it judged read-only (src/source/guard-and-proof.ts).
 */
import type { ReportBuilder } from '../report/builder.js';
import type { Report } from '../report/model.js';
import { productionStage, type GuardedSource } from '../source/guard-and-proof.js';
import { sourceSections } from './guard/source-guard.js';
import type { FootprintMeter } from '../source/footprint.js';

/** The report's `production` section (before and after) and `production_untouched`. */
export interface ProofResult {
  readonly production: Report['production'];
  readonly untouched: boolean;
}

/** Prove production untouched. `what`: 'drill' or 'verify', for the messages; see productionStage for the rest. */
export async function proofStage(builder: ReportBuilder, guarded: GuardedSource, o: {
  readonly what: 'drill' | 'verify';
  readonly signal?: AbortSignal;
  readonly interrupted?: boolean;
  readonly endsOnInterrupt?: boolean;
  /**
   * What the drill cost the source (src/source/footprint.ts): its session ended first (its statements are in the audit
   * judged here), finished after the proof, whose session it counts too. Default none.
   */
  readonly footprint?: FootprintMeter | null;
}): Promise<ProofResult> {
  const section = { production: sourceSections(guarded, null).production };
  await o.footprint?.stopSession();
  const untouched = await productionStage(builder, guarded, section, o);
  section.production.footprint = (await o.footprint?.finish()) ?? null;
  return { production: section.production, untouched };
}
