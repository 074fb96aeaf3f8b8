import { IMAGE_TOKEN_INDEX, tf } from '@mmzoo/core';
import type { CausalGenerateResult } from '@mmzoo/core';
import type { BridgeConfigInput } from '@mmzoo/blip2';
import { expectClose } from './fixtures';

// What the three stage-2 bridge goldens (tests/fixtures/blip2-opt-tiny, instructblip-tiny, minigpt4-tiny) share: the
// ViT and Q-Former sections of a bridge config from their LAVIS configs, the label layouts, the step-logit check.

/**
 * The `vision`, `lnVisionEps` and `qformer` sections of a bridge config mirroring a golden's `config.vit` /
 * `config.qformer` (LAVIS's EVA ViT at tiny size, all blocks, no final norm, q/v biases; its BERT Q-Former config).
 * @param config the golden's case.json `config`
 * @param qformerText whether the Q-Former keeps its text side (InstructBLIP), which fixes its word-table rows
 */
export function bridgeVisionQformer(config: any, qformerText: boolean): Pick<BridgeConfigInput, 'vision' | 'lnVisionEps' | 'qformer'> {
  const v = config.vit;
  const q = config.qformer;
  return {
    vision: {
      imageSize: v.image_size, patchSize: v.patch_size, channels: 3, width: v.width, layers: v.depth, numHeads: v.heads, mlpRatio: v.mlp_hidden / v.width,
      lnEps: v.layer_norm_eps, featureLayer: -1, finalNorm: false, attnBias: 'qv',
    },
    lnVisionEps: v.ln_vision_eps,
    qformer: {
      contextLength: q.max_position_embeddings, vocabSize: qformerText ? q.vocab_size : undefined, width: q.hidden_size, layers: q.num_hidden_layers,
      numHeads: q.num_attention_heads, mlpRatio: q.intermediate_size / q.hidden_size, numQueries: config.num_query_tokens,
      crossAttentionFreq: q.cross_attention_freq, lnEps: q.layer_norm_eps, maskValue: -10000, padId: q.pad_token_id,
    },
  };
}

/** A golden's targets (`targets[:, t]` the token at t, scored by logits t - 1) as shifted labels: `labels[:, t]` = targets[:, t + 1]. */
export function shiftedLabels(targets: number[][]): number[][] {
  return targets.map((row) => [...row.slice(1), -100]);
}

/**
 * The labels of `lm` ids whose placeholder at `at` becomes `n` image positions, such that core spliceImageEmbeds
 * gives `spliced` back (its image positions but the last must be -100): the inverse of the splice.
 */
export function unsplicedLabels(spliced: number[], at: number, n: number): number[] {
  if (spliced.slice(at, at + n - 1).some((t) => t !== -100)) throw new Error('unsplicedLabels: an image position other than the last is labelled');
  return [...spliced.slice(0, at), spliced[at + n - 1], ...spliced.slice(at + n)];
}

/** A prompt row with the image placeholder between `before` and `after`. */
export function imagePrompt(before: number[], after: number[]): number[] {
  return [...before, IMAGE_TOKEN_INDEX, ...after];
}

/** Each row's step logits against the golden's, given `[steps][B][V]` (batched traces) or `[B][steps][V]` (per row). */
export function expectStepLogits(result: CausalGenerateResult, ref: number[][][], layout: 'steps-first' | 'rows-first', what: string): void {
  result.stepLogits!.forEach((row, b) => tf.tidy(() => {
    const expected = layout === 'steps-first' ? ref.map((step) => step[b]) : ref[b];
    expectClose(tf.tensor2d(row.map((l) => Array.from(l))), expected, `${what} row ${b} step_logits`);
  }));
}
