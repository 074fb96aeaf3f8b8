import * as fs from 'fs';
import * as path from 'path';
import { parse } from 'yaml';
import { componentCounts, tf, withShapesOnly } from '@mmzoo/core';
import { blip2Spec, visualGlmSpec } from '@mmzoo/blip2';

// configs/blip2/pretrain-stage1.yaml counted by a shape-only build, against the sizes of LAVIS's stage-1 Blip2Qformer
// added up by hand from its modules (bert-base with [DEC], cross-attention to width 1408 in 6 of 12 layers, a query
// FFN in each, 32 queries, the tied ITG head, projections to 256) and of EVA ViT-g/14 with 39 of its 40 blocks.
const FILE = path.join(__dirname, '..', '..', 'configs', 'blip2', 'pretrain-stage1.yaml');

const D = 768;
const linear = (i: number, o: number) => i * o + o;
const ln = (d: number) => 2 * d;
const ffn = linear(D, 3072) + linear(3072, D) + ln(D);
const selfAttn = 4 * linear(D, D) + ln(D);
const crossAttn = 2 * linear(D, D) + 2 * linear(1408, D) + ln(D);
const layer = selfAttn + 2 * ffn;
const QFORMER = 30523 * D + 512 * D + ln(D) + 6 * (layer + crossAttn) + 6 * layer + 32 * D;
const HEADS = linear(D, D) + ln(D) + 30523 + 2 * linear(D, 256) + linear(D, 2) + 1;
const LN_VISION = ln(1408);
const W = 1408;
const EVA_BLOCK = ln(W) + 3 * W * W + 2 * W + linear(W, W) + ln(W) + linear(W, 6144) + linear(6144, W);
const VISION = W * 3 * 14 * 14 + W + W + 257 * W + 39 * EVA_BLOCK;

test('the stage-1 preset counts as LAVIS\'s modules add up: 186,705,470 trainable, the ViT frozen', () => {
  const doc = parse(fs.readFileSync(FILE, 'utf8'));
  const cfg = blip2Spec.schema.parse(doc.model);
  const before = tf.memory().numTensors;
  const model = withShapesOnly(() => blip2Spec.build(cfg, {}));
  const counts = componentCounts(model, blip2Spec.components(cfg));
  // the Q-Former's text side (word and position tables, each layer's text FFN) is a component of its own
  const text = 30523 * D + 512 * D + 12 * ffn;
  expect(counts).toEqual({ vision: VISION, lnVision: LN_VISION, qformer: QFORMER - text, qformerText: text, heads: HEADS });
  expect(QFORMER + HEADS + LN_VISION).toBe(186_705_470);
  expect(doc.frozen).toEqual(['vision']);
  expect(doc.reference.params).toBe(188_000_000);
  expect(tf.memory().numTensors).toBe(before);
});

// configs/blip2/visualglm-6b.yaml: the same image side (assumed BLIP-2's), the Q-Former without its text side (queries,
// embeddings LayerNorm, per layer self-attention and the query FFN, cross-attention in every other layer), glm_proj,
// the LLaMA stand-in at ChatGLM-6B's sizes (tied output) and rank-10 LoRA on q, k, v, o of layers 0 and 14; counted
// whole (no frozen:) against the README's 7.8B.
const LM_D = 4096;
const LM_F = 16384;
const LM = 130528 * LM_D + 28 * (4 * LM_D * LM_D + 3 * LM_D * LM_F + 2 * LM_D) + LM_D;
const QUERIES_ONLY = 32 * D + ln(D) + 6 * (selfAttn + ffn + crossAttn) + 6 * (selfAttn + ffn);

test('the VisualGLM-6B preset counts as its parts add up: 9,145,933,696 against the published 7.8B', () => {
  const doc = parse(fs.readFileSync(path.join(__dirname, '..', '..', 'configs', 'blip2', 'visualglm-6b.yaml'), 'utf8'));
  const cfg = visualGlmSpec.schema.parse(doc.model);
  const before = tf.memory().numTensors;
  const model = withShapesOnly(() => visualGlmSpec.build(cfg, {}));
  const counts = componentCounts(model, visualGlmSpec.components(cfg));
  expect(counts).toEqual({
    vision: VISION, lnVision: LN_VISION, qformer: QUERIES_ONLY, qformerText: 0, projection: linear(D, LM_D), lm: LM, lora: 2 * 4 * (10 * LM_D + LM_D * 10),
  });
  expect(model.numParams()).toBe(9_145_933_696);
  expect(doc.frozen).toBeUndefined();
  expect(doc.reference.params).toBe(7_800_000_000);
  expect(tf.memory().numTensors).toBe(before);
});
