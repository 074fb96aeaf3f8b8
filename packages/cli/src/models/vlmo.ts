import { Module } from '@mmzoo/core';
import { evaluateItm } from '@mmzoo/train';
import { VLMo, VlmoConfig, VlmoConfigSchema, buildVlmo, vlmoStageObjectives } from '@mmzoo/vlmo';
import { fitVisualTokenizer } from './visual-tokenizer';
import type { ImageTextModel, ModelEntry } from '../registry';
import type { Session } from '../session';

function count(model: Module, pred: (name: string) => boolean): number {
  let n = 0;
  for (const [name, v] of model.trainableParameters()) if (pred(name)) n += v.size;
  return n;
}

/**
 * The `vlmo` entry of the model registry: schema, builder, input facts, parameter counts per component (shared
 * attention, each FFN expert, embeddings, heads), `prepare` (fits the visual tokenizer of the MIM stage), the
 * objectives stages may select (`mim`, `mlm`, `itc`, `itm`) and the extra metrics of core `evaluateItm`
 * (`itmAccuracy` against swapped-position negatives, `retrievalItmRerank`).
 */
export const vlmoEntry: ModelEntry<VlmoConfig> = {
  schema: VlmoConfigSchema,
  build: (cfg, ctx) => buildVlmo(cfg, { vocabSize: ctx.vocabSize, endId: ctx.eotId }) as VLMo & ImageTextModel,
  imageShape: (cfg) => [cfg.vision.channels, cfg.vision.imageSize, cfg.vision.imageSize],
  contextLength: (cfg) => cfg.text.contextLength,
  towers: (m) => {
    const mim = count(m, (n) => /^(mim_head|mask_token)/.test(n));
    return {
      visionEmbedding: count(m, (n) => /^(patch_embed|cls_token|pos_embed|token_type_embeddings)/.test(n)),
      textEmbedding: count(m, (n) => n.startsWith('text_embeddings.')),
      sharedAttention: count(m, (n) => /^transformer\.blocks\.\d+\.(norm1|attn|gamma_)/.test(n)),
      visionFfn: count(m, (n) => /\.(norm2|ffn)\.vision\./.test(n)),
      languageFfn: count(m, (n) => /\.(norm2|ffn)\.language\./.test(n)),
      visionLanguageFfn: count(m, (n) => /\.(norm2|ffn)\.vl\./.test(n)),
      relativePositionAndNorm: count(m, (n) => n === 'relative_position_bias_table' || n.startsWith('transformer.norm.')),
      heads: count(m, (n) => /^(pooler|itm_score|itc_|logit_|mlm_score)/.test(n)),
      ...(mim > 0 ? { mimHeadAndMaskToken: mim } : {}),
    };
  },
  describe: 'VLMo (Bao et al. 2022): mixture-of-modality-experts transformer, ITC + ITM (hard negatives) + MLM',
  // the image-only MIM stage needs its k-means visual tokenizer fitted (a no-op without objectives.mim)
  prepare: (m, s) => fitVisualTokenizer((m as unknown as VLMo).visualTokenizer, (m as unknown as VLMo).cfg.tokenizer, s),
  stageObjectives: (cfg) => vlmoStageObjectives(cfg),
  // ITC top-k re-ranked by fusion-mode ITM, and ITM accuracy against swapped-position hard negatives (as ALBEF, BLIP)
  extraMetrics: (m, s) => ((m as unknown as VLMo).itmHead
    ? evaluateItm(m as unknown as VLMo, s.tokenizer, s.data, s.config.eval, s.contextLength, { k: (s.config.model as VlmoConfig).itmRerankK }) as Record<string, unknown>
    : {}),
};
