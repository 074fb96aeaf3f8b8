import * as fs from 'fs';
import * as path from 'path';
import { latestCheckpoint, loadFashionMnist, EMBEDDED_FASHION_MNIST_ROOT, writePng } from '@mmzoo/train';
import { runMmzoo } from '../helpers/cli';
import { tempDirs } from '../helpers/temp';
import { floats, indent, lmRunYaml, tensorsAt, tinyLlama } from '../helpers/bridge-runs';

// VisualGLM's fine-tuning through `mmzoo train` as configs/blip2/visualglm-scenes-tiny.yaml runs it, at a tiny size: a
// tiny LLaMA run, then a BLIP-2 stage-2 run on it (both prerequisites, trained first), then the VisualGLM run taking
// every weight from stage 2 (`skip: [lora]`), its LM read GLM-style (rope2d, prefixLm), LoRA on one of two blocks and
// everything else frozen. Frozen weights are compared bit for bit with stage 2's; only the adapters have optimizer
// state; the run answers about a PNG in its layout.

const temps = tempDirs('mmzoo-visualglm-');
afterAll(() => temps.cleanUp());

const LM = tinyLlama(2);
const BASE_YAML = lmRunYaml(LM);

const PARTS = `  vision: { imageSize: 56, patchSize: 14, channels: 1, width: 16, layers: 2, numHeads: 2, mlpRatio: 2, featureLayer: -1, finalNorm: true, attnBias: qkv }
  qformer: { contextLength: 24, width: 16, layers: 2, numHeads: 2, mlpRatio: 2, numQueries: 4, initStd: 0.1 }
  answer: { strategy: greedy, maxNewTokens: 4 }`;
const DATA = (template: string) => `data:
  dataset: sceneInstructions
  instructions: { template: ${template}, train: 48, scenes: 24, testScenes: 12, heldOutPerTask: 4 }`;

const STAGE2_YAML = `model:
  name: blip2-lm
${PARTS}
  lm:
${indent(LM, 4)}
init:
  lm: { config: base.yaml, component: model, map: { '': llm_model } }
tokenizers:
  lm: { kind: init, entry: lm, key: text }
frozen: [vision, lm]
${DATA('blip2_opt')}
train: { batchSize: 8, steps: 2, lr: 1.0e-2 }
eval: { every: 0 }
`;

const VISUALGLM_YAML = `model:
  name: visualglm
${PARTS}
  lm:
${indent(`${LM}\nrope2d: true`, 4)}
  prefixLm: true
  lmLora: { rank: 2, alpha: 1, layers: [1], targets: [wq, wk, wv, wo] }
init:
  model: { config: stage2.yaml, skip: [lora] }
tokenizers:
  lm: { kind: init, entry: model }
frozen: [vision, lnVision, qformer, projection, lm]
${DATA('visualglm')}
train: { batchSize: 8, steps: 2, lr: 1.0e-2, weightDecay: 0, checkpointEvery: 1, logEvery: 1 }
eval: { every: 0 }
`;

const isLora = (n: string) => n.includes('.lora_');

describe('VisualGLM fine-tuning through mmzoo train (issue 17)', () => {
  let dir: string;
  let out: string;
  beforeAll(async () => {
    dir = temps.make();
    fs.writeFileSync(path.join(dir, 'base.yaml'), BASE_YAML);
    fs.writeFileSync(path.join(dir, 'stage2.yaml'), STAGE2_YAML);
    fs.writeFileSync(path.join(dir, 'visualglm.yaml'), VISUALGLM_YAML);
    out = path.join(dir, 'runs', 'visualglm');
    const { code, stderr } = await runMmzoo(['train', path.join(dir, 'visualglm.yaml'), '--out', out]);
    expect({ code, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, stderr: '' });
  }, 300_000);

  test('every weight but the adapters is stage 2\'s, bit for bit; only the adapters of block 1 train and have optimizer state', () => {
    const inits = path.join(dir, 'runs', '.init');
    const stage2 = tensorsAt(latestCheckpoint(path.join(inits, fs.readdirSync(inits).find((n) => n.includes('-stage2-'))!))!);
    const step2 = tensorsAt(path.join(out, 'checkpoints', 'step-000002'));
    const lora = [...step2.keys()].filter(isLora);
    expect(lora.sort()).toEqual(['wq', 'wk', 'wv', 'wo'].flatMap((t) => ['A', 'B'].map((f) => `llm_model.layers.1.attention.${t}.lora_${f}.weight`)).sort());
    expect([...step2.keys()].filter((n) => !isLora(n)).sort()).toEqual([...stage2.keys()].sort());
    for (const [n, t] of stage2) expect([n, floats(step2.get(n))]).toEqual([n, floats(t)]);
    // B started at 0 and moved (A moves from step 2 on, once B is not 0)
    const step1 = tensorsAt(path.join(out, 'checkpoints', 'step-000001'));
    for (const n of lora.filter((x) => x.endsWith('lora_B.weight'))) expect([n, floats(step2.get(n)).some((v) => v !== 0)]).toEqual([n, true]);
    for (const n of lora.filter((x) => x.endsWith('lora_A.weight'))) expect([n, floats(step2.get(n))]).not.toEqual([n, floats(step1.get(n))]);
    const opt = [...tensorsAt(path.join(out, 'checkpoints', 'step-000002'), 'optimizer.safetensors').keys()].filter((k) => k.includes('.'));
    expect(opt.length).toBeGreaterThan(0);
    expect(opt.filter((k) => !isLora(k))).toEqual([]);
  });

  test('results.json reports sceneVqa; mmzoo generate --image answers', async () => {
    const m = (JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8')) as { metrics: Record<string, number> }).metrics;
    for (const k of ['vqaAccuracy', 'vqaMajorityAccuracy', 'vqaQuestionOnlyAccuracy']) expect(m[k]).toBeGreaterThanOrEqual(0);
    const png = path.join(dir, 'scene.png');
    await writePng(png, loadFashionMnist(EMBEDDED_FASHION_MNIST_ROOT, 'test'), 0);
    const { code, stdout, stderr } = await runMmzoo(['generate', out, '--image', png, '--prompt', 'Is there a bag?', '--json']);
    expect({ code, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, stderr: '' });
    const [row] = JSON.parse(stdout) as { input: string; ids: number[] }[];
    // the question as the layout's instruction (the prompt around it: tests/train/scene-instructions.test.ts)
    expect(row.input).toBe('Is there a bag?');
    expect(row.ids.length).toBeGreaterThanOrEqual(1);
  }, 120_000);
});
