import { DataSchema } from '../../../packages/train/src/config/experiment';
import { buildScenes, layoutCaption, swapPositions } from '../../../packages/train/src/data/scenes';
import { loadImageTextData, RETRIEVAL_GALLERY_SEED } from '../../../packages/train/src/data/image-text';
import { captionTestSet, constantCaptionPool } from '../../../packages/train/src/eval/caption-eval';
import { swappedSceneCaptions } from '../../../packages/train/src/eval/itm-eval';
import { EMBEDDED_FASHION_MNIST_ROOT, loadFashionMnist } from '../../../packages/train/src/data/fmnist';

// data.scenes.captionStyle through the loader: training captions, gallery, caption references and ITM negatives
// all use the configured wording.

const LAYOUT = /^((top|bottom) (left|right): an? [a-z -]+(, |\.$))+$/;

describe('data.scenes.captionStyle: layout', () => {
  it('words the training captions, the gallery, the caption references and the constant pool alike', async () => {
    const cfg = DataSchema.parse({ items: false, trainLimit: 200, scenes: { train: 12, captionStyle: 'layout' } });
    const data = await loadImageTextData(cfg, [1, 28, 28], 3);
    expect(data.sceneCaptionStyle).toBe('layout');
    const pool = constantCaptionPool(data, 3);
    expect(pool).toHaveLength(12);
    for (const c of pool) expect(c).toMatch(LAYOUT);

    const gallery = data.gallery!(6);
    const test = captionTestSet(data, [1, 28, 28], 6, true)!;
    const scenes = buildScenes(loadFashionMnist(data.root, 'test'), 6, RETRIEVAL_GALLERY_SEED).scenes;
    expect(test.images.count).toBe(6);
    test.references.forEach((refs, i) => {
      // the same layouts as the default gallery, worded as layouts: reference 1 has the short class names
      expect(refs).toHaveLength(4);
      expect(refs[0]).toBe(layoutCaption(scenes[i].items, { rows: 2, cols: 2 }));
      expect(gallery.captions[i]).toBe(refs[0]);
      expect(gallery.keys[i]).toBe(scenes[i].canonical);
      for (const r of refs) expect(r).toMatch(LAYOUT);
    });
  });

  it('gives ITM the swapped layout in the same wording as hard negative', () => {
    const testImages = loadFashionMnist(EMBEDDED_FASHION_MNIST_ROOT, 'test');
    const scenes = buildScenes(testImages, 10, RETRIEVAL_GALLERY_SEED).scenes;
    const negatives = swappedSceneCaptions(testImages, 10, 'layout');
    negatives.forEach((neg, i) => {
      const items = scenes[i].items;
      // the caption of the same items with one pair of them swapped, never the gallery caption itself
      const candidates: string[] = [];
      for (let a = 0; a < items.length; a++) for (let b = a + 1; b < items.length; b++) candidates.push(layoutCaption(swapPositions(items, a, b), { rows: 2, cols: 2 }));
      expect(candidates).toContain(neg);
      expect(neg).not.toBe(layoutCaption(items, { rows: 2, cols: 2 }));
    });
  });

  it('leaves the default (varied) wording unchanged', async () => {
    const data = await loadImageTextData(DataSchema.parse({ items: false, trainLimit: 200, scenes: { train: 4 } }), [1, 28, 28], 3);
    expect(data.sceneCaptionStyle).toBe('varied');
    const scenes = buildScenes(loadFashionMnist(data.root, 'test'), 5, RETRIEVAL_GALLERY_SEED).scenes;
    expect(captionTestSet(data, [1, 28, 28], 5, true)!.references).toEqual(scenes.map((s) => s.captions));
    expect(swappedSceneCaptions(loadFashionMnist(data.root, 'test'), 5, 'varied')).toEqual(swappedSceneCaptions(loadFashionMnist(data.root, 'test'), 5));
  });
});
