/**
 * The page shell shared by report.html and the history index: one self-contained document with inline CSS,
 * no scripts, and a Content-Security-Policy that forbids scripts and every network fetch (defence in depth
 * behind the escaping: a report opened from disk or a mail attachment cannot call home).
 */
import { html, trusted, type Html } from './escape.js';
import { CSS } from './style.js';

/** A complete HTML document around `body`. */
export function page(opts: { readonly title: string; readonly body: Html }): string {
  return html`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="generator" content="pgdrill">
<title>${opts.title}</title>
<style>${trusted(CSS)}</style>
</head>
<body>
${opts.body}
</body>
</html>
`.value;
}
