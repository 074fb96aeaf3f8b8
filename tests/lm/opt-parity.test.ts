import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { tf, greedyGenerate, serializeSafetensors, RawTensor } from '@mmzoo/core';
import { Opt, OptConfigSchema, buildOpt, loadOptWeights, optConfigFromHf } from '@mmzoo/lm';
import { loadHfFolder } from '@mmzoo/lm/node';
import { BACKENDS, useBackend } from '../helpers/fixtures';
import { expectAllClose } from '../helpers/finite-diff';

// OPT has no golden: a tiny random OPT in HF OPTForCausalLM names against a float64 re-implementation written here
// from HF modeling_opt.py (pre-LN OPTDecoderLayer, positions read at position + 2, ReLU, tied lm_head).
const D = 32;
const H = 4;
const F = 48;
const V = 50;
const L = 2;
const CTX = 12;
const CONFIG = { name: 'opt' as const, dim: D, layers: L, numHeads: H, vocabSize: V, hiddenDim: F, maxSeqLen: CTX };
const HF_CONFIG = {
  model_type: 'opt', architectures: ['OPTForCausalLM'], hidden_size: D, num_hidden_layers: L, num_attention_heads: H, ffn_dim: F,
  vocab_size: V, max_position_embeddings: CTX, word_embed_proj_dim: D, do_layer_norm_before: true, activation_function: 'relu',
  enable_bias: true, layer_norm_elementwise_affine: true, tie_word_embeddings: true,
};

/** Seeded N(mean, std^2) float32 values (an LCG and Box-Muller), so TS and the reference read the same numbers. */
function normals(n: number, seed: number, std: number, mean = 0): Float32Array {
  let s = seed >>> 0;
  const u = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) + 0.5) / 4294967296;
  return Float32Array.from({ length: n }, () => mean + std * Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u()));
}

/** HF OPTForCausalLM tensors (`model.decoder...` and the tied `lm_head.weight` copy), every value random. */
function randomOptWeights(): Map<string, RawTensor> {
  const w = new Map<string, RawTensor>();
  let seed = 1;
  const add = (name: string, shape: number[], std: number, mean = 0) => w.set(name, { dtype: 'F32', shape, data: normals(shape.reduce((a, b) => a * b, 1), seed++, std, mean) });
  add('model.decoder.embed_tokens.weight', [V, D], 0.5);
  add('model.decoder.embed_positions.weight', [CTX + 2, D], 0.5);
  for (let l = 0; l < L; l++) {
    const p = `model.decoder.layers.${l}.`;
    for (const proj of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) {
      add(`${p}self_attn.${proj}.weight`, [D, D], 0.3);
      add(`${p}self_attn.${proj}.bias`, [D], 0.1);
    }
    for (const ln of ['self_attn_layer_norm', 'final_layer_norm']) {
      add(`${p}${ln}.weight`, [D], 0.1, 1);
      add(`${p}${ln}.bias`, [D], 0.1);
    }
    add(`${p}fc1.weight`, [F, D], 0.3);
    add(`${p}fc1.bias`, [F], 0.1);
    add(`${p}fc2.weight`, [D, F], 0.2);
    add(`${p}fc2.bias`, [D], 0.1);
  }
  add('model.decoder.final_layer_norm.weight', [D], 0.1, 1);
  add('model.decoder.final_layer_norm.bias', [D], 0.1);
  w.set('lm_head.weight', w.get('model.decoder.embed_tokens.weight')!);
  return w;
}

// ---- the float64 reference, one row at a time ----
type Vec = number[];
function linear(x: Vec, w: RawTensor, b?: RawTensor): Vec {
  const [out, inp] = w.shape;
  return Array.from({ length: out }, (_, o) => {
    let s = b ? b.data[o] as number : 0;
    for (let i = 0; i < inp; i++) s += (w.data[o * inp + i] as number) * x[i];
    return s;
  });
}
function layerNorm(x: Vec, w: RawTensor, b: RawTensor): Vec {
  const mean = x.reduce((a, v) => a + v, 0) / x.length;
  const variance = x.reduce((a, v) => a + (v - mean) ** 2, 0) / x.length;
  return x.map((v, i) => ((v - mean) / Math.sqrt(variance + 1e-5)) * (w.data[i] as number) + (b.data[i] as number));
}
function referenceLogits(w: Map<string, RawTensor>, ids: number[]): Vec[] {
  const g = (n: string) => w.get(`model.decoder.${n}`)!;
  const row = (t: RawTensor, r: number) => Array.from(t.data.slice(r * D, (r + 1) * D) as Float32Array);
  let x = ids.map((id, t) => row(g('embed_tokens.weight'), id).map((v, i) => v + row(g('embed_positions.weight'), t + 2)[i]));
  const d = D / H;
  for (let l = 0; l < L; l++) {
    const p = (n: string) => g(`layers.${l}.${n}`);
    const h = x.map((v) => layerNorm(v, p('self_attn_layer_norm.weight'), p('self_attn_layer_norm.bias')));
    const [q, k, v] = ['q', 'k', 'v'].map((n) => h.map((r) => linear(r, p(`self_attn.${n}_proj.weight`), p(`self_attn.${n}_proj.bias`))));
    const attn = x.map((_, t) => {
      const out = new Array<number>(D).fill(0);
      for (let hd = 0; hd < H; hd++) {
        const s = Array.from({ length: t + 1 }, (_, j) => {
          let dot = 0;
          for (let i = hd * d; i < (hd + 1) * d; i++) dot += q[t][i] * k[j][i];
          return dot / Math.sqrt(d);
        });
        const m = Math.max(...s);
        const e = s.map((z) => Math.exp(z - m));
        const z = e.reduce((a, b) => a + b, 0);
        for (let j = 0; j <= t; j++) for (let i = hd * d; i < (hd + 1) * d; i++) out[i] += (e[j] / z) * v[j][i];
      }
      return out;
    });
    x = x.map((r, t) => linear(attn[t], p('self_attn.out_proj.weight'), p('self_attn.out_proj.bias')).map((o, i) => r[i] + o));
    x = x.map((r) => {
      const f = linear(layerNorm(r, p('final_layer_norm.weight'), p('final_layer_norm.bias')), p('fc1.weight'), p('fc1.bias')).map((a) => Math.max(a, 0));
      return linear(f, p('fc2.weight'), p('fc2.bias')).map((o, i) => r[i] + o);
    });
  }
  return x.map((r) => linear(layerNorm(r, g('final_layer_norm.weight'), g('final_layer_norm.bias')), g('embed_tokens.weight')));
}

const weights = randomOptWeights();
const IDS = [[3, 17, 44, 0, 9, 9, 31, 12, 49, 5], [21, 8, 8, 40, 2, 36, 11, 29, 1, 14]];
const REF = IDS.map((r) => referenceLogits(weights, r));
const PROMPTS = [[3, 17, 44, 0], [21, 8], [40]];

function tiny(): Opt {
  const model = buildOpt(OptConfigSchema.parse(CONFIG));
  loadOptWeights(model, weights);
  return model;
}

describe.each(BACKENDS)('OPT against a float64 reference of HF modeling_opt.py (tiny random model) on %s', (backend) => {
  let model: Opt;
  beforeAll(async () => {
    await useBackend(backend);
    model = tiny();
  });
  afterAll(() => model.dispose());

  test('parameter count and names: HF OPTModel names, a position table of maxSeqLen + 2 rows, lm_head tied', () => {
    const params = model.namedParameters();
    expect(params.get('decoder.embed_positions.weight')!.shape).toEqual([CTX + 2, D]);
    expect(params.has('decoder.layers.1.fc2.bias')).toBe(true);
    expect(model.output.tied).toBe(true);
    const perLayer = 4 * (D * D + D) + 2 * 2 * D + (D * F + F) + (F * D + D);
    expect(model.numParams()).toBe(V * D + (CTX + 2) * D + L * perLayer + 2 * D);
    expect(loadOptWeights(model, weights).loaded).toHaveLength(weights.size - 1);
  });

  test('logits of every position match the reference within 1e-4', () => {
    tf.tidy(() => {
      const logits = model.forward(tf.tensor2d(IDS, undefined, 'int32')).logits;
      expectAllClose(logits, REF.flat(2), 'OPT logits', { atol: 1e-4, rtol: 1e-4 });
    });
  });

  test('greedy decoding: the cache equals a full recompute, a left-padded batch equals each prompt alone, and nothing leaks', () => {
    const before = tf.memory().numTensors;
    const cached = greedyGenerate(model, PROMPTS, { maxNewTokens: 6, padId: 1 });
    const recomputed = greedyGenerate(model, PROMPTS, { maxNewTokens: 6, useCache: false, padId: 1 });
    expect(tf.memory().numTensors).toBe(before);
    expect(cached.ids).toEqual(recomputed.ids);
    PROMPTS.forEach((p, r) => {
      const alone = greedyGenerate(model, [p], { maxNewTokens: 6 });
      expect(cached.ids[r]).toEqual(alone.ids[0]);
      alone.stepLogits[0].forEach((l, s) => expectAllClose(cached.stepLogits[r][s], Array.from(l), `row ${r} step ${s}`, { atol: 1e-5, rtol: 1e-4 }));
    });
    // the first step of the unpadded prompt against the reference
    expectAllClose(cached.stepLogits[0][0], referenceLogits(weights, PROMPTS[0])[3], 'step 0 of prompt 0', { atol: 1e-4, rtol: 1e-4 });
  });
});

describe('OPT configs and weights', () => {
  test('the HF config maps onto OptConfig; unsupported variants are one-line errors naming the file and key', () => {
    expect(optConfigFromHf(HF_CONFIG)).toEqual({ ...CONFIG, normEps: 1e-5 });
    const bad = (over: object) => () => optConfigFromHf({ ...HF_CONFIG, ...over }, 'opt/config.json');
    expect(bad({ word_embed_proj_dim: 16 })).toThrow(/^opt\/config.json: word_embed_proj_dim 16 differs from hidden_size 32 \(project_in \/ project_out are not supported\)$/);
    expect(bad({ do_layer_norm_before: false })).toThrow(/^opt\/config.json: do_layer_norm_before false \(post-LN, OPT-350M\) is not supported$/);
    expect(bad({ activation_function: 'gelu' })).toThrow(/^opt\/config.json: activation_function "gelu" is not supported \(OPT uses 'relu'\)$/);
    expect(bad({ model_type: 'gpt2' })).toThrow(/^opt\/config.json: model_type "gpt2" is not 'opt'$/);
    expect(bad({ ffn_dim: 0 })).toThrow(/^opt\/config.json: ffn_dim must be a positive integer, got 0$/);
  });

  test('OPTModel names (no model. prefix) load too; a differing lm_head and a misshapen table are refused', () => {
    const model = buildOpt(OptConfigSchema.parse(CONFIG));
    const bare = new Map([...weights].filter(([n]) => n !== 'lm_head.weight').map(([n, r]) => [n.replace(/^model\./, ''), r] as const));
    expect(loadOptWeights(model, bare).loaded).toHaveLength(weights.size - 1);
    const altered = new Map(weights);
    const emb = weights.get('lm_head.weight')!;
    altered.set('lm_head.weight', { ...emb, data: Float32Array.from(emb.data as Float32Array, (v, i) => (i === 3 ? v + 1 : v)) });
    expect(() => loadOptWeights(model, altered)).toThrow("loadOptWeights: OPT ties lm_head to decoder.embed_tokens, but the checkpoint's lm_head.weight differs from decoder.embed_tokens.weight");
    const short = new Map(weights);
    short.set('model.decoder.embed_positions.weight', { dtype: 'F32', shape: [CTX, D], data: new Float32Array(CTX * D) });
    expect(() => loadOptWeights(model, short)).toThrow(/decoder\.embed_positions\.weight/);
    model.dispose();
  });

  test('an HF folder (config.json + model.safetensors in OPTForCausalLM names) loads through loadHfFolder and gives the reference logits', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmzoo-opt-folder-'));
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(HF_CONFIG));
    fs.writeFileSync(path.join(dir, 'model.safetensors'), serializeSafetensors(weights));
    const { config, model } = loadHfFolder(dir);
    fs.rmSync(dir, { recursive: true, force: true });
    expect(config).toEqual({ ...CONFIG, normEps: 1e-5 });
    expect(model).toBeInstanceOf(Opt);
    tf.tidy(() => expectAllClose(model.forward(tf.tensor2d(IDS, undefined, 'int32')).logits, REF.flat(2), 'OPT logits from a folder', { atol: 1e-4, rtol: 1e-4 }));
    model.dispose();
  });
});
