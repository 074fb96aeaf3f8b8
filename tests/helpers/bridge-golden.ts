import { IMAGE_TOKEN_INDEX, Tensor, spliceImageEmbeds, tf } from '@mmzoo/core';
import type { CausalGenerateResult, LoadStateDictResult, LossOutput } from '@mmzoo/core';
import { bridgeWeightName, buildQFormerBridge, loadBridgeWeights } from '@mmzoo/blip2';
import type { BridgeConfig, BridgeConfigInput, BridgeWeightsSource, QFormerBridge } from '@mmzoo/blip2';
import { expectClose, expectGradClose, readCase, readWeights, useBackend } from './fixtures';
import { disposeAll, stepGrads } from './step-grads';

// What the three stage-2 bridge goldens (tests/fixtures/blip2-opt-tiny, instructblip-tiny, minigpt4-tiny) share: the
// ViT and Q-Former sections of a bridge config from their LAVIS configs, the label layouts, the loaded bridge with one
// training step, and the checks every golden makes of it.

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
    // vocabSize: BERT's 100 words; the builder adds the row of [DEC] (LAVIS's 101)
    qformer: {
      contextLength: q.max_position_embeddings, vocabSize: qformerText ? q.vocab_size - 1 : undefined, width: q.hidden_size, layers: q.num_hidden_layers,
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

/** One golden's bridge as its describe block shares it (see {@link useGoldenBridge}). */
export interface GoldenBridge {
  model: QFormerBridge;
  /** what loadBridgeWeights reported, and how many tensors the fixture stores */
  res: LoadStateDictResult;
  stored: number;
  /** trainingLoss of the golden's batch, and the gradients of the tensors the golden records (golden names) */
  loss: LossOutput;
  grads: Map<string, Tensor>;
}

/**
 * Registers a golden describe block's beforeAll / afterAll: switch to `backend`, build the bridge from `config` (the
 * LM tokenizer's pad id `lmPadId`), load the fixture's weights as `source`, run trainingLoss on `batch()` under the
 * gradients of every tensor the golden records (its names mapped by bridgeWeightName); afterwards dispose it all.
 * @returns the state, once beforeAll has run
 */
export function useGoldenBridge(
  backend: string, fixture: string, config: BridgeConfig, source: BridgeWeightsSource, lmPadId: number, batch: () => Record<string, Tensor>,
): () => GoldenBridge {
  let state: GoldenBridge;
  beforeAll(async () => {
    await useBackend(backend);
    const model = buildQFormerBridge(config, { tokenizers: { lm: { vocabSize: config.lm.vocabSize!, padId: lmPadId } } });
    const weights = readWeights(fixture);
    const res = loadBridgeWeights(model, weights, source);
    const inputs = batch();
    const names = Object.keys(readCase(fixture).grads);
    const run = stepGrads(model, names, () => model.trainingLoss(inputs), (o: LossOutput) => o.total, (n) => bridgeWeightName(n, source));
    tf.dispose(Object.values(inputs));
    state = { model, res, stored: weights.size, loss: run.out, grads: run.grads };
  });
  afterAll(() => {
    disposeAll(state.loss);
    state.grads.forEach((g) => g.dispose());
    state.model.dispose();
  });
  return () => state;
}

/** Every stored tensor loaded but the `skipped` buffers, and every variable of the bridge given. */
export function expectLoadedAll(g: GoldenBridge, skipped: string[]): void {
  expect([...g.res.skipped].sort()).toEqual([...skipped].sort());
  expect(g.res.loaded.length).toBe(g.stored - skipped.length);
  expect(new Set(g.res.loaded)).toEqual(new Set(g.model.namedParameters().keys()));
}

/**
 * The golden's loss (`outputs.loss` over `outputs.loss_token_count` labels) through trainingLoss, and every recorded
 * gradient within tolerance (a zero golden gradient must be exactly zero here too).
 * @param labels the batch's labels (their counted entries are checked against the golden's count)
 */
export function expectGoldenLoss(g: GoldenBridge, golden: any, labels: number[][]): void {
  expect(labels.flat().filter((t) => t !== -100).length).toBe(golden.outputs.loss_token_count);
  expectClose(g.loss.total, golden.outputs.loss, 'loss');
  for (const [name, ref] of Object.entries(golden.grads)) {
    const grad = g.grads.get(name)!;
    if ([ref].flat(4).every((v) => v === 0)) expect(tf.tidy(() => tf.abs(grad).max().dataSync()[0])).toBe(0);
    else expectGradClose(grad, ref, `grad ${name}`);
  }
}

/**
 * The soft prompt spliced into `ids` (core spliceImageEmbeds, as trainingLoss does) against the golden's
 * `inputs_embeds`, `attention_mask` and (shifted) `targets`, then the logits of the LM's forward from them under that
 * mask at `positions(mask)` against `logits`.
 * @param ids [B][L] rows with one placeholder; `mask` and `labels` alike
 * @param softPrompt float32 [B, N, D] (disposed here)
 * @param positions the reference's position ids (int32 [B or 1, L + N - 1]) from the spliced mask
 */
export function expectSplicedForward(
  model: QFormerBridge, inputs: { ids: number[][]; mask: number[][]; labels: number[][]; softPrompt: Tensor }, outputs: any,
  positions: (mask: Tensor) => Tensor,
): void {
  tf.tidy(() => {
    const spliced = spliceImageEmbeds(model.lm, tf.tensor2d(inputs.ids, undefined, 'int32'), inputs.softPrompt, {
      attentionMask: tf.tensor2d(inputs.mask, undefined, 'int32'), labels: tf.tensor2d(inputs.labels, undefined, 'int32'),
    });
    expectClose(spliced.embeds, outputs.inputs_embeds, 'inputs_embeds');
    expect(spliced.attentionMask!.arraySync()).toEqual(outputs.attention_mask);
    expect(spliced.labels!.arraySync()).toEqual(shiftedLabels(outputs.targets));
    const { logits } = model.lm.forward(spliced.embeds, { attentionMask: spliced.attentionMask, positionIds: positions(spliced.attentionMask!) });
    expectClose(logits, outputs.logits, 'logits');
    inputs.softPrompt.dispose();
  });
}

/** Positions 0, 1, ... for every row (the bridges' references in training: LLaMA without position_ids). */
export function arangePositions(mask: Tensor): Tensor {
  return tf.range(0, mask.shape[1]!, 1, 'int32').reshape([1, -1]);
}

/** A trainingLoss call on a fresh `batch()` plus `generate()` leave the tensor count unchanged (after a warm-up). */
export function expectNoLeak(model: QFormerBridge, batch: () => Record<string, Tensor>, generate: () => unknown): void {
  const once = () => {
    const inputs = batch();
    tf.dispose(Object.values(model.trainingLoss(inputs).parts));
    tf.dispose(Object.values(inputs));
    generate();
  };
  once();
  const before = tf.memory().numTensors;
  once();
  expect(tf.memory().numTensors).toBe(before);
}
