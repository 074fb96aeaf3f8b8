import { Rng } from '../../../packages/core/src/data/rng';
import {
  buildScenes,
  describeScene,
  layoutCaption,
  layoutCaptions,
  sceneCaptions,
  swapPositions,
} from '../../../packages/train/src/data/scenes';
import { FMNIST_SYNONYMS } from '../../../packages/train/src/data/fmnist-classes';
import { DataSchema } from '../../../packages/train/src/config/experiment';
import { bestConstantCaptions, captionScores } from '../../../packages/train/src/eval/caption-metrics';
import { GRID, sceneItem, syntheticSceneSource } from '../../helpers/scenes';

const SNEAKER = 7;
const BAG = 8;
const DRESS = 3;
const ANKLE_BOOT = 9;

describe('layout captions', () => {
  it('name every occupied cell in reading order with the short class names', () => {
    const items = [sceneItem(DRESS, 1, 0), sceneItem(BAG, 0, 1), sceneItem(SNEAKER, 0, 0)];
    expect(layoutCaption(items, GRID)).toBe('top left: a sneaker, top right: a bag, bottom left: a dress.');
    expect(layoutCaption([sceneItem(ANKLE_BOOT, 1, 1)], GRID)).toBe('bottom right: an ankle boot.');
    expect(layoutCaption([sceneItem(0, 1, 1), sceneItem(1, 0, 2)], { rows: 3, cols: 3 })).toBe('top right: a trouser, center: a t-shirt.');
    expect(layoutCaption(items, GRID, (label) => FMNIST_SYNONYMS[label][1])).toBe('top left: a trainer, top right: a handbag, bottom left: a gown.');
  });

  it('reject invalid items', () => {
    expect(() => layoutCaption([sceneItem(BAG, 0, 0), sceneItem(DRESS, 0, 0)], GRID)).toThrow(/two scene items in cell 0,0/);
  });

  it('come as distinct captions, the first with short names, the others differing only in nouns, deterministic per rng', () => {
    const items = [sceneItem(SNEAKER, 0, 0), sceneItem(BAG, 0, 1), sceneItem(DRESS, 1, 0)];
    const a = layoutCaptions(items, GRID, new Rng(4), 4);
    expect(a).toEqual(layoutCaptions(items, GRID, new Rng(4), 4));
    expect(a).toHaveLength(4);
    expect(new Set(a).size).toBe(4);
    expect(a[0]).toBe(layoutCaption(items, GRID));
    for (const c of a) expect(c).toMatch(/^top left: an? [a-z -]+, top right: an? [a-z -]+, bottom left: an? [a-z -]+\.$/);
    expect(layoutCaptions(items, GRID, new Rng(5), 4)).not.toEqual(a);
    expect(layoutCaptions(items, GRID, new Rng(4), 0)).toEqual([]);
  });

  it('give a swapped layout the same nouns from the same rng', () => {
    const items = [sceneItem(SNEAKER, 0, 0), sceneItem(BAG, 0, 1), sceneItem(DRESS, 1, 1)];
    const swapped = swapPositions(items, 0, 2);
    const a = layoutCaptions(items, GRID, new Rng(8), 4);
    const b = layoutCaptions(swapped, GRID, new Rng(8), 4);
    const nouns = (c: string) => c.replace(/(top|bottom) (left|right): /g, '').replace(/\.$/, '').split(', ').sort();
    expect(b.map(nouns)).toEqual(a.map(nouns));
    expect(b[0]).toBe('top left: a dress, top right: a bag, bottom right: a sneaker.');
  });
});

describe('scene caption styles', () => {
  const items = [sceneItem(SNEAKER, 0, 0), sceneItem(BAG, 0, 1), sceneItem(DRESS, 1, 0)];

  it("default to the varied captions and draw 'layout' ones from the same fork", () => {
    expect(describeScene(items, GRID, new Rng(2)).captions).toEqual(sceneCaptions(items, GRID, new Rng(2).fork('captions'), 4));
    const layout = describeScene(items, GRID, new Rng(2), 3, 'layout');
    expect(layout.captions).toEqual(layoutCaptions(items, GRID, new Rng(2).fork('captions'), 3));
    expect(layout.qa).toEqual(describeScene(items, GRID, new Rng(2)).qa);
    expect(() => describeScene(items, GRID, new Rng(2), 4, 'fancy' as never)).toThrow(/caption style must be one of varied, layout, got 'fancy'/);
  });

  it('change only the captions of a scene build, deterministically per seed', () => {
    const source = syntheticSceneSource();
    const varied = buildScenes(source, 20, 3);
    const layout = buildScenes(source, 20, 3, { captionStyle: 'layout' });
    expect(buildScenes(source, 20, 3, { captionStyle: 'layout' }).scenes).toEqual(layout.scenes);
    expect(layout.images.images).toEqual(varied.images.images);
    layout.scenes.forEach((s, i) => {
      expect(s.items).toEqual(varied.scenes[i].items);
      expect(s.canonical).toBe(varied.scenes[i].canonical);
      expect(s.captions[0]).toBe(layoutCaption(s.items, GRID));
      expect(s.captions).toHaveLength(4);
    });
    expect(buildScenes(source, 20, 4, { captionStyle: 'layout' }).scenes.map((s) => s.captions)).not.toEqual(layout.scenes.map((s) => s.captions));
  });

  it('are a data.scenes option, varied by default', () => {
    expect(DataSchema.parse({}).scenes.captionStyle).toBe('varied');
    expect(DataSchema.parse({ scenes: { train: 10 } }).scenes.captionStyle).toBe('varied');
    expect(DataSchema.parse({ scenes: { train: 10, captionStyle: 'layout' } }).scenes.captionStyle).toBe('layout');
    expect(() => DataSchema.parse({ scenes: { captionStyle: 'plain' } })).toThrow();
  });
});

describe('what BLEU-4 and CIDEr-D measure on scene captions', () => {
  // 150 test scenes against the best constant caption of 600 training scenes (one caption drawn per scene),
  // as node/caption-eval scores a model; the images play no part.
  const source = syntheticSceneSource();
  const built = new Map<string, { test: ReturnType<typeof buildScenes>['scenes']; references: string[][]; constant: ReturnType<typeof bestConstantCaptions> }>();
  const setup = (captionStyle: 'varied' | 'layout') => {
    if (!built.has(captionStyle)) {
      const test = buildScenes(source, 150, 11, { captionStyle }).scenes;
      const train = buildScenes(source, 600, 12, { captionStyle }).scenes;
      const pool = train.map((s, i) => new Rng(13).fork(i).choice(s.captions));
      const references = test.map((s) => s.captions);
      built.set(captionStyle, { test, references, constant: bestConstantCaptions(pool, references) });
    }
    return built.get(captionStyle)!;
  };

  it('layout: the short-name caption is a reference (BLEU-4 1), and true captions score well above 1.5x the constant', () => {
    const { test, references, constant } = setup('layout');
    const oracle = captionScores(test.map((s) => s.captions[0]), references);
    expect(oracle.bleu4).toBeCloseTo(1, 12);
    // against itself alone every order's cosine is 1: CIDEr-D = 10
    expect(captionScores(test.map((s) => s.captions[0]), test.map((s) => [s.captions[0]])).cider).toBeCloseTo(10, 9);
    expect(oracle.bleu4 / constant.bleu4.score).toBeGreaterThan(2);
    expect(oracle.cider / constant.cider.score).toBeGreaterThan(3);
    // a held-out true caption (other synonyms) still clears 1.5x on both
    const heldOut = test.map((s, i) => layoutCaptions(s.items, GRID, new Rng(14).fork(i), 5)[4]);
    const h = captionScores(heldOut, references);
    expect(h.bleu4 / constant.bleu4.score).toBeGreaterThan(1.5);
    expect(h.cider / constant.cider.score).toBeGreaterThan(1.5);
  });

  it('layout: the right items in the wrong cells stay below 1.5x the constant on BLEU-4, and below the true caption', () => {
    const { test, references, constant } = setup('layout');
    // every item moves one cell on: (r, c) -> the next cell in reading order, wrapping around
    const shifted = test.map((s) => layoutCaption(s.items.map((it) => {
      const cell = (it.row * 2 + it.col + 1) % 4;
      return { ...it, row: Math.floor(cell / 2), col: cell % 2 };
    }), GRID));
    const wrong = captionScores(shifted, references);
    const oracle = captionScores(test.map((s) => s.captions[0]), references);
    expect(wrong.bleu4 / constant.bleu4.score).toBeLessThan(1.5);
    expect(wrong.bleu4).toBeLessThan(oracle.bleu4);
    expect(wrong.cider).toBeLessThan(oracle.cider);
  });

  it('varied: a held-out true caption is not 1.5x the constant on BLEU-4 (why layout exists)', () => {
    const { test, references, constant } = setup('varied');
    const heldOut = test.map((s, i) => sceneCaptions(s.items, GRID, new Rng(15).fork(i), 1)[0]);
    expect(captionScores(heldOut, references).bleu4 / constant.bleu4.score).toBeLessThan(1.5);
  });
});
