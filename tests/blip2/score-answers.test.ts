import { IMAGE_TOKEN_INDEX, manualSeed, tf } from '@mmzoo/core';
import { VisualGlmConfigSchema, Blip2LmConfigSchema, QFormerBridge, blip2LmSpec, visualGlmSpec } from '@mmzoo/blip2';
import { useBackend } from '../helpers/fixtures';
import { seededUniform } from '../helpers/finite-diff';

// QFormerBridge.scoreAnswers: ranking candidate answers by the LM's log-probability after each prompt with its image
// (LAVIS predict_class), checked against the bridge's own training loss on the same rows, alone and batched.

const PH = IMAGE_TOKEN_INDEX;
const BASE = {
  vision: { imageSize: 28, patchSize: 14, channels: 1, width: 16, layers: 1, numHeads: 2, mlpRatio: 2, featureLayer: -1, finalNorm: true, attnBias: 'qkv' },
  qformer: { contextLength: 8, width: 16, layers: 2, numHeads: 2, mlpRatio: 2, numQueries: 3, initStd: 0.2 },
  lm: { name: 'llama', dim: 16, layers: 2, numHeads: 2, multipleOf: 16, maxSeqLen: 24, vocabSize: 20 },
  answer: { strategy: 'greedy', maxNewTokens: 3 },
};
const rand = seededUniform(5);
const images = (b: number) => tf.tensor4d(Float32Array.from(rand(b * 28 * 28, 0, 1)), [b, 1, 28, 28]);

const builders: [string, () => QFormerBridge][] = [
  ['causal (BLIP-2)', () => blip2LmSpec.build(Blip2LmConfigSchema.parse({ ...BASE, name: 'blip2-lm' }), {})],
  ['prefix LM (VisualGLM)', () => visualGlmSpec.build(VisualGlmConfigSchema.parse({ ...BASE, name: 'visualglm', lm: { ...BASE.lm, rope2d: true }, prefixLm: true }), {})],
];

/** The bridge's mean training loss on one row: the prompt then the answer, labels (shifted) on the answer's ids. */
function rowLoss(model: QFormerBridge, image: tf.Tensor, prompt: number[], answer: number[]): number {
  const ids = [...prompt, ...answer];
  const labels = ids.map((_, t) => (t >= prompt.length - 1 && t < ids.length - 1 ? ids[t + 1] : -100));
  return tf.tidy(() => model.trainingLoss({ image, lm: tf.tensor2d([ids], undefined, 'int32'), labels: tf.tensor2d([labels], undefined, 'int32') }).total.dataSync()[0]);
}

describe.each(builders)('QFormerBridge.scoreAnswers, %s', (_name, build) => {
  beforeAll(() => useBackend('cpu'));

  test('each score is minus the training loss of that row times its answer length, batched or alone; no leaks', () => {
    manualSeed(3);
    const model = build();
    const img = images(2);
    const prompts = [[1, PH, 4, 5], [1, 4, PH, 5, 9, 6]];
    const candidates = [[7], [8, 9, 2], [3, 2]];
    try {
      const before = tf.memory().numTensors;
      const scores = model.scoreAnswers(img, prompts, candidates);
      expect(tf.memory().numTensors).toBe(before);
      expect(scores.length).toBe(2);
      prompts.forEach((p, i) => {
        const one = tf.tidy(() => img.slice([i, 0, 0, 0], [1, 1, 28, 28]));
        candidates.forEach((c, j) => {
          expect(scores[i][j]).toBeCloseTo(-rowLoss(model, one, p, c) * c.length, 4);
          expect(model.scoreAnswers(one, [p], [c])[0][0]).toBeCloseTo(scores[i][j], 5);
        });
        one.dispose();
      });
      // log-probabilities of distinct sequences: negative, and the one-token candidates' probabilities sum below 1
      expect(scores.flat().every((s) => s < 0)).toBe(true);
    } finally {
      img.dispose();
      model.dispose();
    }
  });

  test('more pairs than one forward pass holds (11 prompts x 12 candidates) score as each prompt does alone', () => {
    manualSeed(4);
    const model = build();
    const img = images(11);
    const prompts = Array.from({ length: 11 }, (_, i) => [1, PH, ...Array.from({ length: i % 4 }, (_, k) => 3 + k)]);
    const candidates = Array.from({ length: 12 }, (_, j) => [4 + (j % 10), ...(j > 9 ? [2] : [])]);
    try {
      const all = model.scoreAnswers(img, prompts, candidates);
      for (const i of [0, 5, 10]) {
        const one = tf.tidy(() => img.slice([i, 0, 0, 0], [1, 1, 28, 28]));
        const alone = model.scoreAnswers(one, [prompts[i]], candidates)[0];
        alone.forEach((s, j) => expect(all[i][j]).toBeCloseTo(s, 5));
        one.dispose();
      }
    } finally {
      img.dispose();
      model.dispose();
    }
  });

  test('bad input: counts, placeholders, empty candidates, too long for the context', () => {
    const model = build();
    const img = images(1);
    try {
      expect(() => model.scoreAnswers(img, [[1, PH], [PH]], [[3]])).toThrow('QFormerBridge.scoreAnswers: 2 prompts for 1 images');
      expect(() => model.scoreAnswers(img, [[1, 2]], [[3]])).toThrow('QFormerBridge.scoreAnswers: prompt 0 holds 0 image placeholders (-200); it needs exactly one');
      expect(() => model.scoreAnswers(img, [[1, PH]], [[3], []])).toThrow('QFormerBridge.scoreAnswers: candidate 1 has no ids');
      expect(() => model.scoreAnswers(img, [[1, PH, ...new Array(19).fill(4)]], [[3, 2]])).toThrow("QFormerBridge.scoreAnswers: a prompt with a candidate takes 25 positions, more than the LM's context of 24");
    } finally {
      img.dispose();
      model.dispose();
    }
  });
});
