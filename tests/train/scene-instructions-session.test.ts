import { z } from 'zod';
import { IMAGE_TOKEN_INDEX, Linear, Module, ModelInputs, batchTensors, tf } from '@mmzoo/core';
import type { Batch } from '@mmzoo/core';
import {
  Experiment, ExperimentSchema, IGNORE_LABEL, TrainingSpec, checkRunContract, harnessInputs, isInstructionData, openSession, parseYaml,
  sessionTraining, validate,
} from '@mmzoo/train';

/** A stand-in bridge model (the real ones are built in their own packages): what it reads is all this test needs. */
class StubBridge extends Module {
  readonly proj = this.module('proj', new Linear(1, 1, { std: 0.1 }));
  trainingLoss(batch: Partial<Batch>) {
    return tf.tidy(() => {
      const total = this.proj.apply(batch.image!.mean().reshape([1, 1])).sum();
      return { total, parts: { lm: total } };
    });
  }
}

const StubSchema = z.strictObject({ name: z.literal('stubBridge'), readsInstruction: z.boolean() });
type StubConfig = z.infer<typeof StubSchema>;

/** InstructBLIP-like (`readsInstruction`: image, lm and the Q-Former's text) or MiniGPT-4-like (image and lm). */
const stubSpec: TrainingSpec = {
  name: 'stubBridge',
  describe: 'a stand-in bridge model for the data tests',
  schema: StubSchema,
  inputs: (cfg: StubConfig): ModelInputs => ({ image: [1, 56, 56], lm: { contextLength: 160 }, ...(cfg.readsInstruction ? { text: { contextLength: 32 } } : {}) }),
  build: () => new StubBridge(),
  objectives: () => ({ lm: ['pairs'] as const }),
  stagewise: false,
  evalTasks: () => [],
  components: () => ({ bridge: () => true }),
  presets: [],
};

/** A tiny experiment on the dataset, in YAML as a config file holds it. */
const yaml = (template: string, readsInstruction: boolean, tokenizers: string) => `model:
  name: stubBridge
  readsInstruction: ${readsInstruction}
${tokenizers}
data:
  dataset: sceneInstructions
  instructions:
    template: ${template}
    train: 120
    scenes: 40
    testScenes: 20
    heldOutPerTask: 4
train:
  batchSize: 6
  steps: 1
  lr: 1.0e-3
`;

const BOTH = `tokenizers:
  lm:
    kind: bpe
    vocabSize: 400
  text:
    kind: word`;
const LM_ONLY = `tokenizers:
  lm:
    kind: bpe
    vocabSize: 400`;

function experiment(text: string): Experiment<StubConfig> {
  const source = parseYaml(text, 'tiny.yaml');
  const config = validate(ExperimentSchema, source.value, source) as Experiment<any>;
  return { ...config, model: StubSchema.parse(config.model) };
}

describe("data.dataset: sceneInstructions in an experiment (config, run contract, session)", () => {
  test('the dataset declares image, lm, labels and text: a bridge model passes the run contract, a dialogue dataset does not', () => {
    const config = experiment(yaml('instructblip', true, BOTH));
    expect(config.data.instructions).toMatchObject({ template: 'instructblip', tasks: 'heldIn', grid: 2, train: 120 });
    const inputs = stubSpec.inputs(config.model);
    expect(checkRunContract('stubBridge', inputs, config)).toBeUndefined();
    expect(checkRunContract('stubBridge', inputs, { ...config, data: { ...config.data, dataset: 'dialogue' } })).toEqual({
      path: ['data', 'dataset'], message: "model 'stubBridge' needs batch keys image, lm, which dataset 'dialogue' does not yield (it yields text, labels)",
    });
    // a model reading no text has no text tokenizer; its context length is the lm's
    expect(harnessInputs(stubSpec, { name: 'stubBridge', readsInstruction: false })).toEqual({ image: [1, 56, 56], contextLength: 160 });
  });

  test('a misspelt option of data.instructions is an error naming it', () => {
    expect(() => experiment(yaml('instructblip', true, BOTH).replace('heldOutPerTask', 'heldOutPerTsk'))).toThrow(/data\.instructions.*heldOutPerTsk/);
    expect(() => experiment(yaml('blip3', true, BOTH))).toThrow(/data\.instructions\.template/);
  });

  test.each([
    ['instructblip', true, BOTH, ['image', 'labels', 'lm', 'text']],
    ['minigpt4', false, LM_ONLY, ['image', 'labels', 'lm']],
  ] as const)('%s: a tiny experiment loads and yields batches of the declared keys', async (template, reads, tokenizers, keys) => {
    const config = experiment(yaml(template, reads, tokenizers));
    const s = await openSession(stubSpec, config);
    try {
      expect(isInstructionData(s.data)).toBe(true);
      expect(Object.keys(s.tokenizers).sort()).toEqual(reads ? ['lm', 'text'] : ['lm']);
      expect(s.instructionTokens!.rows.length + s.instructionTokens!.dropped).toBe(120);
      const before = tf.memory().numTensors;
      const training = sessionTraining(s);
      const batch = training.makeBatch(0);
      expect(Object.keys(batch).filter((k) => !['index', 'seed'].includes(k)).sort()).toEqual(keys);
      expect(batch.image!.shape).toEqual([6, 1, 56, 56]);
      expect(batch.lm!.shape).toEqual([6, 160]);
      expect(batch.labels!.shape).toEqual([6, 160]);
      if (reads) expect(batch.text!.shape).toEqual([6, 32]);
      const ids = batch.lm!.arraySync() as number[][];
      expect(ids.every((row) => row.filter((id) => id === IMAGE_TOKEN_INDEX).length === 1)).toBe(true);
      expect((batch.labels!.arraySync() as number[][]).every((row) => row.some((l) => l !== IGNORE_LABEL))).toBe(true);
      const loss = training.loss(batch);
      tf.dispose([loss.total, ...Object.values(loss.parts)]);
      training.disposeBatch(batch);
      expect(tf.memory().numTensors).toBe(before);
      // the same batch again: a pure function of index and seed
      const again = training.makeBatch(0);
      expect(again.lm!.arraySync()).toEqual(ids);
      tf.dispose(batchTensors(again));
    } finally {
      s.model.dispose();
    }
  });
});
