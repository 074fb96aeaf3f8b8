import type { TrainingModel } from '@mmzoo/core';
import { findSpec, loadRun as loadRunWith } from '@mmzoo/train';
import type { TrainingSpec, LoadedRun, LoadRunOptions } from '@mmzoo/train';
import { clipSpec } from '@mmzoo/clip';
import { albefSpec } from '@mmzoo/albef';
import { blipSpec } from '@mmzoo/blip';
import { blip2Spec, blip2LmSpec, instructBlipSpec, miniGpt4Spec, visualGlmSpec } from '@mmzoo/blip2';
import { cocaSpec } from '@mmzoo/coca';
import { vlmoSpec } from '@mmzoo/vlmo';
import { beit3Spec } from '@mmzoo/beit3';
import { llamaSpec, gpt2Spec, optSpec } from '@mmzoo/lm';

/**
 * The model registry: `model.name` -> the model package's spec. An explicit map; a miss throws and lists the valid
 * names ({@link getModel}). Everything the CLI knows about a model comes from its spec.
 */
export const MODELS: Readonly<Record<string, TrainingSpec>> = {
  clip: clipSpec,
  albef: albefSpec,
  blip: blipSpec,
  blip2: blip2Spec,
  'blip2-lm': blip2LmSpec,
  instructblip: instructBlipSpec,
  minigpt4: miniGpt4Spec,
  visualglm: visualGlmSpec,
  coca: cocaSpec,
  vlmo: vlmoSpec,
  beit3: beit3Spec,
  llama: llamaSpec,
  gpt2: gpt2Spec,
  opt: optSpec,
};

/** @throws Error `<where>: unknown model '<name>'; registered models: clip, albef, ...` */
export function getModel(name: string, where = 'model.name'): TrainingSpec {
  return findSpec(MODELS, name, where);
}

/**
 * @mmzoo/train's `loadRun` with this registry: a run folder's config, its model at the latest (or `opts.checkpoint`)
 * checkpoint, its tokenizer and image preprocessing, e.g.
 * `const run = await loadRun('runs/clip-fmnist-tiny'); const emb = run.model.encodeImage(await run.preprocess('x.png'));`
 * @throws Error naming the run folder, checkpoint or file that is missing or unusable (see @mmzoo/train `loadRun`)
 */
export function loadRun(dir: string, opts: LoadRunOptions<TrainingModel> = {}): Promise<LoadedRun> {
  return loadRunWith(dir, MODELS, opts);
}
