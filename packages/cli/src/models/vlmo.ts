import { Module, Rng, tf } from '@mmzoo/core';
import { VLMo, VlmoConfig, VlmoConfigSchema, buildVlmo, vlmoStageObjectives } from '@mmzoo/vlmo';
import { fitVisualTokenizer } from './visual-tokenizer';
import type { ImageTextModel, ModelEntry } from '../registry';
import type { Session } from '../session';

/**
 * ITM accuracy on the retrieval gallery (fixed test scenes): every image with its own caption (label match) and
 * with the caption of a random other item whose key differs (label no match), scored by the fusion-mode ITM head;
 * 2n balanced pairs, so chance is 0.5. At most `limit` gallery items.
 * @returns accuracy in [0, 1], or undefined when the data has no gallery
 */
export function itmAccuracy(model: VLMo, s: Session, limit = 500): number | undefined {
  if (!s.data.gallery || !model.itmScore) return undefined;
  const g = s.data.gallery(Math.min(limit, s.config.eval.retrievalGallery || limit));
  const n = g.captions.length;
  const rng = new Rng(0).fork('vlmo-itm-accuracy');
  const neg = Array.from({ length: n }, (_, i) => {
    for (let t = 0; t < 100; t++) {
      const j = rng.int(n);
      if (g.keys[j] !== g.keys[i]) return j;
    }
    return (i + 1) % n;
  });
  const { channels: c, height: h, width: w } = g.images;
  const per = c * h * w;
  const bs = Math.max(1, Math.floor(s.config.eval.batchSize / 2));
  let hits = 0;
  for (let start = 0; start < n; start += bs) {
    const end = Math.min(n, start + bs);
    const m = end - start;
    const px = new Float32Array(2 * m * per);
    for (let k = 0; k < m; k++) {
      for (let q = 0; q < per; q++) px[k * per + q] = g.images.images[(start + k) * per + q] / 255;
    }
    px.copyWithin(m * per, 0, m * per);
    const caps = [...g.captions.slice(start, end), ...neg.slice(start, end).map((j) => g.captions[j])];
    const enc = s.tokenizer.encodeBatch(caps, s.contextLength);
    const pred = tf.tidy(() => {
      const out = model.infer(tf.tensor4d(px, [2 * m, c, h, w]), tf.tensor2d(enc.ids, enc.shape, 'int32'));
      return out.itmLogits.argMax(1).dataSync();
    });
    for (let k = 0; k < 2 * m; k++) if (pred[k] === (k < m ? 1 : 0)) hits++;
  }
  return hits / (2 * n);
}

function count(model: Module, pred: (name: string) => boolean): number {
  let n = 0;
  for (const [name, v] of model.trainableParameters()) if (pred(name)) n += v.size;
  return n;
}

/**
 * The `vlmo` entry of the model registry: schema, builder, input facts, parameter counts per component (shared
 * attention, each FFN expert, embeddings, heads), `prepare` (fits the visual tokenizer of the MIM stage), the
 * objectives stages may select (`mim`, `mlm`, `itc`, `itm`) and the extra metric `itmAccuracy`.
 */
export const vlmoEntry: ModelEntry<VlmoConfig> = {
  schema: VlmoConfigSchema,
  build: (cfg, ctx) => buildVlmo(cfg, { vocabSize: ctx.vocabSize, endId: ctx.eotId }) as VLMo & ImageTextModel,
  imageShape: (cfg) => [cfg.vision.channels, cfg.vision.imageSize, cfg.vision.imageSize],
  contextLength: (cfg) => cfg.text.contextLength,
  towers: (m) => {
    const mim = count(m, (n) => /^(mim_head|mask_token)/.test(n));
    return {
      visionEmbedding: count(m, (n) => /^(patch_embed|cls_token|token_type_embeddings)/.test(n)),
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
  extraMetrics: (m, s) => {
    const acc = itmAccuracy(m as unknown as VLMo, s);
    return acc === undefined ? {} : { itmAccuracy: acc };
  },
};
