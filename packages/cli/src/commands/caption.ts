import { ConfigError, TrainingModel, ModelSpec, TextTokenizer, Tensor } from '@mmzoo/core';
import { initBackend } from '@mmzoo/train';
import { applyOverrides } from '../experiment';
import { loadRun } from '../specs';

/** Options of `mmzoo caption`. */
export interface CaptionOptions {
  backend?: string;
  /** the checkpoint to caption with (@mmzoo/train `findCheckpoint`); default: the latest */
  checkpoint?: string;
  /** overrides of the run's model config, e.g. `caption.strategy=greedy` (dotted paths under `model.`) */
  set?: string[];
}

/**
 * `mmzoo caption RUN_DIR IMAGE...`: loads the run at its latest (or `--checkpoint`) checkpoint (`loadRun`: config and
 * tokenizer from it), brings each image file to the model's input with the run's preprocessing (sharp: cover + centre
 * crop; grey or RGB as the model expects) and prints one line per image: `<image path>\t<caption>`. Decoding follows
 * the run config's `model.caption` section unless overridden with `--set caption.<key>=<value>` (the model itself is
 * built from the run's config).
 * @throws ConfigError for an invalid override; Error when the folder holds no checkpoint, the model cannot caption,
 *   or an image cannot be read
 */
export async function captionCommand(runDirArg: string, images: string[], opts: CaptionOptions): Promise<number> {
  let caption: ((model: TrainingModel, images: Tensor, tokenizer: TextTokenizer, cfg: unknown) => string[]) | undefined;
  let cfg: unknown;
  const run = await loadRun(runDirArg, {
    checkpoint: opts.checkpoint,
    beforeBuild: async (config, spec) => {
      if (!spec.caption) throw new Error(`model '${config.model.name}' has no text decoder: it cannot caption images`);
      caption = spec.caption.bind(spec);
      cfg = captionSettings(spec, config.model, opts.set ?? []);
      await initBackend(opts.backend ?? config.runtime.backend);
    },
  });
  try {
    for (const w of run.checkpoint.warnings) process.stderr.write(`warning: ${w}\n`);
    const batch = await run.preprocess(images);
    // set by beforeBuild, which loadRun calls before it builds the model
    const captions = caption!(run.model, batch, run.tokenizer, cfg);
    batch.dispose();
    images.forEach((img, i) => process.stdout.write(`${img}\t${captions[i]}\n`));
  } finally {
    run.model.dispose();
  }
  return 0;
}

/**
 * The run's `model:` section with `--set` overrides, validated by its spec's schema.
 * @throws ConfigError `--set: model.<path>: <message>; ...`
 */
function captionSettings(spec: ModelSpec<unknown, TrainingModel>, model: object, sets: string[]): unknown {
  const value = structuredClone(model) as Record<string, unknown>;
  applyOverrides(value, sets);
  const parsed = spec.schema.safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `model.${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`--set: ${issues.join('; ')}`);
  }
  return parsed.data;
}
