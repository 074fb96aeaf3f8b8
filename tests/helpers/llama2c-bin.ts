import type { RawTensor } from '@mmzoo/core';
import { readCase } from './fixtures';

/**
 * A llama2.c .bin of the llama-tiny golden's sizes from llama2.c-named tensors, in export.py legacy_export's order
 * (header, then each kind for all layers; the RoPE tables are filler: loaders recompute them).
 * @param tied the header's sign convention: a positive vocab_size means the output shares the embedding
 */
export function llama2cBin(weights: Map<string, RawTensor>, tied: boolean): Uint8Array {
  const a = readCase('llama-tiny').config.model_args;
  const g = (n: string) => weights.get(n)!.data as Float32Array;
  const hidden = weights.get('layers.0.feed_forward.w1.weight')!.shape[0];
  const parts: Float32Array[] = [g('tok_embeddings.weight')];
  for (const kind of ['attention_norm', 'attention.wq', 'attention.wk', 'attention.wv', 'attention.wo', 'ffn_norm', 'feed_forward.w1', 'feed_forward.w2', 'feed_forward.w3']) {
    for (let l = 0; l < a.n_layers; l++) parts.push(g(`layers.${l}.${kind}.weight`));
  }
  const headDim = a.dim / a.n_heads;
  parts.push(g('norm.weight'), new Float32Array(a.max_seq_len * headDim / 2).fill(7), new Float32Array(a.max_seq_len * headDim / 2).fill(7));
  if (!tied) parts.push(g('output.weight'));
  const header = new Int32Array([a.dim, hidden, a.n_layers, a.n_heads, a.n_kv_heads, tied ? a.vocab_size : -a.vocab_size, a.max_seq_len]);
  const floats = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((off, p) => (floats.set(p, off), off + p.length), 0);
  return new Uint8Array(Buffer.concat([Buffer.from(header.buffer), Buffer.from(floats.buffer)]));
}
