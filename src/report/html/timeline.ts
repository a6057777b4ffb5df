/** The stage timeline: one SVG bar per stage, placed at its start and as long as its duration. */
import { formatDuration } from '../../config/duration.js';
import type { Stage } from '../model.js';
import { html, type Html } from './escape.js';
import { STATUS } from './format.js';

const W = 1040;
const LABEL = 150;
const RIGHT = 120;
const ROW = 30;
const TOP = 8;
const AXIS = 28;

/** Offsets of each stage from the run's start; stages whose start cannot be read follow the previous one. */
function offsets(stages: readonly Stage[], runStartedAt: string): number[] {
  const t0 = Date.parse(runStartedAt);
  let cursor = 0;
  return stages.map((s) => {
    const t = Date.parse(s.started_at) - t0;
    const at = Number.isFinite(t) && t >= 0 ? t : cursor;
    cursor = at + s.duration_ms;
    return at;
  });
}

/** SVG timeline of `stages` over a run that started at `runStartedAt` and lasted `runMs`. */
export function stageTimeline(stages: readonly Stage[], runStartedAt: string, runMs: number): Html {
  if (!stages.length) return html`<p class="muted">No stage ran.</p>`;
  const at = offsets(stages, runStartedAt);
  const total = Math.max(runMs, ...stages.map((s, i) => at[i]! + s.duration_ms), 1);
  const area = W - LABEL - RIGHT;
  const x = (ms: number) => LABEL + (ms / total) * area;
  const h = TOP + stages.length * ROW + AXIS;
  const rows = stages.map((s, i) => {
    const y = TOP + i * ROW;
    const bx = x(at[i]!);
    const bw = Math.max(2, (s.duration_ms / total) * area);
    const label = `${formatDuration(s.duration_ms)}`;
    return html`<g>
<title>${s.name}: ${STATUS[s.status].word}, ${label} (${s.duration_ms} ms), from +${formatDuration(at[i]!)}</title>
<rect class="track" x="${LABEL}" y="${y + 4}" width="${area}" height="${ROW - 8}" rx="3"></rect>
<rect class="bar ${s.status}" x="${bx.toFixed(1)}" y="${y + 6}" width="${bw.toFixed(1)}" height="${ROW - 12}" rx="3"></rect>
<text x="${LABEL - 10}" y="${y + ROW / 2 + 4}" text-anchor="end">${STATUS[s.status].icon} ${s.name}</text>
<text x="${(bx + bw + 6).toFixed(1)}" y="${y + ROW / 2 + 4}">${label} · ${STATUS[s.status].word}</text>
</g>`;
  });
  const axisY = TOP + stages.length * ROW + 4;
  const ticks = [0, 0.25, 0.5, 0.75, 1].map(
    (f) => html`<line class="axis" x1="${x(f * total).toFixed(1)}" x2="${x(f * total).toFixed(1)}" y1="${TOP}" y2="${axisY + 4}"></line>
<text class="tick" x="${x(f * total).toFixed(1)}" y="${axisY + 18}" text-anchor="middle">${f === 0 ? '0 s' : formatDuration(f * total)}</text>`,
  );
  const desc = stages.map((s, i) => `${s.name} ${STATUS[s.status].word} ${formatDuration(s.duration_ms)} starting at +${formatDuration(at[i]!)}`).join('; ');
  return html`<svg viewBox="0 0 ${W} ${h}" width="${W}" height="${h}" role="img" aria-labelledby="tl-title tl-desc" xmlns="http://www.w3.org/2000/svg">
<title id="tl-title">Stage timeline, time since the drill started</title>
<desc id="tl-desc">${desc}</desc>
${ticks}
<line class="axis" x1="${LABEL}" x2="${W - RIGHT}" y1="${axisY}" y2="${axisY}"></line>
${rows}
</svg>`;
}
