import * as fs from 'fs';
import * as path from 'path';
import { parseSafetensors, RawTensor } from '@mmzoo/core/io';

/**
 * What the tests that train a bridge through `mmzoo train` share (tests/blip2/bridge-train, visualglm-train): the tiny
 * LLaMA of the prerequisite LM run, that run's config, and reading checkpoints back.
 */

/** The `model:` body of the tiny LLaMA (no indentation): dim 32, 4 heads over 2 kv heads, context 96. */
export function tinyLlama(layers: number): string {
  return `name: llama
dim: 32
layers: ${layers}
numHeads: 4
numKvHeads: 2
multipleOf: 16
maxSeqLen: 96`;
}

/** `text` indented by `n` spaces, line by line. */
export function indent(text: string, n: number): string {
  return text.replace(/^/gm, ' '.repeat(n));
}

/** A two-step run of the LM `lm` (a `model:` body) on a few WordNet glosses with a 400-token BPE: the frozen LM's. */
export function lmRunYaml(lm: string): string {
  return `model:
${indent(lm, 2)}
tokenizers:
  text:
    kind: bpe
    vocabSize: 400
data:
  dataset: text
  trainLimit: 200
  text:
    brown: false
    heldOutLimit: 5
train: { batchSize: 8, steps: 2, lr: 1.0e-3 }
eval: { every: 0 }
`;
}

/** The tensors of a checkpoint folder's `file`, by name. */
export function tensorsAt(checkpoint: string, file = 'model.safetensors'): Map<string, RawTensor> {
  return parseSafetensors(new Uint8Array(fs.readFileSync(path.join(checkpoint, file))));
}

/** A float32 tensor's values as an array (empty for a missing one), for exact comparisons. */
export function floats(t: RawTensor | undefined): number[] {
  return Array.from((t?.data ?? []) as Float32Array);
}
