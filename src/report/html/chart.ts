/** A small time-series chart in SVG: one point per drill, a line through them, a shape per status. */
import { html, type Html } from './escape.js';

/** One drill on a chart. */
export interface ChartPoint {
  /** Epoch milliseconds. */
  readonly t: number;
  readonly v: number;
  readonly failed: boolean;
  /** Tooltip and accessible text for the point. */
  readonly label: string;
}

/** What to draw. */
export interface ChartOptions {
  /** Unique within the page (used for aria ids). */
  readonly id: string;
  readonly title: string;
  /** Summary for screen readers. */
  readonly desc: string;
  readonly points: readonly ChartPoint[];
  /** Formats a y value with its unit. */
  readonly format: (v: number) => string;
  /** How to choose round tick values. */
  readonly scale: 'duration' | 'bytes' | 'number';
  /** Join the points with a line (default true); false for points of different series (a fleet's drills). */
  readonly line?: boolean;
}

const W = 520;
const H = 210;
const L = 78;
const R = 18;
const T = 14;
const B = 40;

const SECOND = 1000;
const DURATION_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 3 * 3600, 6 * 3600, 12 * 3600, 86400].map((s) => s * SECOND);

/** The smallest step from 1-2-2.5-5 × base^k (base 10, or 1024 for bytes) with 4 steps reaching v. */
function niceStep(v: number, base: number): number {
  const unit = base === 1024 ? 1024 ** Math.max(0, Math.floor(Math.log(Math.max(v, 1)) / Math.log(1024))) : 1;
  const q = v / 4 / unit;
  const p = 10 ** Math.floor(Math.log10(Math.max(q, 1e-9)));
  return ([1, 2, 2.5, 5, 10].find((m) => m * p >= q) ?? 10) * p * unit;
}

/** Y axis step for a scale: durations step by whole seconds, minutes, hours; bytes by binary units. */
function stepFor(scale: ChartOptions['scale'], max: number): number {
  if (scale === 'duration') return DURATION_STEPS.find((s) => s * 4 >= max) ?? niceStep(max, 10);
  return niceStep(max, scale === 'bytes' ? 1024 : 10);
}

function day(t: number): string {
  return new Date(t).toISOString().slice(0, 10);
}

/** The chart, as an accessible inline SVG (role img, title, desc; a title per point). */
export function timeChart(o: ChartOptions): Html {
  const pts = [...o.points].sort((a, b) => a.t - b.t);
  const max = 4 * stepFor(o.scale, Math.max(1, ...pts.map((p) => p.v)));
  const t0 = pts[0]?.t ?? 0;
  const t1 = pts.at(-1)?.t ?? 0;
  const x = (t: number) => (t1 === t0 ? L + (W - L - R) / 2 : L + ((t - t0) / (t1 - t0)) * (W - L - R));
  const y = (v: number) => T + (1 - v / max) * (H - T - B);
  const yTicks = [0, 0.25, 0.5, 0.75, 1].map(
    (f) => html`<line class="axis" x1="${L}" x2="${W - R}" y1="${y(f * max).toFixed(1)}" y2="${y(f * max).toFixed(1)}"></line>
<text class="tick" x="${L - 8}" y="${(y(f * max) + 4).toFixed(1)}" text-anchor="end">${o.format(f * max)}</text>`,
  );
  const xLabels = t1 === t0 ? [t0] : t1 - t0 > 2 * 86_400_000 ? [t0, (t0 + t1) / 2, t1] : [t0, t1];
  const anchor = (i: number) => (xLabels.length === 1 || (i > 0 && i < xLabels.length - 1) ? 'middle' : i === 0 ? 'start' : 'end');
  const xTicks = xLabels.map((t, i) => html`<line class="axis" x1="${x(t).toFixed(1)}" x2="${x(t).toFixed(1)}" y1="${H - B}" y2="${H - B + 5}"></line>
<text class="tick" x="${x(t).toFixed(1)}" y="${H - B + 18}" text-anchor="${anchor(i)}">${day(t)}${i === xLabels.length - 1 ? ' UTC' : ''}</text>`);
  const path = pts.map((p, i) => `${i ? 'L' : 'M'}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(' ');
  const marks = pts.map((p) => {
    const cx = x(p.t);
    const cy = y(p.v);
    return p.failed
      ? html`<g><title>${p.label}</title><path class="dot fail" d="M${(cx - 6).toFixed(1)},${(cy - 6).toFixed(1)} l12,12 m0,-12 l-12,12" stroke="#cf222e" stroke-width="3"></path></g>`
      : html`<g><title>${p.label}</title><circle class="dot pass" cx="${cx.toFixed(1)}" cy="${cy.toFixed(1)}" r="5" stroke="#fff" stroke-width="1.5"></circle></g>`;
  });
  return html`<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-labelledby="${o.id}-t ${o.id}-d" xmlns="http://www.w3.org/2000/svg">
<title id="${o.id}-t">${o.title}</title>
<desc id="${o.id}-d">${o.desc}</desc>
${yTicks}
<line class="axis" x1="${L}" x2="${L}" y1="${T}" y2="${H - B}"></line>
${pts.length > 1 && o.line !== false ? html`<path class="line" d="${path}"></path>` : ''}
${marks}
${xTicks}
</svg>`;
}
