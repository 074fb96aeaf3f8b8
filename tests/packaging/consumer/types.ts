/**
 * A TypeScript consumer of the installed tarballs (tests/packaging/npm-pack.test.ts type-checks it there against
 * their .d.ts, with node16 and with node10 module resolution): the entries, the `@mmzoo/core/io` subpath, and types
 * that are real (the @ts-expect-error line fails the check if they were `any`). Never run.
 */
import { tf, type Tensor } from '@mmzoo/core';
import { parseSafetensors, type RawTensor } from '@mmzoo/core/io';
import { clipSpec, type CLIP, type ClipConfig } from '@mmzoo/clip';

export function encode(config: unknown, bytes: Uint8Array): Tensor {
  const cfg: ClipConfig = clipSpec.schema.parse(config);
  const model: CLIP = clipSpec.build(cfg, { vocabSize: 10, eotId: 9 });
  const weights: Map<string, RawTensor> = parseSafetensors(bytes);
  // @ts-expect-error encodeImage takes a tensor, not a string
  model.encodeImage('not a tensor');
  return model.encodeImage(tf.zeros([weights.size, cfg.vision.channels, 8, 8]));
}
