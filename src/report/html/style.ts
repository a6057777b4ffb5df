/** The stylesheet of the HTML pages: calm, dense, printable (A4), statuses shown by icon and word as well as colour. */
export const CSS = `
:root{--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--soft:#f6f8fa;--head:#eef1f4;
--pass:#1a7f37;--pass-bg:#dafbe1;--fail:#b3261e;--fail-bg:#ffebe9;--warn:#8a5a00;--warn-bg:#fff3c4;--skip:#59636e;--skip-bg:#eaeef2;
--mono:ui-monospace,"DejaVu Sans Mono","Liberation Mono",Menlo,Consolas,monospace;}
*{box-sizing:border-box}
html{-webkit-print-color-adjust:exact;print-color-adjust:exact}
body{margin:0;background:var(--soft);color:var(--fg);font:14px/1.5 system-ui,-apple-system,"Segoe UI","Liberation Sans","DejaVu Sans",Arial,sans-serif}
header.top{background:#fff;border-bottom:1px solid var(--line);padding:18px 0 14px}
.wrap{max-width:1120px;margin:0 auto;padding:0 24px}
header.top .kicker{font-size:12px;letter-spacing:.06em;text-transform:uppercase;color:var(--muted);margin:0}
h1{font-size:24px;margin:2px 0 4px;line-height:1.25;overflow-wrap:anywhere}
h2{font-size:17px;margin:0 0 10px}
h3{font-size:14px;margin:14px 0 6px}
.sub{color:var(--muted);margin:0}
main{padding:18px 0 32px}
section{background:#fff;border:1px solid var(--line);border-radius:8px;padding:16px 18px;margin:0 0 16px}
.muted{color:var(--muted)}
th .muted{font-weight:400}
code,.mono{font-family:var(--mono);font-size:12.5px}
.hash{font-family:var(--mono);font-size:12.5px;overflow-wrap:anywhere;word-break:break-all}
pre{font-family:var(--mono);font-size:12px;white-space:pre-wrap;overflow-wrap:anywhere;margin:0}
a{color:#0b5cad}
.verdict{display:flex;gap:18px;align-items:flex-start;border:1px solid var(--line);border-left-width:10px}
.verdict.pass{border-color:var(--pass);background:#f3fbf5}
.verdict.fail{border-color:var(--fail);background:#fff6f5}
.verdict .mark{flex:none;width:64px;height:64px;border-radius:50%;display:flex;align-items:center;justify-content:center;font-size:34px;font-weight:700;color:#fff}
.verdict.pass .mark{background:var(--pass)}
.verdict.fail .mark{background:var(--fail)}
.verdict .vbody{flex:1;min-width:0}
.verdict .word{font-size:28px;font-weight:800;letter-spacing:.02em;margin:0;line-height:1.1}
.verdict.pass .word{color:var(--pass)}
.verdict.fail .word{color:var(--fail)}
.verdict p{margin:4px 0}
.verdict ul{margin:8px 0 0;padding-left:0;list-style:none}
.verdict li{margin:4px 0}
.counts{display:flex;flex-wrap:wrap;gap:6px;margin-top:8px}
.facts{display:grid;grid-template-columns:repeat(auto-fit,minmax(230px,1fr));gap:10px 18px;margin:0}
.facts div{border-left:3px solid var(--line);padding-left:10px;min-width:0}
.facts dt{font-size:12px;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
.facts dd{margin:0;font-weight:600;overflow-wrap:anywhere}
table{width:100%;border-collapse:collapse;font-size:13px}
caption{text-align:left;color:var(--muted);font-size:12.5px;padding:0 0 6px;caption-side:top}
th,td{padding:6px 9px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
thead th{background:var(--head);font-weight:600;white-space:nowrap;border-bottom:2px solid var(--line)}
tbody th{font-weight:600}
tbody tr:nth-child(even){background:#fafbfc}
tr.is-fail{background:var(--fail-bg)!important}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.nowrap,.nowrap{white-space:nowrap}
table.narrow{width:auto;min-width:50%}
.badge{display:inline-flex;gap:4px;align-items:center;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:700;white-space:nowrap;border:1px solid transparent}
.badge.pass{background:var(--pass-bg);color:var(--pass);border-color:#aceebb}
.badge.fail{background:var(--fail-bg);color:var(--fail);border-color:#ffcecb}
.badge.warn{background:var(--warn-bg);color:var(--warn);border-color:#f2d98a}
.badge.skip{background:var(--skip-bg);color:var(--skip);border-color:#d1d9e0}
.scroll{overflow-x:auto}
ul.failed{list-style:none;margin:4px 0 0;padding:0;font-size:11.5px;color:var(--fail)}
ul.failed li{white-space:nowrap}
.evidence{margin-top:4px;color:var(--muted);font-family:var(--mono);font-size:11.5px;overflow-wrap:anywhere}
svg{display:block;max-width:100%;height:auto}
svg text{font-family:system-ui,"Liberation Sans","DejaVu Sans",Arial,sans-serif;font-size:12px;fill:var(--fg)}
svg .axis{stroke:var(--line);stroke-width:1}
svg .tick{fill:var(--muted);font-size:11px}
svg .bar.pass,svg .dot.pass{fill:#2da44e}
svg .bar.fail,svg .dot.fail{fill:#cf222e}
svg .bar.warn,svg .dot.warn{fill:#d4a72c}
svg .bar.skip,svg .dot.skip{fill:#8c959f}
svg .line{fill:none;stroke:#0969da;stroke-width:2}
svg .track{fill:#f0f3f6}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:12px 24px}
figure{margin:0}
figcaption{font-size:12.5px;color:var(--muted);margin-top:4px}
footer{color:var(--muted);font-size:12px;padding:0 0 24px}
@media print{
  @page{size:A4;margin:12mm}
  body{background:#fff;font-size:11.5px}
  header.top{border:0;padding:0 0 8px}
  .wrap{max-width:none;padding:0}
  main{padding:6px 0}
  section{border:0;border-top:1px solid var(--line);border-radius:0;padding:10px 0;margin:0}
  section.verdict{border:1px solid var(--line);border-left-width:10px;padding:12px 14px;margin-bottom:8px}
  .verdict.pass{border-color:var(--pass)}
  .verdict.fail{border-color:var(--fail)}
  h2{break-after:avoid}
  thead{display:table-header-group}
  tr,figure,.verdict{break-inside:avoid}
  a{color:inherit;text-decoration:none}
  .charts{grid-template-columns:1fr 1fr;gap:8px 16px}
  td.nowrap,td .nowrap{white-space:normal}
  th,td{padding:4px 6px}
  thead th,th.num,ul.failed li{white-space:normal}
  table{font-size:10.5px}
  code,.mono,.hash{font-size:10px}
  .scroll{overflow:visible}
}
`;
