/**
 * What the batches of a training stage feed the objectives (VLMo section 3.3, "Stagewise Pre-Training"):
 * `images` (image-only: only the batch's images are used), `texts` (text-only: only its captions) or `pairs`
 * (image-text pairs; objectives that need only one side may still use it, e.g. BEiT-3's image-only MIM on the
 * images of a pair batch).
 */
export const STAGE_DATA = ['images', 'texts', 'pairs'] as const;
/** One of {@link STAGE_DATA}. */
export type StageData = (typeof STAGE_DATA)[number];

/** What a model's training objective is told about the running stage. */
export interface StageSelection {
  /** names of the objectives to run */
  objectives: readonly string[];
  /** what the batch feeds them */
  data: StageData;
}

/**
 * What one training step of a staged model runs: the stage's objectives on its data, or, without a stage, every
 * objective the model offers on image-text pairs (joint pre-training).
 * @param model the model's name, for messages (e.g. 'VLMo')
 * @param offered the objectives the model offers with the data each accepts (its `stageObjectives()`)
 * @throws Error naming the objective when the model does not offer it or it cannot run on the stage's data
 */
export function resolveStageSelection(model: string, offered: Record<string, readonly StageData[]>, stage?: StageSelection): StageSelection {
  const objectives = stage ? stage.objectives : Object.keys(offered);
  const data: StageData = stage ? stage.data : 'pairs';
  for (const name of objectives) {
    if (!offered[name]) throw new Error(`${model}: no objective '${name}' (available: ${Object.keys(offered).join(', ')})`);
    if (!offered[name].includes(data)) throw new Error(`${model}: objective '${name}' cannot run on ${data} data`);
  }
  return { objectives, data };
}
