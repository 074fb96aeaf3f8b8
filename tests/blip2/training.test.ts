import * as fs from 'fs';
import * as path from 'path';
import { parseSafetensors, RawTensor } from '@mmzoo/core/io';
import { latestCheckpoint } from '@mmzoo/train';
import { trainCommand } from '../../packages/cli/src/commands/train';
import { tempDirs } from '../helpers/temp';

// BLIP-2's stage-1 recipe through `mmzoo train` in this process, as configs/blip2/qformer-scenes-tiny.yaml does it on a
// smaller scale: a tiny BLIP run is the prerequisite; the BLIP-2 run takes its ViT (frozen) and its text encoder as the
// Q-Former's BERT (word table and the cross-attention of layer 1, which the Q-Former lacks, left out), each text FFN
// copied into its query twin; two training steps.

const temp = tempDirs('mmzoo-blip2-');
afterAll(() => temp.cleanUp());
afterEach(() => jest.restoreAllMocks());

const DATA = `data:
  trainLimit: 256
  scenes: { train: 32 }
eval:
  zeroShot: false
  retrievalGallery: 16
  batchSize: 1000
`;

const BLIP_YAML = `model:
  name: blip
  embedDim: 16
  queueSize: 32
  itmRerankK: 4
  vision: { imageSize: 28, patchSize: 7, channels: 1, width: 16, layers: 2, numHeads: 2, mlpRatio: 2 }
  text: { contextLength: 16, width: 16, layers: 3, numHeads: 2, mlpRatio: 2 }
  caption: { testScenes: 2, maxLength: 4 }
train: { batchSize: 16, steps: 2, lr: 1.0e-3, checkpointEvery: 2, logEvery: 1 }
${DATA}`;

/** lr 1e-12: two AdamW steps move no weight by a float32 ulp, so what init loaded is still there afterwards */
const blip2Yaml = (lr: string) => `model:
  name: blip2
  embedDim: 16
  itmRerankK: 4
  vision: { imageSize: 28, patchSize: 7, channels: 1, width: 16, layers: 2, numHeads: 2, mlpRatio: 2, featureLayer: -1, finalNorm: true, attnBias: qkv }
  qformer: { contextLength: 16, width: 16, layers: 3, numHeads: 2, mlpRatio: 2, numQueries: 4 }
init:
  visual_encoder:
    config: blip.yaml
    component: visual_encoder
  Qformer.bert:
    config: blip.yaml
    component: text_encoder
    map:
      text_encoder.embeddings.word_embeddings: null
      text_encoder.encoder.layer.1.crossattention: null
      text_encoder: Qformer.bert
    skip: [Qformer.bert.embeddings.word_embeddings, Qformer.bert.encoder.layer.0.intermediate_query, Qformer.bert.encoder.layer.0.output_query,
      Qformer.bert.encoder.layer.1.intermediate_query, Qformer.bert.encoder.layer.1.output_query, Qformer.bert.encoder.layer.2.intermediate_query,
      Qformer.bert.encoder.layer.2.output_query]
tokenizers:
  text: { kind: init, entry: Qformer.bert }
frozen: [vision]
train: { batchSize: 16, steps: 2, lr: ${lr}, checkpointEvery: 2, logEvery: 1 }
${DATA}`;

function weightsOf(runDir: string, file = 'model.safetensors'): Map<string, RawTensor> {
  return parseSafetensors(new Uint8Array(fs.readFileSync(path.join(latestCheckpoint(runDir)!, file))));
}

const floats = (t: RawTensor | undefined) => Array.from((t?.data ?? []) as Float32Array);

function maxDiff(a: RawTensor | undefined, b: RawTensor | undefined): number {
  const x = floats(a);
  const y = floats(b);
  if (x.length !== y.length || x.length === 0) return Infinity;
  return Math.max(...x.map((v, i) => Math.abs(v - y[i])));
}

test('BLIP-2 stage 1 from a tiny BLIP run: frozen ViT kept bit for bit, Q-Former BERT and query twins from its text encoder, finite losses', async () => {
  jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
  const dir = temp.make();
  fs.writeFileSync(path.join(dir, 'blip.yaml'), BLIP_YAML);
  const runs = path.join(dir, 'runs');
  const still = path.join(runs, 'still');
  fs.writeFileSync(path.join(dir, 'still.yaml'), blip2Yaml('1.0e-12'));
  expect(await trainCommand(path.join(dir, 'still.yaml'), { out: still, backend: 'wasm' })).toBe(0);
  const blipRun = path.join(runs, '.init', fs.readdirSync(path.join(runs, '.init'))[0]);
  const blip = weightsOf(blipRun);
  const mine = weightsOf(still);

  // the frozen ViT is BLIP's, bit for bit, and has no optimizer state; ln_vision trains
  const vit = [...blip.keys()].filter((n) => n.startsWith('visual_encoder.'));
  expect(vit.length).toBeGreaterThan(20);
  for (const n of vit) expect([n, floats(mine.get(n))]).toEqual([n, floats(blip.get(n))]);
  const opt = [...weightsOf(still, 'optimizer.safetensors').keys()];
  expect(opt.filter((k) => k.includes('visual_encoder'))).toEqual([]);
  expect(opt).toContain('exp_avg.ln_vision.weight');

  // the Q-Former's BERT is BLIP's text encoder; each query FFN is a copy of its layer's text FFN
  for (const n of ['embeddings.position_embeddings.weight', 'encoder.layer.1.attention.self.query.weight', 'encoder.layer.2.crossattention.self.key.weight', 'encoder.layer.0.output.LayerNorm.bias']) {
    expect({ n, same: maxDiff(mine.get(`Qformer.bert.${n}`), blip.get(`text_encoder.${n}`)) < 1e-9 }).toEqual({ n, same: true });
  }
  expect(mine.has('Qformer.bert.encoder.layer.1.crossattention.self.key.weight')).toBe(false);
  for (let i = 0; i < 3; i++) {
    for (const [text, query] of [['intermediate.dense.weight', 'intermediate_query.dense.weight'], ['output.dense.bias', 'output_query.dense.bias'], ['output.LayerNorm.weight', 'output_query.LayerNorm.weight']]) {
      expect(maxDiff(mine.get(`Qformer.bert.encoder.layer.${i}.${query}`), blip.get(`text_encoder.encoder.layer.${i}.${text}`))).toBeLessThan(1e-9);
    }
  }
  // the word table was left as built ([DEC] appended: one row more than the tokenizer's, BLIP has two)
  expect(mine.get('Qformer.bert.embeddings.word_embeddings.weight')!.shape[0]).toBe(blip.get('text_encoder.embeddings.word_embeddings.weight')!.shape[0] - 1);

  // at a real learning rate the Q-Former moves, the frozen ViT does not, and the three losses are logged finite
  const moving = path.join(runs, 'moving');
  fs.writeFileSync(path.join(dir, 'moving.yaml'), blip2Yaml('1.0e-3'));
  expect(await trainCommand(path.join(dir, 'moving.yaml'), { out: moving, backend: 'wasm' })).toBe(0);
  const moved = weightsOf(moving);
  for (const n of vit) expect([n, floats(moved.get(n))]).toEqual([n, floats(blip.get(n))]);
  expect(maxDiff(moved.get('Qformer.bert.encoder.layer.0.intermediate_query.dense.weight'), blip.get('text_encoder.encoder.layer.0.intermediate.dense.weight'))).toBeGreaterThan(1e-5);
  const steps = JSON.parse(fs.readFileSync(path.join(latestCheckpoint(moving)!, 'meta.json'), 'utf8')).history as { parts: Record<string, number> }[];
  expect(steps.length).toBe(2);
  for (const s of steps) for (const k of ['itc', 'itm', 'itg']) expect(Number.isFinite(s.parts[k])).toBe(true);
}, 300_000);
