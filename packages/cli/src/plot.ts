import { writeFileSync } from 'fs';

/** Dynamic `import()` kept as is by the CommonJS build (vega and vega-lite are ES modules). */
const importEsm = new Function('m', 'return import(m)') as (m: string) => Promise<any>;

/** One row of a long-format series table. */
export interface SeriesPoint {
  step: number;
  value: number;
  series: string;
  /** facet panel, e.g. 'loss' or 'metric' */
  panel: string;
}

/**
 * Renders step curves (loss parts, learning rate, evaluation metrics) as an SVG file with vega-lite: one panel
 * per `panel`, one coloured line per `series`, independent y scales.
 * @throws Error when vega fails to render
 */
export async function plotCurves(points: SeriesPoint[], file: string, title: string, xTitle = 'optimizer step'): Promise<void> {
  const spec = {
    title,
    data: { values: points },
    facet: { row: { field: 'panel', type: 'nominal', title: null } },
    resolve: { scale: { y: 'independent' } },
    spec: {
      width: 520,
      height: 180,
      mark: { type: 'line', point: points.length < 60 },
      encoding: {
        x: { field: 'step', type: 'quantitative', title: xTitle },
        y: { field: 'value', type: 'quantitative', title: null },
        color: { field: 'series', type: 'nominal' },
      },
    },
  };
  writeFileSync(file, await renderVegaLite(spec));
}

/**
 * Renders a vega-lite specification (https://vega.github.io/vega-lite/) to an SVG string, headless.
 * @throws Error when the specification is invalid
 */
export async function renderVegaLite(spec: object): Promise<string> {
  const vega = await importEsm('vega');
  const vl = await importEsm('vega-lite');
  const full = { $schema: 'https://vega.github.io/schema/vega-lite/v5.json', ...spec };
  const view = new vega.View(vega.parse(vl.compile(full).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}
