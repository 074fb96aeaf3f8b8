import * as path from 'path';
import { ConfigError, manualSeed, tf } from '@mmzoo/core';
import { initBackend, Experiment, decodeImage, imageTextInputs, latestCheckpoint, loadCheckpoint, readCheckpointMeta, loadSavedTokenizer, buildParts } from '@mmzoo/train';
import { applyOverrides } from '../experiment';
import { getModel } from '../specs';

/** Options of `mmzoo caption`. */
export interface CaptionOptions {
  backend?: string;
  /** overrides of the run's model config, e.g. `caption.strategy=greedy` (dotted paths under `model.`) */
  set?: string[];
}

/**
 * `mmzoo caption RUN_DIR IMAGE...`: rebuilds the model of a run from its latest checkpoint (config and tokenizer
 * are stored in it), decodes each image file to the model's input size (sharp: cover + centre crop; grey or RGB as
 * the model expects) and prints one line per image: `<image path>\t<caption>`. Decoding follows the run config's
 * `model.caption` section unless overridden with `--set caption.<key>=<value>`.
 * @throws ConfigError for an invalid override; Error when the folder holds no checkpoint, the model cannot caption,
 *   or an image cannot be read
 */
export async function captionCommand(runDirArg: string, images: string[], opts: CaptionOptions): Promise<number> {
  const runDir = path.resolve(runDirArg);
  const ckpt = latestCheckpoint(runDir);
  if (!ckpt) throw new Error(`${runDirArg}: no checkpoint found (expected ${path.join(runDirArg, 'checkpoints', 'latest')})`);
  const meta = readCheckpointMeta(ckpt);
  const config = meta.config as Experiment<any>;
  const spec = getModel(config.model.name);
  if (!spec.caption) throw new Error(`model '${config.model.name}' has no text decoder: it cannot caption images`);
  const model = { ...config.model };
  applyOverrides(model, opts.set ?? []);
  const parsed = spec.schema.safeParse(model);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `model.${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`--set: ${issues.join('; ')}`);
  }
  const cfg = parsed.data;
  await initBackend(opts.backend ?? config.runtime?.backend);
  const tokenizer = loadSavedTokenizer(meta.tokenizer, path.join(ckpt, 'meta.json'));
  manualSeed(config.train?.seed ?? 0);
  const built = spec.build(cfg, buildParts({ text: tokenizer }));
  try {
    await loadCheckpoint(ckpt, built.namedParameters());
    const [c, h, w] = imageTextInputs(spec, cfg).image;
    const pixels = new Float32Array(images.length * c * h * w);
    for (let i = 0; i < images.length; i++) {
      pixels.set(await decodeImage(images[i], { height: h, width: w, channels: c === 1 ? 1 : 3 }), i * c * h * w);
    }
    const batch = tf.tensor4d(pixels, [images.length, c, h, w]);
    const captions = spec.caption(built, batch, tokenizer, cfg);
    batch.dispose();
    images.forEach((img, i) => process.stdout.write(`${img}\t${captions[i]}\n`));
  } finally {
    built.dispose();
  }
  return 0;
}
