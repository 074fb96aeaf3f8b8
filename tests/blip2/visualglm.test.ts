import { IMAGE_TOKEN_INDEX, Tensor, Variable, loraAdapters, manualSeed, prefixLengthsFromLabels, tf } from '@mmzoo/core';
import { Blip2LmConfigSchema, QFormerBridge, VisualGlmConfigSchema, visualGlmSpec } from '@mmzoo/blip2';
import { frozenParameterNames } from '@mmzoo/train';
import { useBackend } from '../helpers/fixtures';
import { seededUniform } from '../helpers/finite-diff';

// VisualGLM as a preset of the bridge parts (issue 17): LoRA on chosen blocks of the bridge's LM (`lmLora`, its own
// component `lora`) and GLM's prefix-LM reading of the prompt (`prefixLm`), on a tiny bridge whose LLaMA has rope2d.

const PH = IMAGE_TOKEN_INDEX;
const NQ = 3;
const MODEL = {
  name: 'visualglm',
  vision: { imageSize: 28, patchSize: 14, channels: 1, width: 16, layers: 1, numHeads: 2, mlpRatio: 2, featureLayer: -1, finalNorm: true, attnBias: 'qkv' },
  qformer: { contextLength: 8, width: 16, layers: 2, numHeads: 2, mlpRatio: 2, numQueries: NQ, initStd: 0.2 },
  lm: { name: 'llama', dim: 16, layers: 3, numHeads: 2, multipleOf: 16, maxSeqLen: 32, vocabSize: 20, rope2d: true },
  answer: { strategy: 'greedy', maxNewTokens: 3 },
  lmLora: { rank: 2, alpha: 1, layers: [0, 2], targets: ['wq', 'wk', 'wv', 'wo'] },
  prefixLm: true,
};
/** VisualGLM's fine-tuning: everything but the adapters frozen (finetune_visualglm.py disable_untrainable_params) */
const FROZEN = ['vision', 'lnVision', 'qformer', 'projection', 'lm'];

const build = (model: Record<string, unknown> = MODEL, seed = 0): QFormerBridge => {
  manualSeed(seed);
  return visualGlmSpec.build(VisualGlmConfigSchema.parse(model), {});
};
const rand = seededUniform(11);
const images = (b: number) => tf.tensor4d(Float32Array.from(rand(b * 28 * 28, 0, 1)), [b, 1, 28, 28]);

/**
 * Two right-padded rows: the placeholder at 1 and 2, the first counted (shifted) label at 4 and 3, so after the splice
 * (NQ - 1 = 2 more positions before it) at 6 and 5: prefixes of 7 and 6 positions.
 */
const LM_IDS = [[1, PH, 4, 5, 6, 7, 8], [1, 4, PH, 5, 9, 0, 0]];
const LABELS = [[-100, -100, -100, -100, 7, 8, 2], [-100, -100, -100, 9, 2, -100, -100]];
const batchOf = () => ({ image: images(2), lm: tf.tensor2d(LM_IDS, undefined, 'int32'), labels: tf.tensor2d(LABELS, undefined, 'int32') });

const loraNames = (m: QFormerBridge) => [...m.trainableParameters().keys()].filter((n) => n.includes('lora_'));

describe('VisualGLM on the bridge: lmLora and prefixLm', () => {
  beforeAll(() => useBackend('cpu'));

  test('the options are optional without a default (other configs parse, and hash, as before); bad layers and targets fail clearly', () => {
    const { lmLora: _lora, prefixLm: _prefix, ...rest } = MODEL;
    const base = { ...rest, name: 'blip2-lm' };
    const parsed = Blip2LmConfigSchema.parse(base);
    expect(['lmLora' in parsed, 'prefixLm' in parsed]).toEqual([false, false]);
    const bad = VisualGlmConfigSchema.safeParse({ ...MODEL, lmLora: { ...MODEL.lmLora, layers: [0, 3] } });
    expect(bad.success).toBe(false);
    expect(bad.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`)).toEqual(['lmLora.layers: layer 3 is not a block of the 3-layer LM (valid: 0..2)']);
    const twice = VisualGlmConfigSchema.safeParse({ ...MODEL, lmLora: { ...MODEL.lmLora, layers: [2, 2] } });
    expect(twice.error!.issues[0].message).toBe('a layer is listed twice');
    expect(() => build({ ...MODEL, lmLora: { ...MODEL.lmLora, targets: ['q_proj'] } })).toThrow('LoRA target q_proj matches no module; the Linear layers here are named wq, wk, wv, wo, w1, w2, w3');
  });

  test('frozen: [vision, lnVision, qformer, projection, lm] leaves exactly the LoRA matrices of the chosen layers trainable', () => {
    const model = build();
    try {
      const cfg = VisualGlmConfigSchema.parse(MODEL);
      const params = model.trainableParameters();
      const frozen = new Set(frozenParameterNames(params, visualGlmSpec.components(cfg), FROZEN, () => ''));
      const left = [...params.keys()].filter((n) => !frozen.has(n));
      const expected = [0, 2].flatMap((l) => ['wq', 'wk', 'wv', 'wo'].flatMap((t) => ['A', 'B'].map((f) => `llm_model.layers.${l}.attention.${t}.lora_${f}.weight`)));
      expect(left).toEqual(expected);
      expect(left.map((n) => params.get(n)!.shape)).toEqual(expected.map((n) => (n.endsWith('lora_A.weight') ? [2, 16] : [16, 2])));
      // the `lora` component is what is left; the LM's own weights are all frozen
      expect(loraNames(model)).toEqual(expected);
      expect([...params.keys()].filter((n) => n.startsWith('llm_model.') && !n.includes('lora_')).every((n) => frozen.has(n))).toBe(true);
      // alpha 1 over rank 2 (sat's LoraMixin: lora_alpha 1)
      expect([...loraAdapters(model.lm).values()].map((a) => a.scale)).toEqual(new Array(8).fill(0.5));
    } finally {
      model.dispose();
    }
  });

  test('prefixLengthsFromLabels: each row\'s positions up to its first counted label, by hand', () => {
    const labels = tf.tensor2d([[-100, -100, 5, 6, -100], [-100, 7, -100, -100, -100], [-100, -100, -100, -100, -100], [3, 4, 5, 6, 7]], undefined, 'int32');
    expect(prefixLengthsFromLabels(labels)).toEqual([3, 2, 5, 1]);
    expect(prefixLengthsFromLabels(labels, 3)).toEqual([1, 1, 1, 2]);
    expect(() => prefixLengthsFromLabels(tf.tensor1d([1, 2], 'int32'))).toThrow('prefixLengthsFromLabels: labels must be int32 [B, L] with L >= 1, got [2]');
    labels.dispose();
  });

  test('trainingLoss gives the LM each row\'s prompt as its prefix (spliced: 7 and 6); generation the whole context; no leaks', () => {
    const model = build();
    const batch = batchOf();
    const forward = jest.spyOn(model.lm, 'forward');
    try {
      const before = tf.memory().numTensors;
      tf.dispose(model.trainingLoss(batch).total);
      expect(forward.mock.calls.map((c) => c[1]?.prefixLength)).toEqual([[7, 6]]);
      // prompts of 4 and 6 ids: contexts of 6 and 8 real positions, the prefix of every step
      forward.mockClear();
      const prompts = [[1, PH, 4, 5], [1, 4, PH, 5, 9, 6]];
      const img = images(2);
      const both = model.generateFromImages(img, prompts);
      expect(forward.mock.calls.length).toBe(3);
      expect(forward.mock.calls.every((c) => JSON.stringify(c[1]?.prefixLength) === '[6,8]')).toBe(true);
      // a left-padded row answers as it does alone
      const alone = tf.tidy(() => img.slice([0, 0, 0, 0], [1, 1, 28, 28]));
      expect(model.generateFromImages(alone, [prompts[0]]).tokens[0]).toEqual(both.tokens[0]);
      tf.dispose([img, alone]);
      expect(tf.memory().numTensors).toBe(before);
      // without prefixLm: causal (no prefixLength)
      forward.mockClear();
      (model.opts as { prefixLm?: boolean }).prefixLm = false;
      tf.dispose(model.trainingLoss(batch).total);
      expect(forward.mock.calls[0][1]?.prefixLength).toBeUndefined();
    } finally {
      forward.mockRestore();
      tf.dispose(Object.values(batch));
      model.dispose();
    }
  });

  test('fresh adapters (B = 0) leave the loss unchanged; set B, it changes; the gradient reaches A and B, as finite differences say', () => {
    const plain = build({ ...MODEL, lmLora: undefined }, 1);
    const model = build(MODEL, 2);
    const batch = batchOf();
    try {
      // the same weights but the adapters
      const own = model.trainableParameters();
      for (const [n, v] of plain.trainableParameters()) own.get(n)!.assign(v);
      const loss = (m: QFormerBridge) => tf.tidy(() => m.trainingLoss(batch).total.dataSync()[0]);
      expect(loss(model)).toBe(loss(plain));
      const names = loraNames(model);
      const lora = names.map((n) => own.get(n)! as Variable);
      const isB = names.map((n) => n.endsWith('lora_B.weight'));
      const bs = lora.filter((_, i) => isB[i]);
      // gradients at B = 0: B's from A x, A's zero (it is multiplied by B)
      const grads = (vars: Variable[]) => tf.tidy(() => {
        const { grads: g } = tf.variableGrads(() => model.trainingLoss(batch).total as tf.Scalar, vars);
        return vars.map((v) => Array.from(g[v.name].dataSync()));
      });
      const g0 = grads(lora);
      lora.forEach((v, i) => {
        const maxAbs = Math.max(...g0[i].map(Math.abs));
        expect({ name: names[i], nonzero: maxAbs > 0 }).toEqual({ name: names[i], nonzero: isB[i] });
      });
      for (const b of bs) b.assign(tf.tidy(() => tf.randomUniform(b.shape, -0.5, 0.5, 'float32', 7)));
      const changed = loss(model);
      expect(Math.abs(changed - loss(plain))).toBeGreaterThan(1e-4);
      const g1 = grads(lora);
      expect(g1.every((g) => Math.max(...g.map(Math.abs)) > 0)).toBe(true);
      // one entry of an A and one of a B against central differences
      for (const [k, at] of [[0, 3], [lora.length - 1, 5]] as const) {
        expect(isB[k]).toBe(k > 0);
        const v = lora[k];
        const data = Float32Array.from(v.dataSync());
        const at0 = data[at];
        const eps = 1e-2;
        const lossAt = (x: number) => {
          data[at] = x;
          tf.tidy(() => v.assign(tf.tensor(data, v.shape)));
          return loss(model);
        };
        const fd = (lossAt(at0 + eps) - lossAt(at0 - eps)) / (2 * eps);
        lossAt(at0);
        expect(Math.abs(fd - g1[k][at])).toBeLessThan(2e-3 + 0.02 * Math.abs(fd));
        expect(Math.abs(fd)).toBeGreaterThan(1e-5);
      }
    } finally {
      tf.dispose(Object.values(batch) as Tensor[]);
      plain.dispose();
      model.dispose();
    }
  });
});
