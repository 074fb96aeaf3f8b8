/**
 * What the scene captioning benchmark can measure, without training anything: BLEU-4 and CIDEr-D (core
 * eval/caption-metrics, the code `mmzoo train` reports) of the best constant caption and of oracle and degraded
 * oracle captioners on the test scenes, for each scene caption style (data/scenes `SceneCaptionStyle`). The
 * references, the test scenes and the constant-caption pool are built by node/caption-eval exactly as a run's
 * evaluation builds them. The numbers are quoted in node/caption-eval `evaluateCaptioning`.
 *
 *   npx tsx bench/caption-oracles.ts [--train 6000] [--images 300] [--seed 0]
 *
 * Candidates (each is the caption given to every test scene):
 * - oracle: a true caption of the scene not among its references (varied: a fresh draw of the generator; layout:
 *   a fresh synonym draw), and for layout also the short-name caption (a reference itself: BLEU-4 = 1);
 * - swap2: the oracle's wording of the layout with two items' cells exchanged (the twins / ITM negatives);
 * - allWrongCells: the same items, each in a cell it does not occupy;
 * - oneWrongItem: one item replaced by a class absent from the scene, in the same cell;
 * - otherScene: the oracle caption of the next test scene.
 */
import { DataSchema } from '../packages/train/src/config/experiment';
import { FMNIST_SHORT_NAMES, FMNIST_SYNONYMS } from '../packages/train/src/data/fmnist-classes';
import { Rng } from '../packages/core/src/data/rng';
import {
  SCENE_CAPTION_STYLES, SceneCaptionStyle, SceneGrid, SceneItem, buildScenes, layoutCaption, sceneCaptions, swapPositions, twinSwap,
} from '../packages/train/src/data/scenes';
import { bestConstantCaptions, captionScores } from '../packages/train/src/eval/caption-metrics';
import { captionTestSet, constantCaptionPool } from '../packages/train/src/eval/caption-eval';
import { loadFashionMnist } from '../packages/train/src/data/fmnist';
import { RETRIEVAL_GALLERY_SEED, loadImageTextData } from '../packages/train/src/data/image-text';

function arg(name: string, fallback: number, min = 1): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v < min) throw new Error(`--${name}: expected an integer >= ${min}, got '${process.argv[i + 1]}'`);
  return v;
}

/** The layout with every item moved to a cell it does not occupy (same classes), drawn from `rng`. */
function allWrongCells(items: readonly SceneItem[], grid: SceneGrid, rng: Rng): SceneItem[] {
  const cells = grid.rows * grid.cols;
  for (;;) {
    const perm = rng.permutation(cells);
    const out = items.map((it, k) => ({ ...it, row: Math.floor(perm[k] / grid.cols), col: perm[k] % grid.cols }));
    if (out.every((o, k) => o.row !== items[k].row || o.col !== items[k].col)) return out;
  }
}

/** The layout with one item (drawn from `rng`) replaced by a class absent from the scene, in the same cell. */
function oneWrongItem(items: readonly SceneItem[], rng: Rng): SceneItem[] {
  const present = new Set(items.map((it) => it.label));
  const absent = FMNIST_SHORT_NAMES.map((_, label) => label).filter((label) => !present.has(label));
  const k = rng.int(items.length);
  return items.map((it, j) => (j === k ? { ...it, label: rng.choice(absent) } : { ...it }));
}

async function main(): Promise<void> {
  const train = arg('train', 6000);
  const images = arg('images', 300);
  const seed = arg('seed', 0, 0);
  const imageShape: [number, number, number] = [1, 56, 56];
  for (const style of SCENE_CAPTION_STYLES) {
    const config = DataSchema.parse({ dataset: 'fmnist', items: false, scenes: { train, grid: 2, captionStyle: style } });
    const data = await loadImageTextData(config, imageShape, seed);
    const test = captionTestSet(data, imageShape, images, true)!;
    const scenes = buildScenes(loadFashionMnist(data.root, 'test'), images, RETRIEVAL_GALLERY_SEED, { captionStyle: style }).scenes;
    const grid: SceneGrid = { rows: 2, cols: 2 };
    // a true caption not among the references: its own rng per scene, reused for the degraded layouts so that
    // only the degradation changes the wording
    const heldOut = (items: readonly SceneItem[], i: number): string => {
      const rng = new Rng(seed).fork('held-out').fork(i);
      if (style === 'varied') return sceneCaptions(items, grid, rng, 1)[0];
      const nouns = new Map([...items].sort((a, b) => a.label - b.label).map((it) => [it.label, rng.choice(FMNIST_SYNONYMS[it.label])]));
      return layoutCaption(items, grid, (label) => nouns.get(label)!);
    };
    const degrade = (i: number) => new Rng(seed).fork('degrade').fork(i);
    const candidates: [string, string[]][] = [
      ['oracle (held-out true caption)', scenes.map((s, i) => heldOut(s.items, i))],
      ...(style === 'layout' ? [['oracle (short names = reference 1)', scenes.map((s) => layoutCaption(s.items, grid))] as [string, string[]]] : []),
      ['swap2 (two items swap cells)', scenes.map((s, i) => {
        const [a, b] = twinSwap(s.items, degrade(i));
        return heldOut(swapPositions(s.items, a, b), i);
      })],
      ['allWrongCells (right items)', scenes.map((s, i) => heldOut(allWrongCells(s.items, grid, degrade(i)), i))],
      ['oneWrongItem (right cells)', scenes.map((s, i) => heldOut(oneWrongItem(s.items, degrade(i)), i))],
      ['otherScene', scenes.map((_, i) => heldOut(scenes[(i + 1) % scenes.length].items, i))],
    ];
    const constant = bestConstantCaptions(constantCaptionPool(data, seed), test.references);
    const b0 = constant.bleu4.score;
    const c0 = constant.cider.score;
    console.log(`\nstyle ${style}: ${images} test scenes, ${test.references[0].length} references each (scene 0: ${JSON.stringify(test.references[0])}), pool of ${data.train.size} training captions`);
    console.log(`  ${'candidate'.padEnd(36)} ${'BLEU-4'.padStart(7)} ${'x const'.padStart(8)} ${'CIDEr-D'.padStart(8)} ${'x const'.padStart(8)}`);
    const row = (name: string, b: number, c: number) =>
      console.log(`  ${name.padEnd(36)} ${b.toFixed(3).padStart(7)} ${(b / b0).toFixed(2).padStart(8)} ${c.toFixed(3).padStart(8)} ${(c / c0).toFixed(2).padStart(8)}`);
    row('best constant', b0, c0);
    for (const [name, captions] of candidates) {
      const s = captionScores(captions, test.references);
      row(name, s.bleu4, s.cider);
    }
    console.log(`  constant captions: BLEU-4 "${constant.bleu4.caption}", CIDEr "${constant.cider.caption}"`);
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
