import { CAPTION_TEMPLATES, captionFor, captionsFor } from '../../../packages/train/src/data/captions';
import {
  FMNIST_CLASS_NAMES,
  FMNIST_PROMPT_TEMPLATES,
  FMNIST_SHORT_NAMES,
  FMNIST_SYNONYMS,
  classPrompts,
  fillTemplate,
} from '../../../packages/train/src/data/fmnist-classes';
import { Rng } from '../../../packages/core/src/data/rng';

describe('Fashion-MNIST classes', () => {
  it('lists the 10 official classes with unambiguous synonyms', () => {
    expect(FMNIST_CLASS_NAMES).toEqual([
      'T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot',
    ]);
    expect(FMNIST_SHORT_NAMES[9]).toBe('ankle boot');
    expect(FMNIST_SYNONYMS[0]).toEqual(expect.arrayContaining(['t-shirt', 'tee', 'top']));
    const all = FMNIST_SYNONYMS.flat();
    expect(new Set(all).size).toBe(all.length);
    for (const s of FMNIST_SYNONYMS) expect(s.length).toBeGreaterThanOrEqual(3);
  });

  it('fills templates with the right article', () => {
    expect(fillTemplate('a photo of a {}.', 'ankle boot')).toBe('a photo of an ankle boot.');
    expect(fillTemplate('A {} here.', 'overcoat')).toBe('An overcoat here.');
    expect(fillTemplate('a picture of the {}.', 'ankle boot')).toBe('a picture of the ankle boot.');
    expect(fillTemplate('an image of a {}.', 'bag')).toBe('an image of a bag.');
  });

  it('gives one prompt per template per name', () => {
    expect(FMNIST_PROMPT_TEMPLATES.length).toBeGreaterThanOrEqual(6);
    expect(FMNIST_PROMPT_TEMPLATES.length).toBeLessThanOrEqual(10);
    expect(classPrompts(7)[0]).toBe('a photo of a sneaker.');
    expect(classPrompts(7)).toHaveLength(FMNIST_PROMPT_TEMPLATES.length);
    expect(classPrompts(7, 'all')).toHaveLength(FMNIST_PROMPT_TEMPLATES.length * FMNIST_SYNONYMS[7].length);
    expect(() => classPrompts(10)).toThrow('Fashion-MNIST label 10 out of range 0-9');
  });
});

describe('captions', () => {
  it('are deterministic from the seed and differ between seeds', () => {
    const labels = Int32Array.from({ length: 50 }, (_, i) => i % 10);
    const a = captionsFor(labels, 1);
    expect(captionsFor(labels, 1)).toEqual(a);
    expect(captionsFor(labels, 2)).not.toEqual(a);
    // caption i depends only on (seed, i, label): a prefix keeps its captions
    expect(captionsFor(labels.subarray(0, 10), 1)).toEqual(a.slice(0, 10));
  });

  it('name the item with one of its synonyms and use several templates', () => {
    const rng = new Rng(11);
    const used = new Set<string>();
    for (let i = 0; i < 400; i++) {
      const label = i % 10;
      const caption = captionFor(label, rng);
      const nouns = FMNIST_SYNONYMS[label].filter((s) => caption.includes(s));
      expect(nouns.length).toBeGreaterThan(0);
      const noun = nouns.sort((x, y) => y.length - x.length)[0];
      const template = CAPTION_TEMPLATES.find((t) => fillTemplate(t, noun) === caption);
      expect(template).toBeDefined();
      used.add(template as string);
    }
    expect(used.size).toBe(CAPTION_TEMPLATES.length);
  });

  it('use exactly two draws', () => {
    const rng = new Rng(4);
    const state = rng.state;
    const caption = captionFor(3, rng);
    const replay = Rng.fromState(state);
    const template = replay.choice(CAPTION_TEMPLATES);
    const noun = replay.choice(FMNIST_SYNONYMS[3]);
    expect(caption).toBe(fillTemplate(template, noun));
    expect(rng.state).toEqual(replay.state);
    expect(() => captionFor(-1, rng)).toThrow(RangeError);
  });
});
