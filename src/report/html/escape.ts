/**
 * Escaping for the HTML renderers. Report text can come from a hostile dump (object names, error messages,
 * statements), so every interpolated value is escaped by the `html` tag unless it is already `Html` built by
 * this module: forgetting to escape is not possible by construction.
 */

/** Markup that is already safe to emit (built by `html`, or a constant). */
export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

/** What `html` accepts in `${}`: nullish and `false` render as nothing, arrays are concatenated. */
export type Interpolation = Html | string | number | boolean | null | undefined | readonly Interpolation[];

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escape text for element content and quoted attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

function render(v: Interpolation): string {
  if (v === null || v === undefined || v === false) return '';
  if (v instanceof Html) return v.value;
  if (Array.isArray(v)) return v.map(render).join('');
  return escapeHtml(String(v));
}

/** Tagged template: the literal parts are markup, every interpolation is escaped text (or nested `Html`). */
export function html(strings: TemplateStringsArray, ...values: Interpolation[]): Html {
  let out = strings[0]!;
  values.forEach((v, i) => (out += render(v) + strings[i + 1]!));
  return new Html(out);
}

/** Trust a constant string as markup (CSS, fixed SVG). Never pass report content here. */
export function trusted(constant: string): Html {
  return new Html(constant);
}
