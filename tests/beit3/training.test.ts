import * as path from 'path';
import { tf } from '@mmzoo/core';
import { AdamW, trainStep } from '@mmzoo/train';
import { buildBeit3, beit3Rename } from '@mmzoo/beit3';
import { loadExperiment } from '../../packages/cli/src/experiment';
import { useBackend } from '../helpers/fixtures';
import { syntheticImageTextBatch } from '../helpers/batches';
import { fitTokenizer, tinyBeit3 } from './fixture';

const ROOT = path.join(__dirname, '..', '..');

const tiny = tinyBeit3;

const batch = (index: number, b = 4) => syntheticImageTextBatch(index, b, { draw: 12, seed: 9 });

describe('BEiT-3 masked data modeling objective', () => {
  beforeAll(() => useBackend('wasm'));

  test('mim, mlm, vlm and itc are finite; one AdamW step reaches every parameter; draws depend only on (seed, index)', () => {
    const model = tiny();
    const b0 = batch(0);
    expect(() => model.trainingLoss(b0)).toThrow(/not been fitted/);
    fitTokenizer(model, b0.image);
    const parts = tf.tidy(() => Object.fromEntries(Object.entries(model.trainingLoss(b0).parts).map(([k, v]) => [k, v.dataSync()[0]])));
    expect(Object.keys(parts).sort()).toEqual(['itc', 'mim', 'mlm', 'vlm']);
    for (const v of Object.values(parts)) expect(Number.isFinite(v)).toBe(true);
    expect(tf.tidy(() => model.trainingLoss(b0).total.dataSync()[0])).toBe(tf.tidy(() => model.trainingLoss(b0).total.dataSync()[0]));
    const b1 = batch(1);
    expect(tf.tidy(() => model.trainingLoss(b1).parts.mim.dataSync()[0])).not.toBe(parts.mim);
    const opt = new AdamW(model.trainableParameters());
    const codebook = model.visualTokenizer!.codebook.dataSync().slice();
    const before = tf.memory().numTensors;
    trainStep(model, opt, [b0], (x) => model.trainingLoss(x), 1e-3);
    expect(tf.memory().numTensors).toBe(before);
    // the tokenizer is a buffer: saved with the model, never trained
    expect(Array.from(model.visualTokenizer!.codebook.dataSync())).toEqual(Array.from(codebook));
    expect([...model.namedParameters().keys()]).toContain('visual_tokenizer.codebook');
    opt.dispose();
    tf.dispose([b0.image, b0.text, b1.image, b1.text]);
    model.dispose();
  });

  test("the paper's layout: shared attention, VL-FFN in the top layers for image-text input only", () => {
    const model = tiny({ layout: 'paper', vlLayers: 1, objectives: { mdm: 0, itc: 0 }, retrievalHeads: false });
    const names = [...model.namedParameters().keys()];
    expect(names).toContain('encoder.blocks.0.attn.q_proj.weight');
    expect(names).toContain('encoder.blocks.1.ffn.vl.c_fc.weight');
    expect(names).not.toContain('encoder.blocks.0.ffn.vl.c_fc.weight');
    expect(beit3Rename('encoder.layers.0.self_attn.q_proj.weight')).toBe('encoder.blocks.0.attn.q_proj.weight');
    expect(beit3Rename('encoder.layers.1.ffn.C.fc1.weight')).toBe('encoder.blocks.1.ffn.vl.c_fc.weight');
    const b = batch(0);
    const vlGrad = (inputs: object) => tf.tidy(() => {
      const v = model.namedParameters().get('encoder.blocks.1.ffn.vl.c_fc.weight')!;
      const { grads } = tf.variableGrads(() => model.forward(inputs).encoderOut.square().mean() as tf.Scalar, [...model.trainableParameters().values()]);
      return grads[v.name] ? grads[v.name].abs().max().dataSync()[0] : 0;
    });
    expect(vlGrad({ images: b.image, ids: b.text })).toBeGreaterThan(0);
    expect(vlGrad({ images: b.image })).toBe(0);
    expect(vlGrad({ ids: b.text })).toBe(0);
    expect(() => buildBeit3({ name: 'beit3', vision: { imageSize: 16, patchSize: 4 }, text: { contextLength: 8, vocabSize: 30 }, width: 16, layers: 2, numHeads: 2, vlLayers: 1 })).toThrow(/layout 'paper'/);
    tf.dispose([b.image, b.text]);
    model.dispose();
  });

  test('the shipped configs validate; the tiny config builds', () => {
    const t = loadExperiment(path.join(ROOT, 'configs/beit3/fmnist-scenes-tiny.yaml'));
    const m = t.spec.build(t.config.model, { vocabSize: 100, eotId: 3 });
    expect(m.numParams()).toBeGreaterThan(100000);
    m.dispose();
    const base = loadExperiment(path.join(ROOT, 'configs/beit3/base.yaml'), [], { modelOnly: true });
    expect(base.config.model).toMatchObject({ width: 768, layers: 12, layout: 'released' });
  });
});
