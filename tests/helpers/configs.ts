/**
 * Tiny experiment configs shared by the CLI tests: small enough that a run, or a bad-input case that reached
 * training by mistake, ends in seconds.
 */

/** A 16-wide CLIP on 256 Fashion-MNIST items and 32 scenes, 6 steps with checkpoints every 3. */
export const TINY_CLIP_YAML = `# tiny test config
model:
  name: clip
  embedDim: 16
  vision: { imageSize: 28, patchSize: 7, channels: 1, width: 16, layers: 1, numHeads: 2 }
  text: { contextLength: 16, width: 16, layers: 1, numHeads: 2, pool: eot }
data:
  trainLimit: 256
  scenes: { train: 32 }
train:
  batchSize: 16
  steps: 6
  lr: 1.0e-3
  checkpointEvery: 3
  logEvery: 2
eval:
  retrievalGallery: 50
  batchSize: 1000
`;

/**
 * A 2-step decoder LM on 200 WordNet glosses (20 held out) with a 300-token BPE, evaluation at the end only.
 * @param model the `model:` section's lines after `model:`, each indented by two spaces (the first line's indent is
 *   written here), e.g. `'name: gpt2\n  dim: 32\n  layers: 2\n  numHeads: 4\n  maxSeqLen: 16'`
 * @param extra top-level sections appended as written (e.g. `init:` and `frozen:`)
 */
export const tinyLmYaml = (model: string, extra = '') => `model:
  ${model}
tokenizers:
  text:
    kind: bpe
    vocabSize: 300
data:
  dataset: text
  trainLimit: 200
  text:
    brown: false
    heldOutLimit: 20
train:
  batchSize: 8
  steps: 2
  lr: 1.0e-3
  logEvery: 1
eval:
  every: 0
${extra}`;
