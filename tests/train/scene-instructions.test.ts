import * as path from 'path';
import { HFTokenizer, IMAGE_TOKEN_INDEX, Rng, WordTokenizer, batchTensors, tf } from '@mmzoo/core';
import {
  DataSchema, FASHION_MNIST_FILES, HELD_IN_TASKS, HELD_OUT_TASKS, IGNORE_LABEL, INSTRUCTION_TEMPLATE_NAMES, INSTRUCTION_WORDINGS,
  InstructionData, InstructionTemplateName, SCENE_TASKS, SceneInstruction, SceneTask, answerCandidateIds, batchIndices, blankImageBatch, drawInstruction, imagePrompt,
  instructionEvalSet, instructionTexts, loadInstructionData, makeInstructionBatch, sceneDescription, tokenizeInstructions,
  trainByteLevelBpe, writeIdx,
} from '@mmzoo/train';
import { GRID, sceneItem } from '../helpers/scenes';
import { tempDirs } from '../helpers/temp';

const temps = tempDirs('mmzoo-scene-instructions-');
afterAll(() => temps.cleanUp());

/**
 * A Fashion-MNIST folder of a few 28x28 items: training pixels in [1, 100], test pixels in [150, 250], so that a scene
 * pixel tells which split it came from (empty cells are 0).
 */
function fakeFashionMnist(): string {
  const dir = temps.make();
  const rng = new Rng(5);
  const split = (name: 'train' | 'test', count: number, low: number, high: number) => {
    writeIdx(path.join(dir, FASHION_MNIST_FILES[name].images), { dims: [count, 28, 28], data: Uint8Array.from({ length: count * 784 }, () => low + rng.int(high - low + 1)) });
    writeIdx(path.join(dir, FASHION_MNIST_FILES[name].labels), { dims: [count], data: Uint8Array.from({ length: count }, (_, i) => i % 10) });
  };
  split('train', 60, 1, 100);
  split('test', 40, 150, 250);
  return dir;
}

const ROOT = fakeFashionMnist();
const SHAPE: [number, number, number] = [1, 56, 56];

function load(template: InstructionTemplateName, seed = 3, extra: Record<string, unknown> = {}): InstructionData {
  const data = DataSchema.parse({ dataset: 'sceneInstructions', root: ROOT, instructions: { template, train: 400, scenes: 60, testScenes: 30, heldOutPerTask: 12, ...extra } });
  return loadInstructionData(data, SHAPE, seed);
}

/** A byte-level BPE trained on the data's own texts (a stand-in for the frozen LM's tokenizer). */
function lmTokenizer(data: InstructionData): HFTokenizer {
  const bpe = trainByteLevelBpe(instructionTexts(data), { vocabSize: 420, specials: ['<|endoftext|>', '<pad>'], end: '<|endoftext|>', pad: '<pad>' });
  return HFTokenizer.fromJSON(bpe.toTokenizerJson(), bpe.tokenizerConfig());
}

/** The end each layout puts after an answer, as text. */
const END: Record<InstructionTemplateName, string> = { blip2_opt: '\n', instructblip: '<|endoftext|>', minigpt4: '###', llava_v1: '<|endoftext|>', visualglm: '<|endoftext|>' };

const maxOf = (a: ArrayLike<number>) => Array.from(a).reduce((m, x) => Math.max(m, x), -Infinity);
const minOf = (a: ArrayLike<number>) => Array.from(a).reduce((m, x) => Math.min(m, x), Infinity);

const DATA = Object.fromEntries(INSTRUCTION_TEMPLATE_NAMES.map((t) => [t, load(t)])) as Record<InstructionTemplateName, InstructionData>;

describe('scene instruction data (data/scene-instructions, data/instruction-batches)', () => {
  test('blankImages: every training and test image is zeros, the examples and held-out sets are unchanged (the question-only baseline)', () => {
    const seen = DATA.instructblip;
    const blank = load('instructblip', 3, { blankImages: true });
    expect(maxOf(seen.train.images.images)).toBeGreaterThan(0);
    expect(maxOf(blank.train.images.images)).toBe(0);
    expect(maxOf(blank.test.images.images)).toBe(0);
    expect(blank.train.examples).toEqual(seen.train.examples);
    expect(blank.test.heldOut).toEqual(seen.test.heldOut);
  });

  test('a pure function of the seed: the same seed gives the same examples, another seed others', () => {
    const again = load('instructblip');
    expect(again.train.examples).toEqual(DATA.instructblip.train.examples);
    expect(Buffer.from(again.train.images.images).equals(Buffer.from(DATA.instructblip.train.images.images))).toBe(true);
    const other = load('instructblip', 4);
    expect(other.train.examples).not.toEqual(DATA.instructblip.train.examples);
    // the held-out sets do not depend on the config's seed
    expect(other.test.heldOut).toEqual(DATA.instructblip.test.heldOut);
  });

  test('answers known by construction: each question is answered from the scene it is about', () => {
    const data = DATA.blip2_opt;
    for (const ex of data.train.examples.filter((e) => e.task !== 'caption' && e.task !== 'description')) {
      const qa = data.train.scenes.scenes[ex.scene].qa;
      const question = ex.qformer.charAt(0).toLowerCase() + ex.qformer.slice(1);
      expect(qa.some((q) => q.question === question && q.answer === ex.turns[0].assistant && q.kind === ex.task)).toBe(true);
      expect(ex.turns[0].user).toBe(`Question: ${ex.qformer} Answer:`);
    }
    for (const ex of data.train.examples.filter((e) => e.task === 'caption')) {
      expect(ex.turns[0]).toEqual({ user: 'a photo of', assistant: data.train.scenes.scenes[ex.scene].captions[0] });
    }
  });

  test('the majority answer of each question kind over the training scenes', () => {
    const data = DATA.instructblip;
    for (const [kind, answer] of Object.entries(data.majority)) {
      const counts = new Map<string, number>();
      for (const s of data.train.scenes.scenes) for (const q of s.qa) if (q.kind === kind) counts.set(q.answer, (counts.get(q.answer) ?? 0) + 1);
      expect(counts.get(answer!)).toBe(Math.max(...counts.values()));
    }
    expect(Object.keys(data.majority).sort()).toEqual(['cell', 'count', 'exists', 'location', 'neighbour', 'relation']);
  });

  test('answer lists: every answer of each question kind in the training scenes, most frequent first, as the layout writes it', () => {
    const data = DATA.instructblip;
    for (const [kind, list] of Object.entries(data.answers)) {
      const counts = new Map<string, number>();
      for (const s of data.train.scenes.scenes) for (const q of s.qa) if (q.kind === kind) counts.set(q.answer, (counts.get(q.answer) ?? 0) + 1);
      expect([kind, [...list!].sort()]).toEqual([kind, [...counts.keys()].sort()]);
      expect(list!.map((a) => counts.get(a)!)).toEqual([...counts.values()].sort((a, b) => b - a));
      expect(list![0]).toBe(data.majority[kind as SceneTask]);
    }
    expect(data.answers.exists).toEqual(expect.arrayContaining(['yes', 'no']));
    expect(data.answers.location!.sort()).toEqual(['bottom left', 'bottom right', 'top left', 'top right']);
    // the chat layouts capitalise answers, as their references are
    expect(DATA.minigpt4.answers.location!.sort()).toEqual(['Bottom left', 'Bottom right', 'Top left', 'Top right']);
  });

  test.each(INSTRUCTION_TEMPLATE_NAMES)('%s: candidate ids are what a training example labels after the generation prompt', (template) => {
    const data = DATA[template];
    const lm = lmTokenizer(data);
    for (const task of ['cell', 'exists', 'count'] as const) {
      const { answers, ids } = answerCandidateIds(data, task, lm);
      expect(answers).toEqual(data.answers[task]);
      answers.forEach((a, j) => expect(decode(lm, ids[j])).toBe(` ${a}${END[template]}`));
      // after any held-out prompt of the task, the example answered with a candidate continues with those ids
      const set = instructionEvalSet(data, task, lm);
      set.examples.slice(0, 3).forEach((ex, i) => {
        const turns = ex.turns.map((t, k) => (k === ex.turns.length - 1 ? { ...t, assistant: answers[1] } : t));
        const full = tokenizeInstructions({ ...data, train: { ...data.train, examples: [{ ...ex, turns }] } }, lm, 400).rows[0].ids;
        expect(Array.from(full)).toEqual([...set.prompts[i], ...ids[1]]);
      });
    }
    expect(() => answerCandidateIds(data, 'caption', lm)).toThrow("answerCandidateIds: task 'caption' has no answer list or no held-out example");
  });

  test('imagePrompt: a question laid out as the training questions are, its first letter capitalised (a newcomer typed it in lower case)', () => {
    const lm = lmTokenizer(DATA.blip2_opt);
    expect(imagePrompt('blip2_opt', ' is there a bag?', lm).text).toBe('Question: Is there a bag? Answer:');
    expect(imagePrompt('instructblip', 'where is the bag?', lm)).toMatchObject({ text: 'Question: Where is the bag? Short answer:', qformer: 'Question: Where is the bag? Short answer:' });
    expect(imagePrompt('instructblip', 'describe the image in detail.', lm).text).toBe('Describe the image in detail.');
  });

  test('a detailed description in fixed words', () => {
    const items = [sceneItem(7, 0, 0), sceneItem(8, 0, 1), sceneItem(3, 1, 0)];
    expect(sceneDescription(items, GRID)).toBe(
      'There are three items in the picture. A sneaker is in the top left. A bag is in the top right, to the right of the sneaker. '
      + 'A dress is in the bottom left, below the sneaker. The bottom right is empty.',
    );
    expect(sceneDescription([sceneItem(0, 1, 1), sceneItem(9, 0, 0)].reverse().sort((a, b) => a.row - b.row), GRID)).toBe(
      'There are two items in the picture. An ankle boot is in the top left. A t-shirt is in the bottom right. The top right and the bottom left are empty.',
    );
  });

  test.each(['exists', 'relation'] as const)('balanced yes/no answers: %s', (task) => {
    const data = load('instructblip', 3, { tasks: 'all' });
    const answers = data.train.examples.filter((e) => e.task === task).map((e) => e.turns[0].assistant);
    expect(answers.length).toBeGreaterThan(20);
    const yes = answers.filter((a) => a === 'yes').length;
    expect(yes + answers.filter((a) => a === 'no').length).toBe(answers.length);
    expect(Math.abs(2 * yes - answers.length)).toBeLessThanOrEqual(1);
    const held = data.test.heldOut[task].map((e) => e.turns[0].assistant);
    expect(held.filter((a) => a === 'yes').length).toBe(held.length / 2);
  });

  test('held-out tasks are absent from training, in templates never trained on; tasks: all trains them', () => {
    for (const t of INSTRUCTION_TEMPLATE_NAMES) {
      const tasks = new Set(DATA[t].train.examples.map((e) => e.task));
      for (const h of HELD_OUT_TASKS) expect(tasks.has(h)).toBe(false);
      for (const h of HELD_IN_TASKS) expect(tasks.has(h)).toBe(h !== 'conversation' || t === 'minigpt4' || t === 'llava_v1');
    }
    expect(new Set([...HELD_IN_TASKS, ...HELD_OUT_TASKS])).toEqual(new Set(SCENE_TASKS));
    // InstructBLIP: a held-out question's wording is none of the training wordings
    const data = DATA.instructblip;
    const pattern = (w: string) => new RegExp(`^${w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace('\\{\\}', '.+')}$`);
    // every training wording but the bare question, which any wording contains
    const trained = INSTRUCTION_WORDINGS.instructblip.question.filter((w) => w !== '{}').map(pattern);
    const unseen = INSTRUCTION_WORDINGS.instructblip.heldOutQuestion.map(pattern);
    for (const task of HELD_OUT_TASKS) {
      for (const ex of data.test.heldOut[task]) {
        expect(unseen.some((p) => p.test(ex.turns[0].user))).toBe(true);
        expect(trained.some((p) => p.test(ex.turns[0].user))).toBe(false);
      }
    }
    const users = data.train.examples.map((e) => e.turns[0].user);
    expect(users.some((u) => unseen.some((p) => p.test(u)))).toBe(false);
    const all = load('instructblip', 3, { tasks: 'all' });
    for (const h of HELD_OUT_TASKS) expect(all.train.examples.some((e) => e.task === h)).toBe(true);
  });

  test('no test scene image in training, and the held-out sets ask about test scenes only', () => {
    for (const t of ['minigpt4', 'blip2_opt'] as const) {
      const data = DATA[t];
      expect(maxOf(data.train.images.images)).toBeLessThanOrEqual(100);
      expect(maxOf(data.train.images.images)).toBeGreaterThan(0);
      expect(minOf(data.test.images.images.filter((p) => p > 0))).toBeGreaterThanOrEqual(150);
      const lm = lmTokenizer(data);
      const set = instructionEvalSet(data, 'count', lm);
      const nonzero = set.images.filter((p) => p > 0);
      expect(nonzero.length).toBeGreaterThan(0);
      expect(minOf(nonzero)).toBeGreaterThanOrEqual(150 / 255 - 1e-6);
      expect(instructionEvalSet(data, 'count', lm, undefined, true).images.every((p) => p === 0)).toBe(true);
    }
  });

  const decode = (tok: HFTokenizer, ids: number[]) => tok.inner.decode(ids, { skip_special_tokens: false });

  test.each(INSTRUCTION_TEMPLATE_NAMES)('%s: one image placeholder per row; labels count exactly the answers and their end', (template) => {
    const data = DATA[template];
    const lm = lmTokenizer(data);
    const tokens = tokenizeInstructions(data, lm, 200);
    expect(tokens.dropped).toBe(0);
    const B = 16;
    const L = 200;
    const before = tf.memory().numTensors;
    const batch = makeInstructionBatch(data, tokens, { lm: { tokenizer: lm, contextLength: L } }, 2, B, 11);
    expect(Object.keys(batch).filter((k) => !['index', 'seed'].includes(k)).sort()).toEqual(['image', 'labels', 'lm']);
    expect(batch.image!.shape).toEqual([B, ...SHAPE]);
    const ids = batch.lm!.arraySync() as number[][];
    const labels = batch.labels!.arraySync() as number[][];
    const pixels = batch.image!.dataSync();
    const { indices } = batchIndices(2, B, tokens.rows.length, 11);
    indices.forEach((i, b) => {
      const ex: SceneInstruction = data.train.examples[i];
      expect(ids[b].filter((id) => id === IMAGE_TOKEN_INDEX).length).toBe(1);
      // the scene's pixels
      const per = SHAPE[0] * SHAPE[1] * SHAPE[2];
      const src = data.train.images.images.subarray(ex.scene * per, (ex.scene + 1) * per);
      expect(Array.from(pixels.subarray(b * per, (b + 1) * per), (p) => Math.round(p * 255))).toEqual(Array.from(src));
      // lm is the row's ids but the last; labels[t] = the id after lm[t] where counted, -100 elsewhere; the counted ids
      // decode to the answers and their ends
      const full = Array.from(tokens.rows[i].ids);
      expect(ids[b].slice(0, full.length - 1)).toEqual(full.slice(0, -1));
      const counted: number[] = [];
      labels[b].forEach((l, t) => {
        if (l === IGNORE_LABEL) return;
        expect(l).toBe(full[t + 1]);
        counted.push(l);
      });
      expect(decode(lm, counted)).toBe(ex.turns.map((turn) => ` ${turn.assistant}${END[template]}`).join(''));
      // where the image goes: before the bos in the VQA layouts, inside the first human message in the chat ones
      const at = ids[b].indexOf(IMAGE_TOKEN_INDEX);
      if (template === 'blip2_opt' || template === 'instructblip') expect([at, ids[b][1]]).toEqual([0, lm.endId]);
      else if (template === 'minigpt4') expect(decode(lm, ids[b].slice(1, at))).toBe('###Human: <Img>');
      else if (template === 'visualglm') {
        // bos <img> [image] </img>Q: {question}\nA: {answer}<end>
        expect([ids[b][0], decode(lm, ids[b].slice(1, at))]).toEqual([lm.endId, '<img>']);
        const answerAt = labels[b].findIndex((l) => l !== IGNORE_LABEL) + 1;
        expect(decode(lm, ids[b].slice(at + 1, answerAt))).toBe(`</img>Q: ${ex.turns[0].user}\nA:`);
      } else expect(decode(lm, ids[b].slice(1, at))).toMatch(/ USER: $/);
      // padding: after the row's ids, the pad id with ignored labels
      const n = tokens.rows[i].ids.length - 1;
      expect(ids[b].slice(n).every((id) => id === lm.padId)).toBe(true);
      expect(labels[b].slice(n).every((l) => l === IGNORE_LABEL)).toBe(true);
    });
    const blank = blankImageBatch(batch);
    expect(blank.image!.shape).toEqual(batch.image!.shape);
    expect(blank.image!.dataSync().every((p) => p === 0)).toBe(true);
    expect(blank.labels!.arraySync()).toEqual(labels);
    expect(blank.lm!.arraySync()).toEqual(ids);
    tf.dispose([...batchTensors(batch), ...batchTensors(blank)]);
    expect(tf.memory().numTensors).toBe(before);
  });

  test('conversations are multi-turn in the chat templates; the single-turn layouts refuse them', () => {
    const convs = DATA.llava_v1.train.examples.filter((e) => e.task === 'conversation');
    expect(convs.length).toBeGreaterThan(10);
    expect(convs.every((c) => c.turns.length >= 2 && c.turns.length <= 3)).toBe(true);
    const scene = DATA.blip2_opt.train.scenes.scenes[0];
    expect(() => drawInstruction('blip2_opt', 'conversation', scene, 0, GRID, new Rng(1))).toThrow("template 'blip2_opt' renders one turn");
  });

  test('the Q-Former text: the instruction as worded (InstructBLIP), the bare question (BLIP-2), [CLS] ... [SEP] padded', () => {
    const data = DATA.instructblip;
    const lm = lmTokenizer(data);
    const word = WordTokenizer.fromCaptions(instructionTexts(data));
    const tokens = tokenizeInstructions(data, lm, 200);
    const before = tf.memory().numTensors;
    const batch = makeInstructionBatch(data, tokens, { lm: { tokenizer: lm, contextLength: 200 }, text: { tokenizer: word, contextLength: 40 } }, 0, 8, 1);
    const text = batch.text!.arraySync() as number[][];
    const { indices } = batchIndices(0, 8, tokens.rows.length, 1);
    indices.forEach((i, b) => {
      expect(text[b][0]).toBe(2);
      expect(word.decode(text[b])).toBe(word.decode(word.encode(data.train.examples[i].turns[0].user, 40)));
      expect(data.train.examples[i].qformer).toBe(data.train.examples[i].turns[0].user);
    });
    tf.dispose(batchTensors(batch));
    expect(tf.memory().numTensors).toBe(before);
    const set = instructionEvalSet(data, 'relation', lm, { tokenizer: word, contextLength: 40 });
    expect(set.text!.shape).toEqual([12, 40]);
    expect(set.prompts.every((p) => p.filter((id) => id === IMAGE_TOKEN_INDEX).length === 1 && p[p.length - 1] !== lm.endId)).toBe(true);
    expect(set.references.every((r) => r === 'yes' || r === 'no')).toBe(true);
    // a prompt is the example's ids up to where its answer starts
    expect(Array.from(set.prompts[0])).toEqual(Array.from(lmIdsOf(data, set.examples[0], lm)).slice(0, set.prompts[0].length));
    expect(() => instructionEvalSet(data, 'conversation' as SceneTask, lm)).toThrow("no held-out set for task 'conversation'");
  });
});

/** The full ids of an example (answer included), through the training path. */
function lmIdsOf(data: InstructionData, ex: SceneInstruction, lm: HFTokenizer): Int32Array {
  const one = { ...data, train: { ...data.train, examples: [ex] } };
  return tokenizeInstructions(one, lm, 400).rows[0].ids;
}
