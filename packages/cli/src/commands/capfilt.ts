import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'fs';
import * as path from 'path';
import { ConfigError, manualSeed, batchTensors, tf } from '@mmzoo/core';
import {
  Experiment, ImageSet, buildScenes, imageSetPairs, initBackend, noisySceneCaptions, parseYaml, resizeImageSet,
  selectImages, validate, EMBEDDED_FASHION_MNIST_ROOT, checkRunFolderPath, ensureRunFolder, markRunFolder,
  refuseForeign, runFolderState, loadCheckpoint, latestCheckpoint, loadFashionMnist, makeImageTextBatch,
  readCheckpointMeta, scenePairs, writePng, loadRunTokenizers, buildParts,
} from '@mmzoo/train';
import { BlipConfig, blipSpec } from '@mmzoo/blip';
import { CapFiltConfig, CapFiltConfigSchema, CapFiltReport, runCapFilt } from '@mmzoo/blip/capfilt';
import { applyOverrides, experimentName, overrideOrigin } from '../experiment';
import { createLogger } from '../logger';

/** Options of `mmzoo capfilt`. */
export interface CapFiltOptions {
  /** output folder (default runs/<config folder>-<config name>) */
  out?: string;
  overwrite?: boolean;
  backend?: string;
  /** overrides of the CapFilt config, e.g. `filter.threshold=0.6` */
  set?: string[];
}

/** Reads and validates a CapFilt YAML (with `--set` overrides). @throws ConfigError naming file, line and key */
export function loadCapFiltConfig(file: string, sets: string[] = []): CapFiltConfig {
  if (!existsSync(file)) throw new ConfigError(`${file}: config file not found`);
  const source = parseYaml(readFileSync(file, 'utf8'), file);
  applyOverrides(source.value as Record<string, unknown>, sets);
  source.origin = overrideOrigin(sets); // an error in an overridden value names the --set flag
  return validate(CapFiltConfigSchema, source.value, source);
}

/**
 * `mmzoo capfilt CONFIG`: CapFilt (BLIP, Li et al. 2022, section 3.3) on a noisy copy of a pre-trained BLIP run's
 * training scenes. Rebuilds the scenes the run trained on (its data config and seed), corrupts `noisy.fraction` of
 * their captions (core `noisySceneCaptions`), loads the run's latest checkpoint twice (captioner and filter),
 * fine-tunes and applies them (@mmzoo/blip `runCapFilt`) and writes into the output folder:
 * - `images/scene-NNNNNN.png`: the scene images (the canvas as rendered, grey-scale);
 * - `noisy.jsonl`: the noisy set, `{image, image_id, caption, corrupted, clean_from}` per scene;
 * - `cleaned.jsonl`: the kept texts, `{image, image_id, caption, source: web|synthetic, p_match}` (readable as
 *   `data.dataset: jsonl`); `removed.jsonl`: the removed ones (web ones with their `corrupted` flag);
 * - `report.json`, `report.md`: kept/removed counts per source and the filter's precision and recall at removing the
 *   corrupted captions.
 * @returns 0
 * @throws ConfigError for a bad config; Error when the run has no checkpoint, is not a BLIP run, or was not trained on
 *   Fashion-MNIST scenes, or when the output folder already holds a report and `overwrite` is not set
 */
export async function capfiltCommand(configFile: string, opts: CapFiltOptions): Promise<number> {
  const cfg = loadCapFiltConfig(configFile, opts.set ?? []);
  const runDir = path.resolve(path.dirname(path.resolve(configFile)), cfg.checkpoint);
  const ckpt = latestCheckpoint(runDir);
  if (!ckpt) throw new Error(`${configFile}: checkpoint: ${runDir} holds no checkpoint (expected ${path.join(runDir, 'checkpoints', 'latest')})`);
  const meta = readCheckpointMeta(ckpt);
  const run = meta.config as Experiment<any>;
  if (run?.model?.name !== blipSpec.name) throw new Error(`${configFile}: checkpoint: ${runDir} is a '${run?.model?.name}' run; CapFilt needs a BLIP run`);
  if (run.data.dataset !== 'fmnist' || !(run.data.scenes.train > 0)) {
    throw new Error(`${configFile}: checkpoint: CapFilt builds its noisy set from the run's Fashion-MNIST scenes; ${runDir} has data.dataset ${run.data.dataset}, data.scenes.train ${run.data.scenes?.train}`);
  }
  const outDir = checkRunFolderPath(opts.out ?? path.join('runs', experimentName(configFile)));
  // an output folder of mmzoo's own: new, empty, marked, or a CapFilt output from before markers (it has report.json)
  const state = runFolderState(outDir);
  if (state === 'foreign' && !existsSync(path.join(outDir, 'report.json'))) refuseForeign(outDir);
  if (existsSync(path.join(outDir, 'report.json')) && !opts.overwrite) throw new Error(`${outDir} already holds a CapFilt report; pass --overwrite or --out DIR`);
  if (state === 'foreign') markRunFolder(outDir, 'mmzoo capfilt', true);
  else ensureRunFolder(outDir, 'mmzoo capfilt');
  const logger = createLogger();
  const t0 = Date.now();
  await initBackend(opts.backend ?? run.runtime?.backend, (line) => logger.info(line));

  const modelCfg: BlipConfig = blipSpec.schema.parse(run.model);
  const tokenizer = loadRunTokenizers(runDir, blipSpec, run, { dir: ckpt, meta }).text!;
  const build = async () => {
    manualSeed(run.train.seed);
    const m = blipSpec.build(modelCfg, buildParts({ text: tokenizer }));
    await loadCheckpoint(ckpt, m.namedParameters());
    return m;
  };
  const captioner = await build();
  const filter = await build();
  try {
    // the noisy set: the run's own training scenes (same images, layouts and seed), one caption each, a share corrupted
    const root = run.data.root ?? EMBEDDED_FASHION_MNIST_ROOT;
    let trainSet: ImageSet = loadFashionMnist(root, 'train');
    if (run.data.trainLimit && run.data.trainLimit < trainSet.count) trainSet = selectImages(trainSet, Array.from({ length: run.data.trainLimit }, (_, i) => i));
    // the options the run's training scenes were built with (image-text.ts): grid, swapped twins, caption wording
    const grid = { rows: run.data.scenes.grid, cols: run.data.scenes.grid, twins: run.data.scenes.twins, captionStyle: run.data.scenes.captionStyle };
    const sceneSeed = run.data.seed ?? run.train.seed;
    const count = cfg.noisy.scenes ?? run.data.scenes.train;
    const scenes = buildScenes(trainSet, count, sceneSeed, grid);
    const noisy = noisySceneCaptions(scenes.scenes, { fraction: cfg.noisy.fraction, seed: cfg.noisy.seed });
    const h = modelCfg.vision.imageSize;
    const w = h;
    const images = resizeImageSet(scenes.images, h, w);
    logger.info(`${runDir}: ${count} training scenes, ${noisy.filter((n) => n.corrupted).length} captions corrupted (fraction ${cfg.noisy.fraction}, seed ${cfg.noisy.seed})`);

    const id = (i: number) => `scene-${String(i).padStart(6, '0')}`;
    const file = (i: number) => `images/${id(i)}.png`;
    for (let i = 0; i < scenes.images.count; i++) await writePng(path.join(outDir, file(i)), scenes.images, i);
    writeFileSync(path.join(outDir, 'noisy.jsonl'), noisy.map((n, i) => JSON.stringify({
      image: file(i), image_id: id(i), caption: n.caption, corrupted: n.corrupted, clean_from: n.from >= 0 ? id(n.from) : null,
    })).join('\n') + '\n');

    const ft = cfg.finetune;
    const source = ft.data === 'noisy'
      ? imageSetPairs(images, (i) => noisy[i].caption)
      : scenePairs(buildScenes(trainSet, ft.cleanScenes, ft.cleanSeed, grid), h, w);
    const contextLength = modelCfg.text.contextLength;
    const { texts, report } = runCapFilt({
      captioner, filter, modelConfig: modelCfg, tokenizer, images, noisy, cfg,
      finetuneBatch: (objective, index) => makeImageTextBatch(source, tokenizer, index, ft.batchSize, contextLength, ft.seed + (objective === 'filter' ? 1 : 0)),
      disposeBatch: (b) => tf.dispose(batchTensors(b)),
      log: (msg) => logger.info(msg),
    });

    writeFileSync(path.join(outDir, 'cleaned.jsonl'), texts.filter((t) => t.kept).map((t) => JSON.stringify({
      image: file(t.image), image_id: id(t.image), caption: t.caption, source: t.source, p_match: Number(t.pMatch.toFixed(6)),
    })).join('\n') + '\n');
    writeFileSync(path.join(outDir, 'removed.jsonl'), texts.filter((t) => !t.kept).map((t) => JSON.stringify({
      image: file(t.image), image_id: id(t.image), caption: t.caption, source: t.source, p_match: Number(t.pMatch.toFixed(6)),
      ...(t.source === 'web' ? { corrupted: t.corrupted } : {}),
    })).join('\n') + '\n');
    const full = {
      config: path.resolve(configFile), checkpoint: ckpt, settings: cfg, ...report, wallSeconds: (Date.now() - t0) / 1000,
      examples: texts.filter((t) => t.source === 'synthetic').slice(0, 5).map((t) => ({ image: id(t.image), caption: t.caption, pMatch: t.pMatch, kept: t.kept })),
    };
    writeFileSync(path.join(outDir, 'report.json'), JSON.stringify(full, null, 1) + '\n');
    writeFileSync(path.join(outDir, 'report.md'), renderCapFiltReport(report, ckpt, cfg));
    const f = report.filter;
    logger.info(`kept ${report.original.kept}/${report.original.total} web and ${report.synthetic.kept}/${report.synthetic.total} synthetic captions; filter precision ${fmt(f.precision)} recall ${fmt(f.recall)}; written to ${outDir}`);
  } finally {
    captioner.dispose();
    filter.dispose();
  }
  return 0;
}

function fmt(v: number | null, digits = 3): string {
  return v === null ? 'n/a' : v.toFixed(digits);
}

/** report.md: the counts and the filter's precision/recall as Markdown tables. */
export function renderCapFiltReport(r: CapFiltReport, checkpoint: string, cfg: CapFiltConfig): string {
  const f = r.filter;
  return [
    '# CapFilt report',
    '',
    `BLIP checkpoint \`${checkpoint}\`; ${r.images} images; ${r.noise.corrupted} of the original captions corrupted (fraction ${r.noise.fraction}).`,
    `Captioner: ${cfg.captioner.steps} LM fine-tuning steps, nucleus sampling p = ${cfg.captioner.nucleus.topP}. ` +
      `Filter: ${cfg.filter.steps} ITC + ITM fine-tuning steps (on the ${cfg.finetune.data} set), a text is kept when its ITM match probability > ${f.threshold}.`,
    '',
    '| texts | total | kept | removed |',
    '|---|---|---|---|',
    `| original (web) | ${r.original.total} | ${r.original.kept} | ${r.original.removed} |`,
    `| synthetic | ${r.synthetic.total} | ${r.synthetic.kept} | ${r.synthetic.removed} |`,
    `| cleaned dataset | | ${r.cleaned} | |`,
    '',
    'The filter at removing the corrupted original captions:',
    '',
    '| precision (corrupted among removed) | recall (removed among corrupted) | removed | corrupted | both |',
    '|---|---|---|---|---|',
    `| ${fmt(f.precision)} | ${fmt(f.recall)} | ${f.removed} | ${f.noisy} | ${f.truePositives} |`,
    '',
    `Mean ITM match probability: clean captions ${fmt(f.meanPMatchClean)}, corrupted captions ${fmt(f.meanPMatchCorrupted)}.`,
    '',
    'Had the threshold been another (the verdicts above use the configured one):',
    '',
    `| threshold | ${f.sweep.map((x) => x.threshold.toFixed(1)).join(' | ')} |`,
    `|---|${f.sweep.map(() => '---').join('|')}|`,
    `| removed | ${f.sweep.map((x) => x.removed).join(' | ')} |`,
    `| precision | ${f.sweep.map((x) => fmt(x.precision)).join(' | ')} |`,
    `| recall | ${f.sweep.map((x) => fmt(x.recall)).join(' | ')} |`,
    '',
  ].join('\n');
}
