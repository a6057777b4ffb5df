/** Presentation of values in the HTML pages: units on numbers, zones on times, a word and an icon on statuses. */
import { formatBytes, formatDuration } from '../../config/duration.js';
import type { CheckStatus } from '../model.js';
import { html, type Html } from './escape.js';

/** Made on first use: building it loads ICU data (~30 ms), which a drill's start need not wait for. */
let NUMBER: Intl.NumberFormat | null = null;

/** 1234567 → "1,234,567". */
export function num(n: number): string {
  return (NUMBER ??= new Intl.NumberFormat('en-US')).format(n);
}

/** An ISO instant as "2026-11-27 23:33:17 UTC" in a <time> element; unparseable text is shown as is. */
export function utc(iso: string | null | undefined): Html {
  if (!iso) return html`—`;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return html`${iso}`;
  const text = d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC').replace(/Z$/, ' UTC');
  return html`<time datetime="${d.toISOString()}">${text}</time>`;
}

/** "4.2 s" with the exact milliseconds in a tooltip. */
export function duration(ms: number | null | undefined): Html {
  if (ms === null || ms === undefined) return html`—`;
  return html`<span title="${num(ms)} ms">${formatDuration(ms)}</span>`;
}

/** "636.5 MiB (667,414,820 bytes)". */
export function bytes(n: number | null | undefined): Html {
  if (n === null || n === undefined) return html`—`;
  return n < 1024 ? html`${num(n)} bytes` : html`${formatBytes(n)} <span class="muted">(${num(n)} bytes)</span>`;
}

/** Text and icon for each status: colour is never the only signal. */
export const STATUS: Record<CheckStatus, { readonly icon: string; readonly word: string }> = {
  pass: { icon: '✔', word: 'PASS' },
  fail: { icon: '✖', word: 'FAIL' },
  warn: { icon: '▲', word: 'WARN' },
  skip: { icon: '–', word: 'SKIP' },
};

/** A status badge: icon + word, coloured by class. */
export function badge(s: CheckStatus): Html {
  return html`<span class="badge ${s}"><span aria-hidden="true">${STATUS[s].icon}</span> ${STATUS[s].word}</span>`;
}

/** A yes/no/unknown fact, with the words chosen by the caller ("unchanged"/"CHANGED"). */
export function verdict(v: boolean | null | undefined, yes: string, no: string, unknown = 'not applicable'): Html {
  if (v === null || v === undefined) return html`<span class="badge skip"><span aria-hidden="true">–</span> ${unknown}</span>`;
  return v ? html`<span class="badge pass"><span aria-hidden="true">✔</span> ${yes}</span>` : html`<span class="badge fail"><span aria-hidden="true">✖</span> ${no}</span>`;
}

/** Text or an em dash. */
export function orDash(v: string | number | boolean | null | undefined): string {
  return v === null || v === undefined || v === '' ? '—' : typeof v === 'number' ? num(v) : String(v);
}
