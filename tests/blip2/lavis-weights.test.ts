import { RawTensor, fromTensor, manualSeed, tf } from '@mmzoo/core';
import { Blip2ConfigInput, buildBlip2, lavisBlip2Name, loadLavisBlip2 } from '@mmzoo/blip2';
import { useBackend } from '../helpers/fixtures';

// A LAVIS Blip2Qformer state dict (EVA ViT names, class token and position table with their size-1 axes, the tied
// decoder weight stored again, position_ids buffers) loads into the model under LAVIS's own names.

beforeAll(() => useBackend('cpu'));

const CONFIG: Blip2ConfigInput = {
  name: 'blip2', embedDim: 8,
  vision: { imageSize: 8, patchSize: 4, channels: 3, width: 8, layers: 3, numHeads: 2, featureLayer: -2 },
  qformer: { contextLength: 6, vocabSize: 20, width: 8, layers: 2, numHeads: 2, numQueries: 2 },
};

/** core ViT name -> EVA's (LAVIS eva_vit.py), written out here independently of timmVitName */
function evaName(core: string): string {
  const fixed: Record<string, string> = { class_embedding: 'cls_token', positional_embedding: 'pos_embed', 'conv1.weight': 'patch_embed.proj.weight', 'conv1.bias': 'patch_embed.proj.bias' };
  if (core in fixed) return fixed[core];
  const [, i, rest] = /^transformer\.resblocks\.(\d+)\.(.+)$/.exec(core)!;
  const inner: Record<string, string> = {
    'ln_1.weight': 'norm1.weight', 'ln_1.bias': 'norm1.bias', 'ln_2.weight': 'norm2.weight', 'ln_2.bias': 'norm2.bias',
    'attn.in_proj_weight': 'attn.qkv.weight', 'attn.q_bias': 'attn.q_bias', 'attn.v_bias': 'attn.v_bias', 'attn.out_proj.weight': 'attn.proj.weight',
    'attn.out_proj.bias': 'attn.proj.bias', 'mlp.c_fc.weight': 'mlp.fc1.weight', 'mlp.c_fc.bias': 'mlp.fc1.bias', 'mlp.c_proj.weight': 'mlp.fc2.weight', 'mlp.c_proj.bias': 'mlp.fc2.bias',
  };
  return `blocks.${i}.${inner[rest]}`;
}

test('loads a LAVIS stage-1 state dict: EVA names, 39-of-40-style truncated ViT, tied decoder weight skipped', () => {
  manualSeed(1);
  const source = buildBlip2(CONFIG);
  const lavis = new Map<string, RawTensor>();
  for (const [name, v] of source.namedParameters()) {
    const raw = fromTensor(v, name);
    const m = /^visual_encoder\.(.+)$/.exec(name);
    if (!m) lavis.set(name, raw);
    else if (m[1] === 'class_embedding') lavis.set('visual_encoder.cls_token', { ...raw, shape: [1, 1, 8] });
    else if (m[1] === 'positional_embedding') lavis.set('visual_encoder.pos_embed', { ...raw, shape: [1, 5, 8] });
    else lavis.set(`visual_encoder.${evaName(m[1])}`, raw);
  }
  expect(lavis.has('visual_encoder.blocks.1.attn.q_bias')).toBe(true);
  expect(lavis.has('visual_encoder.blocks.2.attn.q_bias')).toBe(false);
  lavis.set('Qformer.cls.predictions.decoder.weight', lavis.get('Qformer.bert.embeddings.word_embeddings.weight')!);
  lavis.set('Qformer.bert.embeddings.position_ids', { dtype: 'I64', shape: [1, 6], data: new BigInt64Array(6) });
  expect(lavisBlip2Name('visual_encoder.blocks.0.norm1.weight')).toBe('visual_encoder.transformer.resblocks.0.ln_1.weight');

  manualSeed(2);
  const target = buildBlip2(CONFIG);
  const res = loadLavisBlip2(target, lavis);
  expect(res.skipped.sort()).toEqual(['Qformer.bert.embeddings.position_ids', 'Qformer.cls.predictions.decoder.weight']);
  expect(res.loaded.length).toBe(source.namedParameters().size);
  const a = source.namedParameters();
  for (const [name, v] of target.namedParameters()) expect([name, Array.from(v.dataSync())]).toEqual([name, Array.from(a.get(name)!.dataSync())]);
  tf.tidy(() => {
    const images = tf.randomUniform([1, 3, 8, 8], 0, 1, 'float32', 5);
    expect(Array.from(target.encodeImage(images).dataSync())).toEqual(Array.from(source.encodeImage(images).dataSync()));
  });
  source.dispose();
  target.dispose();
});
