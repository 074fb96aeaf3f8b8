import { tf, Tensor, greedyGenerate } from '@mmzoo/core';
import type { CausalLM, Module } from '@mmzoo/core';
import { expectClose, expectGradClose } from './fixtures';

// Checks shared by the decoder-LM golden tests (llama-tiny, gpt2-tiny): their case.json files record the same
// fields (inputs.tokens / prompt; outputs.loss, generated_ids, generation_step_logits; grads by parameter name).

type Lm = Module & CausalLM;

/** The golden's loss and the grads of each parameter golden.grads names (DESIGN.md tolerances). */
export function expectGoldenGrads(model: Lm, golden: any, loss: (logits: Tensor) => Tensor): void {
  tf.tidy(() => {
    const params = model.namedParameters();
    const names = Object.keys(golden.grads);
    const ids = tf.tensor2d(golden.inputs.tokens, undefined, 'int32');
    const { value, grads } = tf.variableGrads(() => loss(model.forward(ids).logits) as tf.Scalar, names.map((n) => params.get(n)!));
    expectClose(value, golden.outputs.loss, 'loss');
    for (const n of names) expectGradClose(grads[params.get(n)!.name], golden.grads[n], `grad ${n}`);
  });
}

/** Greedy decoding of golden.inputs.prompt for 8 tokens: the golden ids and step logits, and no tensor left behind. */
export function expectGoldenGeneration(model: Lm, golden: any, useCache: boolean): void {
  const before = tf.memory().numTensors;
  const out = greedyGenerate(model, golden.inputs.prompt, { maxNewTokens: 8, useCache });
  expect(tf.memory().numTensors).toBe(before);
  expect(out.ids).toEqual(golden.outputs.generated_ids);
  tf.tidy(() => expectClose(tf.tensor1d(out.stepLogits[0].flatMap((r) => Array.from(r))), golden.outputs.generation_step_logits, 'generation_step_logits'));
}

/** Three forward passes plus loss on golden.inputs.tokens (after a warm-up) leave the tensor count unchanged. */
export function expectNoForwardLeak(model: Lm, golden: any, loss: (logits: Tensor) => Tensor): void {
  const ids = tf.tensor2d(golden.inputs.tokens, undefined, 'int32');
  tf.tidy(() => loss(model.forward(ids).logits)); // warm-up
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) tf.dispose(tf.tidy(() => loss(model.forward(ids).logits)));
  expect(tf.memory().numTensors).toBe(before);
  ids.dispose();
}

/** Each position's NLL of its (already shifted) target, 0 where the target is -1: float32 [B, T]. */
export function perPositionNll(logits: Tensor, targets: Tensor): Tensor {
  return tf.tidy(() => {
    const vocab = logits.shape[logits.rank - 1];
    return tf.oneHot(targets.maximum(0).toInt(), vocab).mul(tf.logSoftmax(logits)).sum(-1).neg().mul(targets.notEqual(-1).toFloat());
  });
}
