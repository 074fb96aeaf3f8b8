import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { tf, WordTokenizer, batchTensors } from '@mmzoo/core';
import {
  Experiment, ExperimentSchema, StageConfig, runTraining, makeImageTextBatch, saveTokenizer, loadSavedTokenizer, ImageTextBatch,
  readCheckpointMeta, latestCheckpoint, openSession, prepareSession,
  imageTextOf,
} from '@mmzoo/train';
import { loadExperiment } from '../../packages/cli/src/experiment';
import { getModel } from '../../packages/cli/src/specs';
import { useBackend } from '../helpers/fixtures';

const ROOT = path.join(__dirname, '..', '..');

// VLMo's stagewise pre-training (section 3.3) on a tiny model: image-only MIM, text-only MLM with the
// self-attention and V-FFN frozen, image-text ITC + ITM + MLM.
const stages = [
  {
    name: 'image-mim', objectives: ['mim'], data: 'images', steps: 2,
    trainable: ['patch_embed.*', 'cls_token', 'pos_embed', 'mask_token', 'token_type_embeddings.*', 'relative_position_bias_table', 'transformer.*', 'mim_head.*'],
    frozen: ['*.norm2.language.*', '*.ffn.language.*', '*.norm2.vl.*', '*.ffn.vl.*'],
  },
  {
    name: 'text-mlm', objectives: ['mlm'], data: 'texts', steps: 3, batchSize: 6, lr: 5e-3,
    trainable: ['text_embeddings.*', 'token_type_embeddings.*', 'relative_position_bias_table', 'transformer.*', 'mlm_score.*'],
    frozen: ['transformer.blocks.*.norm1.*', 'transformer.blocks.*.attn.*', 'transformer.blocks.*.gamma_1', '*.norm2.vision.*', '*.ffn.vision.*', '*.norm2.vl.*', '*.ffn.vl.*'],
  },
  { name: 'image-text', objectives: ['itc', 'itm', 'mlm'], data: 'pairs', steps: 2, frozen: ['mim_head.*', 'mask_token'] },
];

const config = ExperimentSchema.parse({
  model: {
    name: 'vlmo', vision: { imageSize: 28, patchSize: 7, channels: 1 }, text: { contextLength: 16, maxTextLenOfInitCkpt: 16 },
    width: 16, layers: 2, numHeads: 2, vlStart: 1, objectives: { mim: 1 }, tokenizer: { codebookSize: 8, fitImages: 32 }, absolutePositions: true,
  },
  data: { trainLimit: 64, scenes: { train: 8 } },
  stages,
  train: { seed: 3, batchSize: 8, steps: 7, lr: 1e-2, warmupSteps: 1, gradClipNorm: 1.0, checkpointEvery: 100, logEvery: 1 },
  eval: { zeroShot: false, retrievalGallery: 0 },
}) as Experiment<any>;

type Snapshot = Map<string, Float32Array>;
const snapshot = (m: Map<string, tf.Variable>): Snapshot => new Map([...m].map(([n, v]) => [n, v.dataSync().slice() as Float32Array]));

async function train(runDir: string, opts: { resume?: boolean; stopAfter?: number } = {}, tokenizer?: WordTokenizer) {
  const spec = getModel('vlmo');
  const session = await openSession(spec, { ...config, model: spec.schema.parse(config.model) }, tokenizer && { text: saveTokenizer(tokenizer) });
  const { model } = session;
  const { data } = imageTextOf(session, 'training');
  if (!opts.resume) await prepareSession(session);
  let steps = 0;
  const atStep = new Map<number, Snapshot>([[0, snapshot(model.namedParameters())]]);
  const summary = await runTraining<ImageTextBatch>({
    runDir, model, train: config.train, resume: opts.resume, stages: config.stages as StageConfig[],
    makeBatch: (i, stage) => makeImageTextBatch(data.train, session.tokenizer, i, stage?.batchSize ?? 8, 16, 3),
    disposeBatch: (b) => tf.dispose(batchTensors(b)),
    loss: (b, stage) => model.trainingLoss(b, stage),
    meta: { tokenizer: saveTokenizer(session.tokenizer) },
    shouldStop: () => opts.stopAfter !== undefined && steps >= opts.stopAfter,
    onStep: (step) => {
      steps++;
      atStep.set(step, snapshot(model.namedParameters()));
    },
  });
  const trainable = [...model.trainableParameters().keys()];
  model.dispose();
  return { summary, atStep, trainable, tokenizer: session.tokenizer as WordTokenizer };
}

describe('VLMo stagewise pre-training', () => {
  const dirs: string[] = [];
  const tmp = () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'mmzoo-vlmo-stages-'));
    dirs.push(d);
    return d;
  };
  let straight: Awaited<ReturnType<typeof train>>;
  beforeAll(async () => {
    useBackend('cpu');
    straight = await train(tmp());
  });
  afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

  test('each stage updates exactly its trainable parameters; frozen ones stay bit-for-bit unchanged', () => {
    const { atStep, trainable } = straight;
    const bounds = [[0, 2], [2, 5], [5, 7]];
    const frozenIn = [
      (n: string) => /\.(norm2|ffn)\.(language|vl)\./.test(n) || /^(text_embeddings|itc_|itm_|pooler|logit_|mlm_score)/.test(n),
      (n: string) => /^transformer\.blocks\.\d+\.(norm1|attn|gamma_1)|\.(norm2|ffn)\.(vision|vl)\./.test(n) || /^(patch_embed|cls_token|pos_embed|mask_token|mim_head|itc_|itm_|pooler|logit_)/.test(n),
      (n: string) => /^(mim_head|mask_token)/.test(n),
    ];
    bounds.forEach(([a, b], s) => {
      const before = atStep.get(a)!;
      const after = atStep.get(b)!;
      for (const n of trainable) {
        const same = Buffer.compare(Buffer.from(before.get(n)!.buffer), Buffer.from(after.get(n)!.buffer)) === 0;
        expect({ stage: s, n, changed: !same }).toEqual({ stage: s, n, changed: !frozenIn[s](n) });
      }
      // the visual tokenizer's codebook (a buffer) is never trained
      expect(Array.from(after.get('visual_tokenizer.codebook')!)).toEqual(Array.from(before.get('visual_tokenizer.codebook')!));
    });
  });

  test('history and results carry each stage; the summary gives first and last loss per stage', () => {
    const s = straight.summary;
    expect(s.steps).toBe(7);
    expect(s.history.map((h) => h.stage)).toEqual(['image-mim', 'image-mim', 'text-mlm', 'text-mlm', 'text-mlm', 'image-text', 'image-text']);
    expect(s.history.map((h) => Object.keys(h.parts).sort().join('+'))).toEqual(['mim', 'mim', 'mlm', 'mlm', 'mlm', 'itc+itm+mlm', 'itc+itm+mlm']);
    expect(s.stages!.map((st) => [st.name, st.start, st.end, st.stepsDone])).toEqual([['image-mim', 0, 2, 2], ['text-mlm', 2, 5, 3], ['image-text', 5, 7, 2]]);
    for (const st of s.stages!) {
      const pts = s.history.filter((h) => h.stage === st.name);
      expect([st.initialLoss, st.finalLoss, st.lossRatio]).toEqual([pts[0].loss, pts[pts.length - 1].loss, pts[pts.length - 1].loss / pts[0].loss]);
      expect(st.trainableParams + st.frozenParams).toBe(s.stages![0].trainableParams + s.stages![0].frozenParams);
    }
    // each stage restarts its own schedule at its own peak lr: 1 warmup step (lr), then cosine over the remaining
    // steps - 1: progress 0 (lr), 1/2 (lr / 2) for the 3-step stage
    expect(s.history.map((h) => h.lr)).toEqual([1e-2, 1e-2, 5e-3, 5e-3, expect.closeTo(2.5e-3, 12), 1e-2, 1e-2]);
    expect(s.tensorsAfter).toBe(s.tensorsBefore);
  });

  test('a run interrupted inside a stage resumes inside it and equals the uninterrupted run bit for bit', async () => {
    const dir = tmp();
    const first = await train(dir, { stopAfter: 3 });
    expect(first.summary.interrupted).toBe(true);
    const meta = readCheckpointMeta(latestCheckpoint(dir)!);
    expect(meta.step).toBe(3);
    expect(meta.stage).toEqual({ index: 1, name: 'text-mlm', step: 1 });
    const resumed = await train(dir, { resume: true }, loadSavedTokenizer(meta.tokenizer, 'meta.json') as WordTokenizer);
    expect(resumed.summary.stepsThisRun).toBe(4);
    expect(resumed.summary.history.map((h) => [h.stage, h.loss, h.lr])).toEqual(straight.summary.history.map((h) => [h.stage, h.loss, h.lr]));
    const end = straight.atStep.get(7)!;
    for (const [n, w] of resumed.atStep.get(7)!) expect({ n, same: Buffer.compare(Buffer.from(w.buffer), Buffer.from(end.get(n)!.buffer)) === 0 }).toEqual({ n, same: true });
    expect(readCheckpointMeta(latestCheckpoint(dir)!).stage).toEqual({ index: 2, name: 'image-text', step: 2 });
  });

  test('a parameter that gets no gradient from its stage is named; so is a pattern that matches nothing', async () => {
    const bad = { ...config, stages: [{ ...stages[0], trainable: undefined, frozen: [] }] , train: { ...config.train, steps: 2 } } as Experiment<any>;
    const spec = getModel('vlmo');
    const session = await openSession(spec, { ...bad, model: spec.schema.parse(bad.model) });
    await prepareSession(session);
    const run = (st: object[]) => runTraining<ImageTextBatch>({
      runDir: tmp(), model: session.model, train: bad.train, stages: st as StageConfig[],
      makeBatch: (i) => makeImageTextBatch(imageTextOf(session, 'training').data.train, session.tokenizer, i, 8, 16, 3),
      disposeBatch: (b) => tf.dispose(batchTensors(b)),
      loss: (b, stage) => session.model.trainingLoss(b, stage), meta: {},
    });
    const before = tf.memory().numTensors;
    // image-only MIM reaches neither the text side nor the heads: logit_scale, logit_vl_scale, the L-FFN of both
    // layers and the VL-FFN of the top one (6 + 12 tensors), text_embeddings (word, position, token type, LayerNorm: 5),
    // pooler + ITM (4), four ITC projections (4), the MLM head (transform dense + LayerNorm, decoder, bias: 6)
    await expect(run([{ ...stages[0], steps: 2, trainable: undefined, frozen: [] }])).rejects.toThrow(/^stage 'image-mim' \(stages\[0\]\): 39 trainable parameter\(s\) receive no gradient from the loss: logit_scale, logit_vl_scale, transformer\.blocks\.0\.norm2\.language\.weight/);
    await expect(run([{ ...stages[0], steps: 2, frozen: ['*.ffn.langauge.*'] }])).rejects.toThrow("stages[0].frozen[0]: pattern '*.ffn.langauge.*' matches no trainable parameter");
    await expect(run([{ ...stages[0], steps: 1 }])).rejects.toThrow("train.steps: 2 does not equal the sum of the stages' steps (1)");
    expect(tf.memory().numTensors).toBe(before);
    session.model.dispose();
  });
});

describe('stagewise configs', () => {
  test('configs/vlmo/fmnist-scenes-stagewise.yaml: the paper\'s three stages, train.steps filled in', () => {
    const l = loadExperiment(path.join(ROOT, 'configs/vlmo/fmnist-scenes-stagewise.yaml'));
    expect(l.config.stages!.map((s: StageConfig) => [s.name, s.objectives.join('+'), s.data])).toEqual([
      ['image-mim', 'mim', 'images'], ['text-mlm', 'mlm', 'texts'], ['image-text', 'itc+itm+mlm', 'pairs'],
    ]);
    expect(l.config.train.steps).toBe(l.config.stages!.reduce((a: number, s: StageConfig) => a + s.steps, 0));
    const base = loadExperiment(path.join(ROOT, 'configs/vlmo/base.yaml'), [], { modelOnly: true });
    expect(base.config.stages!.map((s: StageConfig) => s.data)).toEqual(['images', 'texts', 'pairs']);
  });

  test('stage errors name the config path and line', () => {
    const file = path.join(ROOT, 'configs/vlmo/fmnist-scenes-stagewise.yaml');
    expect(() => loadExperiment(file, ['stages.1.objectives.0=itm'])).toThrow(/fmnist-scenes-stagewise\.yaml:\d+:\d+: stages\[1\]\.data: objective 'itm' needs data pairs, not 'texts'/);
    expect(() => loadExperiment(file, ['stages.0.objectives.0=mdm'])).toThrow(/stages\[0\]\.objectives\[0\]: the model has no objective 'mdm' \(available: itc, itm, mlm, mim;/);
    expect(() => loadExperiment(file, ['stages.1.frozen.0=/attn(/'])).toThrow(/--set stages.1.frozen.0=\/attn\(\/: stages\[1\]\.frozen\[0\]: invalid regular expression \/attn\(\/: /);
    expect(() => loadExperiment(file, ['stages.1.name=image-mim'])).toThrow("stages[1].name: duplicate stage name 'image-mim' (also stages[0])");
    expect(() => loadExperiment(file, ['train.steps=5'])).toThrow("--set train.steps=5: train.steps: with stages, train.steps must equal the sum of the stages' steps");
    expect(() => loadExperiment(file, ['model.objectives.mim=0'])).toThrow(/fmnist-scenes-stagewise\.yaml:\d+:\d+: stages\[0\]\.objectives\[0\]: the model has no objective 'mim'/);
  });
});
