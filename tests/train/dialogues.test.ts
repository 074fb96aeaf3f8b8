import { Rng } from '@mmzoo/core';
import {
  DIALOGUE_GRID, Dialogue, FMNIST_SHORT_NAMES, canonicalDescription, drawDialogue, drawLayout, glossDefinition, heldOutQuestions, isHeldOutLayout,
  loadDefinitions, loadTextCorpus, trainingDialogues,
} from '@mmzoo/train';

// WordNet read once for the file (about 5 s)
const defs = loadDefinitions();
const MIX = { scene: 1, definition: 1, shortAnswer: 1, yesNo: 1 };
const train = trainingDialogues({ definitions: defs.train, heldOut: false }, 800, 7, MIX);
const held = heldOutQuestions(defs.heldOut, { yesNo: 80, sceneYesNo: 60, shortAnswers: 30 });

/** The layout caption and question of a scene dialogue (`Top left: a bag, ...\nIs there a bag?`). */
function sceneParts(d: Dialogue): { caption: string; question: string } {
  const [caption, question] = d.turns[0].user.split('\n');
  return { caption, question };
}

/** The canonical description of a layout caption (`Top left: a bag, bottom right: a coat.`), parsed back. */
function canonicalOf(caption: string): string {
  const items = itemsOf(caption);
  expect(items.every((it) => it.label >= 0)).toBe(true);
  return canonicalDescription(items);
}

describe('text dialogues (data/dialogues)', () => {
  test('each kind asks what it should, with answers known by construction', () => {
    const byKind = (k: string) => train.filter((d) => d.kind === k);
    for (const k of ['scene', 'definition', 'shortAnswer', 'yesNo']) expect(byKind(k).length).toBeGreaterThan(150);
    for (const d of byKind('scene')) {
      const { caption, question } = sceneParts(d);
      expect(caption).toMatch(/^(Top|Bottom) (left|right): an? /);
      expect(d.turns[0].assistant).not.toMatch(/^(Yes|No)$/);
      // where / what-is-in / how-many answers re-derived from the caption's cells
      const cells = new Map(caption.replace(/\.$/, '').split(', ').map((p) => p.toLowerCase().split(': ') as [string, string]));
      const answer = d.turns[0].assistant.toLowerCase();
      const where = /^Where is the (.+)\?$/.exec(question);
      if (where) expect(cells.get(answer)?.replace(/^an? /, '')).toBe(where[1]);
      const what = /^What is in the (.+)\?$/.exec(question);
      if (what) expect(answer).toBe(cells.get(what[1])?.replace(/^an? /, '') ?? 'nothing');
      if (/^How many/.test(question)) expect(answer).toBe(String(cells.size));
    }
    for (const d of byKind('definition')) expect(d.turns[0].user).toMatch(/^What does ".+" mean\?$/);
    for (const d of byKind('shortAnswer')) expect(d.turns[0].user).toMatch(/^Which word means: .+\?$/);
    const defYesNo = byKind('yesNo').filter((d) => d.source === 'wordnet');
    expect(defYesNo.length).toBeGreaterThan(20);
    // a definition yes/no: Yes exactly when the definition is the word's own
    const own = new Map(defs.train.map((x) => [x.word, new Set<string>()]));
    for (const x of defs.train) own.get(x.word)!.add(x.definition);
    for (const d of defYesNo) {
      const [, word, definition] = /^Does "(.+)" mean: (.+)\?$/s.exec(d.turns[0].user)!;
      expect(own.get(word)!.has(definition)).toBe(d.turns[0].assistant === 'Yes');
    }
    // an existence question is answered from the caption
    for (const d of byKind('yesNo').filter((x) => x.source === 'scene')) {
      const { caption, question } = sceneParts(d);
      const m = /^Is there an? (.+)\?$/.exec(question);
      if (m) expect(caption.toLowerCase().includes(`: a ${m[1]}`) || caption.toLowerCase().includes(`: an ${m[1]}`)).toBe(d.turns[0].assistant === 'Yes');
    }
  });

  test('yes/no answers are balanced: alternately Yes and No in training, and in the held-out set per source', () => {
    const yn = train.filter((d) => d.kind === 'yesNo').map((d) => d.turns[0].assistant);
    yn.forEach((a, k) => expect(a).toBe(k % 2 === 0 ? 'Yes' : 'No'));
    const count = (list: Dialogue[], a: string) => list.filter((d) => d.turns[0].assistant === a).length;
    expect([count(held.yesNo, 'Yes'), count(held.yesNo, 'No')]).toEqual([40, 40]);
    const scene = held.yesNo.filter((d) => d.source === 'scene');
    expect(scene.length).toBe(60);
    expect([count(scene, 'Yes'), count(scene, 'No')]).toEqual([30, 30]);
  });

  test('deterministic per seed; the held-out set is fixed and its first questions do not depend on its size', () => {
    expect(trainingDialogues({ definitions: defs.train, heldOut: false }, 50, 7, MIX)).toEqual(train.slice(0, 50));
    const other = trainingDialogues({ definitions: defs.train, heldOut: false }, 50, 8, MIX);
    expect(other).not.toEqual(train.slice(0, 50));
    const again = heldOutQuestions(defs.heldOut, { yesNo: 40, sceneYesNo: 60, shortAnswers: 10 });
    expect(again.yesNo).toEqual(held.yesNo.slice(0, 40));
    expect(again.shortAnswers).toEqual(held.shortAnswers.slice(0, 10));
  });

  test('held-out glosses are the text corpus\'s held-out WordNet documents, and no held-out gloss or layout is trained on', () => {
    const corpus = loadTextCorpus({ brown: false });
    const heldIds = new Set(corpus.heldOut.map((d) => d.id));
    expect(defs.heldOut.length).toBeGreaterThan(10000);
    expect(defs.heldOut.every((d) => heldIds.has(d.id))).toBe(true);
    expect(defs.train.some((d) => heldIds.has(d.id))).toBe(false);
    const trainDefinitions = new Set(defs.train.map((d) => d.id));
    expect(defs.heldOut.some((d) => trainDefinitions.has(d.id))).toBe(false);
    // layouts: training scenes never held out, held-out scenes always
    const layouts = (list: Dialogue[]) => list.filter((d) => d.source === 'scene').map((d) => canonicalOf(sceneParts(d).caption));
    const trained = layouts(train);
    const heldLayouts = layouts([...held.yesNo, ...held.shortAnswers]);
    expect(trained.length).toBeGreaterThan(300);
    expect(trained.some(isHeldOutLayout)).toBe(false);
    expect(heldLayouts.every(isHeldOutLayout)).toBe(true);
    // about a tenth of the layouts are held out
    const root = new Rng(1);
    const classes = FMNIST_SHORT_NAMES.map((_, i) => i);
    const share = Array.from({ length: 2000 }, (_, i) => isHeldOutLayout(canonicalDescription(drawLayout(root.fork(i), DIALOGUE_GRID, classes, 2, 4)))).filter(Boolean).length / 2000;
    expect(share).toBeGreaterThan(0.07);
    expect(share).toBeLessThan(0.13);
  });

  test('glossDefinition keeps the definition before the examples', () => {
    expect(glossDefinition('a member of the genus Canis; "the dog barked all night"')).toBe('a member of the genus Canis');
    expect(glossDefinition('(of weather) stormy')).toBe('(of weather) stormy');
  });

  test('bad mixes are one-line errors', () => {
    const src = { definitions: defs.train, heldOut: false };
    expect(() => trainingDialogues(src, 4, 0, { scene: 0, definition: 0, shortAnswer: 0, yesNo: 0 })).toThrow(/weights must be >= 0 with a positive sum/);
    expect(() => trainingDialogues({ definitions: [], heldOut: false }, 4, 0, MIX)).toThrow('dialogue mix: the WordNet kinds need at least two definitions');
    expect(drawDialogue('scene', { definitions: [], heldOut: true }, new Rng(3)).source).toBe('scene');
  });
});

/** The items of a layout caption (cells of the 2x2 grid, short class names), parsed back. */
function itemsOf(caption: string) {
  const cells: Record<string, [number, number]> = { 'top left': [0, 0], 'top right': [0, 1], 'bottom left': [1, 0], 'bottom right': [1, 1] };
  return caption.replace(/\.$/, '').split(', ').map((part) => {
    const [cell, noun] = part.toLowerCase().split(': ');
    const [row, col] = cells[cell];
    return { label: FMNIST_SHORT_NAMES.indexOf(noun.replace(/^an? /, '')), row, col, sourceIndex: -1 };
  });
}
