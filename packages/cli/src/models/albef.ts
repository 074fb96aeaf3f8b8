import { Module } from '@mmzoo/core';
import { evaluateItm } from '@mmzoo/train';
import { ALBEF, AlbefConfig, AlbefConfigSchema, buildAlbef } from '@mmzoo/albef';
import type { ImageTextModel, ModelEntry } from '../registry';

function count(model: Module, pred: (name: string) => boolean): number {
  let n = 0;
  for (const [name, v] of model.trainableParameters()) if (pred(name)) n += v.size;
  return n;
}

/**
 * The `albef` entry of the model registry (Li et al. 2021): schema, builder, parameter counts per component (the
 * text encoder's text-only and fusion layers counted apart; word embeddings with the text encoder) and the extra
 * metrics `retrievalItmRerank` (ITC top-k re-ranked by ITM, section 4.1) and `itmAccuracy` (positive pairs against
 * swapped-position hard negatives).
 */
export const albefEntry: ModelEntry<AlbefConfig> = {
  schema: AlbefConfigSchema,
  build: (cfg, ctx) => buildAlbef(cfg, { vocabSize: ctx.vocabSize, padId: ctx.padId }) as ALBEF & ImageTextModel,
  imageShape: (cfg) => [cfg.vision.channels, cfg.vision.imageSize, cfg.vision.imageSize],
  contextLength: (cfg) => cfg.text.contextLength,
  towers: (m) => {
    const t = (m as unknown as ALBEF).opts.textLayers;
    const layer = (n: string) => Number(/^text_encoder\.bert\.encoder\.layer\.(\d+)\./.exec(n)?.[1] ?? -1);
    return {
      vision: count(m, (n) => n.startsWith('visual_encoder.')),
      text: count(m, (n) => n.startsWith('text_encoder.bert.embeddings.') || (layer(n) >= 0 && layer(n) < t)),
      fusion: count(m, (n) => layer(n) >= t),
      mlmHead: count(m, (n) => n.startsWith('text_encoder.cls.')),
      projectionsAndItm: count(m, (n) => /^(vision_proj|text_proj|itm_head|temp)/.test(n)),
    };
  },
  describe: 'ALBEF (Li et al. 2021): ViT + BERT text/fusion encoders, ITC with queues + ITM hard negatives + MLM, momentum distillation',
  extraMetrics: (m, s) => evaluateItm(m as unknown as ALBEF, s.tokenizer, s.data, s.config.eval, s.contextLength, {
    k: (s.config.model as AlbefConfig).itmRerankK,
  }) as Record<string, unknown>,
};
