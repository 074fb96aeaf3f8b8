import type { Module } from '@mmzoo/core';
import { evaluateCaptioning, evaluateItm } from '@mmzoo/train';
import { BLIP, BlipConfig, BlipConfigSchema, blipCaptions, buildBlip } from '@mmzoo/blip';
import type { ImageTextModel, ModelEntry } from '../registry';

function count(model: Module, pred: (name: string) => boolean): number {
  let n = 0;
  for (const [name, v] of model.trainableParameters()) if (pred(name)) n += v.size;
  return n;
}

/** Re-exported from @mmzoo/blip (CapFilt's captioner uses it too). */
export { blipCaptions };

/**
 * The `blip` entry of the model registry (Li et al. 2022): schema, builder, parameter counts per component (the
 * decoder counts only what it does not share with the encoder: its self-attention layers and LM head transform)
 * and the extra metrics `retrievalItmRerank` (ITC top-k re-ranked by ITM + ITC, as BLIP's evaluation) and
 * `itmAccuracy` (positive pairs against swapped-position hard negatives), and, from captions of the test scenes,
 * `bleu4`, `cider` with their constant-caption baselines.
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
  caption: (m, images, tokenizer, cfg) => blipCaptions(m as unknown as BLIP, images, tokenizer, cfg),
  extraMetrics: async (m, s) => {
    const cfg = s.config.model as BlipConfig;
    const itm = evaluateItm(m as unknown as BLIP, s.tokenizer, s.data, s.config.eval, s.contextLength, { k: cfg.itmRerankK, addItc: true });
    const captions = await evaluateCaptioning(
      (images) => blipCaptions(m as unknown as BLIP, images, s.tokenizer, cfg),
      s.data, blipEntry.imageShape(cfg), s.config.data.dataset === 'fmnist',
      { images: cfg.caption.testScenes, batchSize: Math.min(100, s.config.eval.batchSize), seed: s.config.data.seed ?? s.config.train.seed },
    );
    return { ...itm, ...(captions ?? {}) };
  },
};
