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
