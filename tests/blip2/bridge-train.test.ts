import * as fs from 'fs';
import * as path from 'path';
import { latestCheckpoint, loadFashionMnist, EMBEDDED_FASHION_MNIST_ROOT, writePng } from '@mmzoo/train';
import { runMmzoo } from '../helpers/cli';
import { tempDirs } from '../helpers/temp';
import { floats, indent, lmRunYaml, tensorsAt, tinyLlama } from '../helpers/bridge-runs';

// A Q-Former bridge through `mmzoo train` as configs/blip2/instructblip-scenes-tiny.yaml trains one, at a tiny size:
// a tiny LLaMA run is the prerequisite (its weights and BPE become the frozen LM and the `lm` tokenizer), the rest
// starts from random weights; the instruction enters the Q-Former (qformerText); the ViT and the LM are frozen. Then
// `mmzoo generate RUN --image` answers about a PNG. Issue 17, "Done when": frozen parts get no gradient and no
// optimizer state, compared bit for bit before and after training.

const temps = tempDirs('mmzoo-bridge-');
afterAll(() => temps.cleanUp());

const LM_MODEL = indent(tinyLlama(1), 2);

const BASE_YAML = lmRunYaml(tinyLlama(1));

const BRIDGE_YAML = `model:
  name: instructblip
  vision: { imageSize: 56, patchSize: 14, channels: 1, width: 16, layers: 2, numHeads: 2, mlpRatio: 2, featureLayer: -1, finalNorm: true, attnBias: qkv }
  qformer: { contextLength: 24, width: 16, layers: 2, numHeads: 2, mlpRatio: 2, numQueries: 4, initStd: 0.1 }
  lm:
${LM_MODEL.replace(/^ {2}/gm, '    ')}
  answer: { strategy: greedy, maxNewTokens: 4 }
init:
  lm:
    config: base.yaml
    component: model
    map: { '': llm_model }
tokenizers:
  lm: { kind: init, entry: lm, key: text }
  text: { kind: word }
frozen: [vision, lm]
data:
  dataset: sceneInstructions
  instructions: { template: instructblip, train: 48, scenes: 24, testScenes: 12, heldOutPerTask: 4 }
train: { batchSize: 8, steps: 2, lr: 1.0e-2, checkpointEvery: 1, logEvery: 1 }
eval: { every: 0 }
`;

describe('an InstructBLIP-style bridge through mmzoo train (issue 17)', () => {
  let dir: string;
  let out: string;
  beforeAll(async () => {
    dir = temps.make();
    fs.writeFileSync(path.join(dir, 'base.yaml'), BASE_YAML);
    fs.writeFileSync(path.join(dir, 'bridge.yaml'), BRIDGE_YAML);
    out = path.join(dir, 'runs', 'bridge');
    const { code, stderr } = await runMmzoo(['train', path.join(dir, 'bridge.yaml'), '--out', out, '--backend', 'native']);
    expect({ code, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, stderr: '' });
  }, 300_000);

  test('the frozen ViT and LM are bit for bit what they were after step 1 and the LM run gave; they have no optimizer state; the bridge moved', () => {
    const ckpts = path.join(out, 'checkpoints');
    const [step1, step2] = ['step-000001', 'step-000002'].map((s) => tensorsAt(path.join(ckpts, s)));
    const base = tensorsAt(latestCheckpoint(path.join(dir, 'runs', '.init', fs.readdirSync(path.join(dir, 'runs', '.init'))[0]))!);
    const frozen = [...step2.keys()].filter((n) => n.startsWith('visual_encoder.') || n.startsWith('llm_model.'));
    expect(frozen.filter((n) => n.startsWith('llm_model.')).length).toBe(base.size);
    for (const n of frozen) expect([n, floats(step2.get(n))]).toEqual([n, floats(step1.get(n))]);
    for (const [n, t] of base) expect([n, floats(step2.get(`llm_model.${n}`))]).toEqual([n, floats(t)]);
    expect(floats(step2.get('llm_proj.weight'))).not.toEqual(floats(step1.get('llm_proj.weight')));
    expect(floats(step2.get('query_tokens'))).not.toEqual(floats(step1.get('query_tokens')));
    const opt = [...tensorsAt(path.join(ckpts, 'step-000002'), 'optimizer.safetensors').keys()];
    expect(opt.filter((k) => k.includes('visual_encoder') || k.includes('llm_model'))).toEqual([]);
    expect(opt).toContain('exp_avg.llm_proj.weight');
    expect(opt).toContain('exp_avg.Qformer.bert.embeddings.word_embeddings.weight');
  });

  test('results.json reports sceneVqa beside its baselines: accuracies in [0, 1], captions scored, examples', () => {
    const results = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8')) as { metrics: Record<string, unknown> };
    const m = results.metrics;
    for (const k of [
      'vqaAccuracy', 'vqaMajorityAccuracy', 'vqaQuestionOnlyAccuracy', 'vqaGeneratedAccuracy', 'heldOutAccuracy', 'heldOutMajorityAccuracy',
      'heldOutQuestionOnlyAccuracy', 'heldOutGeneratedAccuracy', 'yesNoVqaAccuracy',
    ]) {
      expect([k, typeof m[k]]).toEqual([k, 'number']);
      expect(m[k] as number).toBeGreaterThanOrEqual(0);
      expect(m[k] as number).toBeLessThanOrEqual(1);
    }
    expect(typeof m.captionBleu4).toBe('number');
    expect(Object.keys(m.vqaByTask as object).sort()).toEqual(['cell', 'count', 'exists', 'location', 'neighbour', 'relation']);
    expect((m.vqaExamples as unknown[]).length).toBe(8);
    // questions are also answered by ranking the task's answer list: a ranked answer is always one of its candidates
    const examples = m.vqaExamples as { task: string; ranked?: string }[];
    const byTask = m.vqaByTask as Record<string, { candidates: number; accuracy: number; generatedAccuracy: number }>;
    expect(examples.filter((e) => e.ranked !== undefined).map((e) => e.task)).toEqual(['cell', 'location', 'exists', 'count', 'neighbour', 'relation']);
    expect(['yes', 'no']).toContain(examples.find((e) => e.task === 'exists')!.ranked);
    expect(byTask.exists.candidates).toBe(2);
    expect(byTask.location.candidates).toBeLessThanOrEqual(4);
    for (const t of Object.values(byTask)) expect(typeof t.generatedAccuracy).toBe('number');
    // yes/no tasks are balanced, so always answering the majority scores one half there
    expect((m.vqaByTask as Record<string, { majorityAccuracy: number }>).exists.majorityAccuracy).toBeCloseTo(0.5, 5);
  });

  test('mmzoo generate RUN --image FILE --prompt Q answers about the image; bad pairings are refused in one line', async () => {
    const png = path.join(dir, 'scene.png');
    await writePng(png, loadFashionMnist(EMBEDDED_FASHION_MNIST_ROOT, 'test'), 0);
    const { code, stdout, stderr } = await runMmzoo(['generate', out, '--image', png, '--prompt', 'What is at the top left?', '--prompt', 'Is there a bag?', '--json']);
    expect({ code, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, stderr: '' });
    const rows = JSON.parse(stdout) as { image: string; prompt: string; ids: number[]; answer: string }[];
    expect(rows.map((r) => [r.image, r.prompt])).toEqual([[png, 'What is at the top left?'], [png, 'Is there a bag?']]);
    for (const r of rows) {
      expect(r.ids.length).toBeGreaterThanOrEqual(1);
      expect(r.ids.length).toBeLessThanOrEqual(4);
      expect(typeof r.answer).toBe('string');
    }
    const bad = await runMmzoo(['generate', out, '--image', png, '--image', png, '--prompt', 'a', '--prompt', 'b', '--prompt', 'c']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr.trim()).toBe('mmzoo: --image given 2 times for 3 prompts: give one image for all of them or one per prompt');
    const noImage = await runMmzoo(['generate', out, '--prompt', 'Is there a bag?']);
    expect(noImage.stderr.trim()).toBe(`mmzoo: ${out}: model 'instructblip' answers about images: give the image with --image FILE`);
    const tooLong = await runMmzoo(['generate', out, '--image', png, '--prompt', 'Is there a bag?', '--max-new-tokens', '500']);
    expect(tooLong.stderr.trim()).toMatch(/^mmzoo: the prompt takes \d+ positions with its image; 500 new tokens \(--max-new-tokens\) exceed the LM's context of 96: give --max-new-tokens \d+ or less$/);
    // a question goes into the layout's VQA prompt; --stop cuts the answer (here at its first character)
    const stopped = await runMmzoo(['generate', out, '--image', png, '--prompt', 'Is there a bag?', '--stop', ' ', '--json', '--min-new-tokens', '2']);
    const row = (JSON.parse(stopped.stdout) as { input: string; answer: string }[])[0];
    expect(row.input).toBe('Question: Is there a bag? Short answer:');
    expect(row.answer).not.toContain(' ');
  }, 120_000);
});
