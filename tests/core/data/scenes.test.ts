import { Rng } from '../../../packages/core/src/data/rng';
import {
  buildScenes,
  canonicalDescription,
  describeScene,
  positionName,
  renderScene,
  swapPositions,
} from '../../../packages/train/src/data/scenes';
import { FMNIST_SYNONYMS } from '../../../packages/train/src/data/fmnist-classes';
import { imageBytes } from '../../../packages/train/src/data/types';
import { GRID, sceneItem, syntheticSceneSource } from '../../helpers/scenes';

const SNEAKER = 7;
const BAG = 8;
const DRESS = 3;

describe('canonical descriptions', () => {
  const scene = [sceneItem(SNEAKER, 0, 0), sceneItem(BAG, 0, 1), sceneItem(DRESS, 1, 0)];

  it('list items in reading order and their row/column relations', () => {
    expect(canonicalDescription(scene)).toBe('sneaker@0,0 bag@0,1 dress@1,0 | sneaker left-of bag, sneaker above dress');
    expect(canonicalDescription([sceneItem(9, 1, 1), sceneItem(0, 0, 0)])).toBe('t-shirt@0,0 ankle-boot@1,1 | none');
  });

  it('do not depend on item order or wording, while captions do vary', () => {
    const reordered = [scene[2], scene[0], scene[1]];
    const a = describeScene(scene, GRID, new Rng(1));
    const b = describeScene(reordered, GRID, new Rng(2));
    expect(b.canonical).toBe(a.canonical);
    expect(a.captions).toHaveLength(4);
    expect(new Set(a.captions).size).toBe(4);
    expect(b.captions).not.toEqual(a.captions);
    // every caption names every item with one of its class's synonyms
    for (const caption of [...a.captions, ...b.captions]) {
      for (const it of scene) expect(FMNIST_SYNONYMS[it.label].some((s) => caption.includes(s))).toBe(true);
    }
  });

  it('differ for swapped positions: hard negatives whose captions differ only in relation words', () => {
    const pair = [sceneItem(SNEAKER, 0, 0), sceneItem(BAG, 0, 1)];
    const swapped = swapPositions(pair, 0, 1);
    expect(swapped).toEqual([sceneItem(SNEAKER, 0, 1), sceneItem(BAG, 0, 0)]);
    const a = describeScene(pair, GRID, new Rng(5), 6);
    const b = describeScene(swapped, GRID, new Rng(5), 6);
    expect(a.canonical).toBe('sneaker@0,0 bag@0,1 | sneaker left-of bag');
    expect(b.canonical).toBe('bag@0,0 sneaker@0,1 | bag left-of sneaker');
    const mirror = (s: string): string => s.replace(/left|right/g, (w) => (w === 'left' ? 'right' : 'left'));
    expect(b.captions).toEqual(a.captions.map(mirror));
    for (let i = 0; i < a.captions.length; i++) expect(b.captions[i]).not.toBe(a.captions[i]);
    // vertical swap of a 3-item scene also changes the canonical description
    const three = [sceneItem(SNEAKER, 0, 0), sceneItem(BAG, 0, 1), sceneItem(DRESS, 1, 0)];
    expect(canonicalDescription(swapPositions(three, 0, 2))).toBe('dress@0,0 bag@0,1 sneaker@1,0 | dress left-of bag, dress above sneaker');
  });
});

describe('scene questions', () => {
  it('have the right answers for a hand-built scene', () => {
    // sneaker | bag
    // dress   | (empty)
    const { qa } = describeScene([sceneItem(BAG, 0, 1), sceneItem(DRESS, 1, 0), sceneItem(SNEAKER, 0, 0)], GRID, new Rng(3));
    const answer = (pattern: RegExp): string[] => qa.filter((p) => pattern.test(p.question)).map((p) => p.answer);
    expect(answer(/^how many/)).toEqual(['3']);
    expect(answer(/^is there a bag\?$/)).toEqual(['yes']);
    expect(answer(/^is there a dress\?$/)).toEqual(['yes']);
    expect(answer(/^is there a sneaker\?$/)).toEqual(['yes']);
    expect(qa.filter((p) => p.question.startsWith('is there') && p.answer === 'no')).toHaveLength(3);
    for (const p of qa.filter((q) => q.question.startsWith('is there') && q.answer === 'no')) {
      expect(p.question).not.toMatch(/bag|dress|sneaker/);
    }
    expect(answer(/^what is (to the )?left of the bag\?$/)).toEqual(['sneaker']);
    expect(answer(/^what is (to the )?right of the sneaker\?$/)).toEqual(['bag']);
    expect(answer(/^what is (below|under) the sneaker\?$/)).toEqual(['dress']);
    expect(answer(/^what is (above|over) the dress\?$/)).toEqual(['sneaker']);
    expect(answer(/^what is (to the )?(left|right) of the dress\?$/)).toEqual([]);
    expect(answer(/^what is (below|under) the bag\?$/)).toEqual([]);
    expect(answer(/^where is the bag\?$/)).toEqual(['top right']);
    expect(answer(/^where is the dress\?$/)).toEqual(['bottom left']);
    expect(answer(/^what is in the top left\?$/)).toEqual(['sneaker']);
    expect(answer(/^what is in the bottom right\?$/)).toEqual(['nothing']);
    const left = qa.find((p) => /^is the sneaker to the (left|right) of the bag\?$/.test(p.question));
    expect(left?.answer).toBe(left?.question.includes('left') ? 'yes' : 'no');
    const above = qa.find((p) => /^is the sneaker (above|below) the dress\?$/.test(p.question));
    expect(above?.answer).toBe(above?.question.includes('above') ? 'yes' : 'no');
  });

  it('name cells for small and large grids', () => {
    expect(positionName(1, 1, { rows: 3, cols: 3 })).toBe('center');
    expect(positionName(1, 0, { rows: 3, cols: 3 })).toBe('middle left');
    expect(positionName(0, 1, { rows: 3, cols: 3 })).toBe('top center');
    expect(positionName(0, 2, { rows: 1, cols: 3 })).toBe('right');
    expect(positionName(1, 0, { rows: 2, cols: 1 })).toBe('bottom');
    expect(positionName(3, 0, { rows: 4, cols: 4 })).toBe('row 4, column 1');
  });
});

describe('buildScenes', () => {
  const source = syntheticSceneSource();

  it('is deterministic from the seed, scene by scene', () => {
    const a = buildScenes(source, 20, 5);
    const b = buildScenes(source, 20, 5);
    expect(b.scenes).toEqual(a.scenes);
    expect(Array.from(b.images.images)).toEqual(Array.from(a.images.images));
    const prefix = buildScenes(source, 5, 5);
    expect(prefix.scenes).toEqual(a.scenes.slice(0, 5));
    const other = buildScenes(source, 20, 6);
    expect(other.scenes.map((s) => s.canonical)).not.toEqual(a.scenes.map((s) => s.canonical));
  });

  it('renders each item pixel for pixel into its cell on a black canvas', () => {
    const set = buildScenes(source, 30, 8);
    expect(set.images).toMatchObject({ count: 30, channels: 1, height: 8, width: 8 });
    expect(set.images.images).toHaveLength(30 * 64);
    const counts = new Set<number>();
    set.scenes.forEach((scene, s) => {
      counts.add(scene.items.length);
      expect(scene.items.length).toBeGreaterThanOrEqual(2);
      expect(scene.items.length).toBeLessThanOrEqual(4);
      expect(new Set(scene.items.map((it) => it.label)).size).toBe(scene.items.length);
      const canvas = imageBytes(set.images, s);
      for (let row = 0; row < 2; row++) {
        for (let col = 0; col < 2; col++) {
          const it = scene.items.find((x) => x.row === row && x.col === col);
          if (it) expect(source.labels?.[it.sourceIndex]).toBe(it.label);
          const src = it ? imageBytes(source, it.sourceIndex) : new Uint8Array(16);
          for (let y = 0; y < 4; y++) {
            for (let x = 0; x < 4; x++) expect(canvas[(row * 4 + y) * 8 + col * 4 + x]).toBe(src[y * 4 + x]);
          }
        }
      }
      expect(scene.canonical).toBe(canonicalDescription(scene.items));
    });
    expect(counts).toEqual(new Set([2, 3, 4]));
  });

  it('takes the grid size and item counts as options', () => {
    const set = buildScenes(source, 10, 1, { rows: 3, cols: 3, minItems: 5, maxItems: 5, captionsPerScene: 2 });
    expect(set.images).toMatchObject({ height: 12, width: 12 });
    expect(set.rows).toBe(3);
    for (const scene of set.scenes) {
      expect(scene.items).toHaveLength(5);
      expect(scene.captions).toHaveLength(2);
    }
    expect(() => buildScenes(source, 1, 1, { maxItems: 5 })).toThrow(
      'buildScenes: need 1 <= minItems <= maxItems <= min(cells, classes present) = 4, got 2..5',
    );
    expect(() => buildScenes({ ...source, labels: undefined }, 1, 1)).toThrow('buildScenes: the source ImageSet has no labels');
  });

  it('renders a single scene into a given buffer at an offset', () => {
    const out = new Uint8Array(64 + 10).fill(7);
    renderScene(source, [sceneItem(BAG, 1, 1, 8)], GRID, out, 10);
    expect(Array.from(out.subarray(0, 10))).toEqual(new Array(10).fill(7));
    expect(out[10]).toBe(0);
    expect(out[10 + 4 * 8 + 4]).toBe(source.images[8 * 16]);
    expect(out[10 + 7 * 8 + 7]).toBe(source.images[8 * 16 + 15]);
  });
});
