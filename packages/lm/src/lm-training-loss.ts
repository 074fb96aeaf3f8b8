import { tf, causalLmLoss } from '@mmzoo/core';
import type { Batch, CausalLM, LossOutput } from '@mmzoo/core';

/**
 * The causal-LM objective of a decoder LM on a batch (core `causalLmLoss`, mean over the counted tokens), what
 * LLaMA, GPT-2 and OPT train with: `text` int32 [B, L] ids and `labels` int32 [B, L], `labels[:, t]` the target of
 * position t (already shifted: the id after `text[:, t]`; -100 not scored), with an optional `lossMask` float32
 * [B, L]. Without `labels`, `text` is its own target, shifted here (Hugging Face's convention: position t predicts
 * `text[:, t + 1]`).
 * @param model the decoder (its `forward` gives the logits float32 [B, L, V])
 * @param batch the batch's `text`, `labels` and `lossMask`
 * @param modelName names the model in the error message ('Llama', 'Gpt2', 'Opt')
 * @returns `{ total, parts: { clm } }`, float32 scalars (the same tensor)
 * @throws Error `<modelName>.trainingLoss: the batch has no text ids`, or as causalLmLoss for labels / lossMask of
 *   another shape
 */
export function clmTrainingLoss(model: CausalLM, batch: Pick<Batch, 'text' | 'labels' | 'lossMask'>, modelName: string): LossOutput {
  const { text, labels, lossMask } = batch;
  if (!text) throw new Error(`${modelName}.trainingLoss: the batch has no text ids`);
  const clm = tf.tidy(() => causalLmLoss(model.forward(text).logits, labels ?? text, { lossMask, shifted: labels !== undefined }));
  return { total: clm, parts: { clm } };
}
