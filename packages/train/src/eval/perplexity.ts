/**
 * Held-out perplexity of a causal language model (issue 16, "Done when"), over the same sequences and tokens the
 * Kneser-Ney baselines score (eval/kneser-ney.ts): every id of each sequence but its first.
 */
import { causalLmLoss, tf } from '@mmzoo/core';
import type { CausalLM } from '@mmzoo/core';
import { sequenceWindows, windowBatch } from '../data/text-batches';
import type { Perplexity } from './kneser-ney';

/** Options of {@link causalLmPerplexity}. */
export interface CausalLmPerplexityOptions {
  /** window length (the model's context; at most its maxSeqLen) */
  contextLength: number;
  /** the id padding short windows (not scored) */
  padId: number;
  /** at most this many positions (windows x their longest) per forward pass (default 2048: on 2 cores, larger batches ran slower) */
  tokensPerBatch?: number;
}

/**
 * Perplexity of `model` on `sequences`: each cut into windows of contextLength + 1 ids overlapping by one
 * (data/text-batches `sequenceWindows`), so each id but a sequence's first is scored once, with the ids before it in
 * its window as context (at a window's start, less context than the sequence has). Windows are scored longest first,
 * in forward passes of at most `tokensPerBatch` positions, padded on the right (causal attention: padding never reaches
 * a scored position).
 * @returns exp(mean next-token negative log-likelihood), the mean in nats, the number of scored tokens
 * @throws Error when nothing is scored (every sequence shorter than 2 ids) or contextLength exceeds model.maxSeqLen
 */
export function causalLmPerplexity(model: CausalLM, sequences: readonly Int32Array[], opts: CausalLmPerplexityOptions): Perplexity {
  const { contextLength, padId } = opts;
  if (contextLength > model.maxSeqLen) throw new Error(`perplexity: contextLength ${contextLength} exceeds the model's maxSeqLen ${model.maxSeqLen}`);
  const windows = sequences.flatMap((s) => sequenceWindows(s, contextLength)).sort((a, b) => b.length - a.length);
  const budget = opts.tokensPerBatch ?? 2048;
  let nll = 0;
  let tokens = 0;
  for (let s = 0; s < windows.length;) {
    const len = windows[s].length - 1;
    const e = Math.min(windows.length, s + Math.max(1, Math.floor(budget / len)));
    const { text, labels, counted } = windowBatch(windows.slice(s, e), len, padId);
    const mean = tf.tidy(() => {
      const ids = tf.tensor2d(text, [e - s, len], 'int32');
      return causalLmLoss(model.forward(ids).logits, tf.tensor2d(labels, [e - s, len], 'int32'), { shifted: true });
    });
    nll += mean.dataSync()[0] * counted;
    mean.dispose();
    tokens += counted;
    s = e;
  }
  if (tokens === 0) throw new Error('perplexity: no token to score (every sequence has fewer than 2 ids)');
  return { perplexity: Math.exp(nll / tokens), nll: nll / tokens, tokens };
}
