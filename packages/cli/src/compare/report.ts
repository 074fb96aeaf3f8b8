import * as fs from 'fs';
import * as path from 'path';
import { plotCurves, renderVegaLite } from '../plot';

/** One model's row in a comparison. */
export interface CompareRow {
  /** experiment name (e.g. clip-fmnist-tiny) */
  name: string;
  model: string;
  config: string;
  runDir: string;
  /** 'ok', 'reused' or 'failed' */
  status: 'ok' | 'reused' | 'failed';
  /** first line of the error when failed */
  error?: string;
  /** the run's results.json, when it has one */
  results?: any;
}

/**
 * The table's columns: header, and how a value is read from a row ("n/a" when absent, never 0); `grouped` numbers get
 * thousands separators in the Markdown and HTML tables, never in the CSV.
 */
export const COLUMNS: { header: string; get: (r: CompareRow) => number | string | undefined; digits?: number; grouped?: boolean }[] = [
  { header: 'model', get: (r) => r.name },
  { header: 'status', get: (r) => (r.status === 'failed' ? `failed: ${r.error}` : r.status) },
  { header: 'params', get: (r) => r.results?.params, digits: 0, grouped: true },
  { header: 'params per component', get: (r) => (r.results?.towers ? Object.entries(r.results.towers).map(([k, v]) => `${k} ${Number(v).toLocaleString('en-US')}`).join('; ') : undefined) },
  { header: 'train samples/s', get: (r) => r.results?.train?.samplesPerSecond, digits: 1 },
  { header: 'peak RSS (MB)', get: (r) => r.results?.train?.peakRssMB, digits: 0 },
  { header: 'wall time (s)', get: (r) => r.results?.train?.wallSeconds, digits: 1 },
  { header: 'zero-shot top-1', get: (r) => r.results?.metrics?.zeroShotTop1, digits: 4 },
  ...(['imageToText', 'textToImage'] as const).flatMap((dir) =>
    ([1, 5, 10] as const).map((k) => ({
      header: `${dir === 'imageToText' ? 'i2t' : 't2i'} R@${k}`,
      get: (r: CompareRow) => r.results?.metrics?.retrieval?.[dir]?.[`r${k}`],
      digits: 3,
    })),
  ),
  { header: 'ITM accuracy', get: (r) => r.results?.metrics?.itmAccuracy, digits: 4 },
  { header: 'BLEU-4', get: (r) => r.results?.metrics?.bleu4, digits: 4 },
  { header: 'CIDEr', get: (r) => r.results?.metrics?.cider, digits: 4 },
];

/**
 * A cell's text: the value with the column's digits, or "n/a" when the model does not report it.
 * @param opts.grouped thousands separators on `grouped` columns (default true: the Markdown and HTML tables; the CSV passes false)
 */
export function cell(c: (typeof COLUMNS)[number], r: CompareRow, opts: { grouped?: boolean } = {}): string {
  const v = c.get(r);
  if (v === undefined || v === null || (typeof v === 'number' && !Number.isFinite(v))) return 'n/a';
  if (typeof v === 'number') {
    if (c.grouped && (opts.grouped ?? true)) return v.toLocaleString('en-US', { minimumFractionDigits: c.digits ?? 0, maximumFractionDigits: c.digits ?? 20 });
    return c.digits !== undefined ? v.toFixed(c.digits) : String(v);
  }
  return v;
}

function csvField(s: string): string {
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * Writes the comparison report into `outDir`: report.md, report.csv, report.json, loss-curves.svg,
 * metrics.svg and report.html (self-contained: the table and the plots inline).
 * @returns the files written
 */
export async function writeReport(outDir: string, title: string, rows: CompareRow[], budget: object): Promise<string[]> {
  fs.mkdirSync(outDir, { recursive: true });
  const header = COLUMNS.map((c) => c.header);
  const table = rows.map((r) => COLUMNS.map((c) => cell(c, r)));
  const md = [
    `# ${title}`, '', `Budget: ${JSON.stringify(budget)}`, '',
    `| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`,
    ...table.map((t) => `| ${t.map((x) => x.replace(/\|/g, '\\|')).join(' | ')} |`), '',
  ].join('\n');
  fs.writeFileSync(path.join(outDir, 'report.md'), md);
  const csv = rows.map((r) => COLUMNS.map((c) => cell(c, r, { grouped: false })));
  fs.writeFileSync(path.join(outDir, 'report.csv'), [header, ...csv].map((r) => r.map(csvField).join(',')).join('\n') + '\n');
  fs.writeFileSync(path.join(outDir, 'report.json'), JSON.stringify({ title, budget, rows: rows.map((r) => ({ ...r, results: r.results ? { ...r.results, history: undefined } : undefined })) }, null, 2));

  // loss curves on shared axes: x = samples seen, one line per model
  const loss = rows.flatMap((r) => {
    const batch = r.results?.train?.samplesPerStep ?? 1;
    return (r.results?.history ?? []).map((h: { step: number; loss: number }) => ({ step: h.step * batch, value: h.loss, series: r.name, panel: 'training loss' }));
  });
  const written = ['report.md', 'report.csv', 'report.json'];
  const plots: string[] = [];
  if (loss.length > 0) {
    await plotCurves(loss, path.join(outDir, 'loss-curves.svg'), 'Training loss (x: samples seen)', 'samples seen');
    plots.push('loss-curves.svg');
  }
  const bars = rows.flatMap((r) =>
    [
      ['zero-shot top-1', r.results?.metrics?.zeroShotTop1],
      ['t2i R@1', r.results?.metrics?.retrieval?.textToImage?.r1],
      ['i2t R@1', r.results?.metrics?.retrieval?.imageToText?.r1],
      ['ITM accuracy', r.results?.metrics?.itmAccuracy],
      ['BLEU-4', r.results?.metrics?.bleu4],
    ]
      .filter(([, v]) => typeof v === 'number')
      .map(([metric, v]) => ({ model: r.name, metric, value: v })),
  );
  if (bars.length > 0) {
    const svg = await renderVegaLite({
      title: 'Metrics per model',
      data: { values: bars },
      facet: { column: { field: 'metric', type: 'nominal', title: null } },
      resolve: { scale: { y: 'independent' } },
      spec: { width: 140, height: 200, mark: 'bar', encoding: { x: { field: 'model', type: 'nominal', axis: { labelAngle: -45 } }, y: { field: 'value', type: 'quantitative' }, color: { field: 'model', type: 'nominal', legend: null } } },
    });
    fs.writeFileSync(path.join(outDir, 'metrics.svg'), svg);
    plots.push('metrics.svg');
  }
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child,th:first-child{text-align:left}figure{margin:2em 0}</style>
</head><body>
<h1>${escapeHtml(title)}</h1>
<p>Budget: <code>${escapeHtml(JSON.stringify(budget))}</code></p>
<table id="results"><thead><tr>${header.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead>
<tbody>${table.map((t, i) => `<tr data-model="${escapeHtml(rows[i].name)}">${t.map((x) => `<td>${escapeHtml(x)}</td>`).join('')}</tr>`).join('\n')}</tbody></table>
${plots.map((p) => `<figure class="plot" data-plot="${p}">${fs.readFileSync(path.join(outDir, p), 'utf8')}</figure>`).join('\n')}
</body></html>
`;
  fs.writeFileSync(path.join(outDir, 'report.html'), html);
  return [...written, ...plots, 'report.html'];
}
