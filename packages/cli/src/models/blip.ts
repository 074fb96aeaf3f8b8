import { Module } from '@mmzoo/core';
import { evaluateItm } from '@mmzoo/core/node';
import { BLIP, BlipConfig, BlipConfigSchema, buildBlip } from '@mmzoo/blip';
import type { ImageTextModel, ModelEntry } from '../registry';

function count(model: Module, pred: (name: string) => boolean): number {
  let n = 0;
  for (const [name, v] of model.trainableParameters()) if (pred(name)) n += v.size;
  return n;
}

/**
 * The `blip` entry of the model registry (Li et al. 2022): schema, builder, parameter counts per component (the
 * decoder counts only what it does not share with the encoder: its self-attention layers and LM head transform)
 * and the extra metrics `retrievalItmRerank` (ITC top-k re-ranked by ITM + ITC, as BLIP's evaluation) and
 * `itmAccuracy` (positive pairs against swapped-position hard negatives).
 */
export const blipEntry: ModelEntry<BlipConfig> = {
  schema: BlipConfigSchema,
  build: (cfg, ctx) => buildBlip(cfg, { vocabSize: ctx.vocabSize, padId: ctx.padId }) as BLIP & ImageTextModel,
  imageShape: (cfg) => [cfg.vision.channels, cfg.vision.imageSize, cfg.vision.imageSize],
  contextLength: (cfg) => cfg.text.contextLength,
  towers: (m) => ({
    vision: count(m, (n) => n.startsWith('visual_encoder.')),
    textEncoder: count(m, (n) => n.startsWith('text_encoder.') && !n.includes('.crossattention.')),
    crossAttention: count(m, (n) => n.startsWith('text_encoder.') && n.includes('.crossattention.')),
    decoderOwn: count(m, (n) => n.startsWith('text_decoder.')),
    projectionsAndItm: count(m, (n) => /^(vision_proj|text_proj|itm_head|temp)/.test(n)),
  }),
  describe: 'BLIP (Li et al. 2022): ViT + MED (unimodal encoder, image-grounded encoder and decoder sharing all but self-attention), ITC + ITM + LM',
  extraMetrics: (m, s) => evaluateItm(m as unknown as BLIP, s.tokenizer, s.data, s.config.eval, s.contextLength, {
    k: (s.config.model as BlipConfig).itmRerankK, addItc: true,
  }) as Record<string, unknown>,
};
