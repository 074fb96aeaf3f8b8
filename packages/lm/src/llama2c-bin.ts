import type { RawTensor } from '@mmzoo/core';
import { LlamaConfigSchema } from './llama-config';
import type { LlamaConfig } from './llama-config';
import { issuesLine } from './hf-config-reader';

/** A parsed llama2.c `.bin` checkpoint: its config and its tensors in llama2.c's `model.py` names. */
export interface Llama2cCheckpoint {
  config: LlamaConfig;
  tensors: Map<string, RawTensor>;
}

const HEADER_INTS = 7;

/**
 * Parses a llama2.c `.bin` checkpoint (karpathy/llama2.c `export.py` legacy_export, version 0; read by `run.c`
 * `read_checkpoint` / `memory_map_weights`): a header of 7 little-endian int32 (dim, hidden_dim, n_layers, n_heads,
 * n_kv_heads, vocab_size, seq_len; a negative vocab_size means an untied classifier), then float32 tensors, each
 * for all layers in turn: tok_embeddings [V, dim]; attention_norm [dim]; wq [H hd, dim]; wk, wv [KV hd, dim];
 * wo [dim, H hd]; ffn_norm [dim]; w1 [hidden, dim]; w2 [dim, hidden]; w3 [hidden, dim]; norm [dim]; two RoPE tables
 * of seq_len * hd / 2 (skipped); output [V, dim] when untied. q/k rows are in the interleaved RoPE layout; RMSNorm
 * eps is llama2.c's 1e-5.
 * @param bytes the whole file
 * @param source names the file in error messages
 * @returns the config (`ropeLayout: 'interleaved'`) and the tensors, for loadLlamaWeights(model, tensors, 'llama2c')
 * @throws Error (one line, naming the file) for a short header, sizes that are not positive or do not divide, or a
 *   file size other than the header's sizes imply
 */
export function parseLlama2cBin(bytes: Uint8Array, source = 'llama2.c checkpoint'): Llama2cCheckpoint {
  const fail = (msg: string): never => {
    throw new Error(`${source}: ${msg}`);
  };
  if (bytes.byteLength < HEADER_INTS * 4) fail(`${bytes.byteLength} bytes is shorter than the 28-byte llama2.c header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const [dim, hiddenDim, layers, numHeads, numKvHeads, signedVocab, seqLen] = Array.from({ length: HEADER_INTS }, (_, i) => view.getInt32(4 * i, true));
  const vocab = Math.abs(signedVocab);
  const header = `dim ${dim}, hidden_dim ${hiddenDim}, n_layers ${layers}, n_heads ${numHeads}, n_kv_heads ${numKvHeads}, vocab_size ${signedVocab}, seq_len ${seqLen}`;
  if (![dim, hiddenDim, layers, numHeads, numKvHeads, vocab, seqLen].every((v) => v > 0) || dim % numHeads !== 0 || numHeads % numKvHeads !== 0) {
    fail(`the header (${header}) is not a llama2.c model`);
  }
  const parsed = LlamaConfigSchema.safeParse({
    name: 'llama', dim, layers, numHeads, numKvHeads, vocabSize: vocab, hiddenDim, maxSeqLen: seqLen, tiedEmbeddings: signedVocab > 0,
  });
  const config = parsed.success ? parsed.data : fail(`the header (${header}): ${issuesLine(parsed.error)}`);
  const hd = dim / numHeads;
  const kv = numKvHeads * hd;
  const perLayer: [string, number[]][] = [
    ['attention_norm.weight', [dim]], ['attention.wq.weight', [dim, dim]], ['attention.wk.weight', [kv, dim]], ['attention.wv.weight', [kv, dim]],
    ['attention.wo.weight', [dim, dim]], ['ffn_norm.weight', [dim]], ['feed_forward.w1.weight', [hiddenDim, dim]],
    ['feed_forward.w2.weight', [dim, hiddenDim]], ['feed_forward.w3.weight', [hiddenDim, dim]],
  ];
  const order: [string | null, number[]][] = [['tok_embeddings.weight', [vocab, dim]]];
  for (const [name, shape] of perLayer) for (let l = 0; l < layers; l++) order.push([`layers.${l}.${name}`, shape]);
  order.push(['norm.weight', [dim]], [null, [seqLen * hd / 2]], [null, [seqLen * hd / 2]]);
  if (signedVocab < 0) order.push(['output.weight', [vocab, dim]]);
  const floats = order.reduce((n, [, shape]) => n + shape.reduce((a, b) => a * b, 1), 0);
  const expected = HEADER_INTS * 4 + 4 * floats;
  if (bytes.byteLength !== expected) fail(`${bytes.byteLength} bytes, but the header (${header}) implies ${expected}`);
  const tensors = new Map<string, RawTensor>();
  let offset = HEADER_INTS * 4;
  for (const [name, shape] of order) {
    const n = shape.reduce((a, b) => a * b, 1);
    if (name) {
      const data = new Float32Array(n);
      for (let i = 0; i < n; i++) data[i] = view.getFloat32(offset + 4 * i, true);
      tensors.set(name, { dtype: 'F32', shape, data });
    }
    offset += 4 * n;
  }
  return { config, tensors };
}
