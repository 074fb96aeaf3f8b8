import * as fs from 'fs';
import * as path from 'path';
import { parse } from 'yaml';
import { componentCounts, tf, withShapesOnly } from '@mmzoo/core';
import { blip2Spec } from '@mmzoo/blip2';

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
  expect(counts).toEqual({ vision: VISION, lnVision: LN_VISION, qformer: QFORMER, heads: HEADS });
  expect(QFORMER + HEADS + LN_VISION).toBe(186_705_470);
  expect(doc.frozen).toEqual(['vision']);
  expect(doc.reference.params).toBe(188_000_000);
  expect(tf.memory().numTensors).toBe(before);
});
