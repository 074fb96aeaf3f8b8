import type { Module, Tensor, TextTokenizer } from '@mmzoo/core';
import { evaluateCaptioning } from '@mmzoo/train';
import { CoCa, CocaConfig, CocaConfigSchema, buildCoca } from '@mmzoo/coca';
import type { ImageTextModel, ModelEntry } from '../registry';

function countWhere(model: Module, pred: (name: string) => boolean): number {
  let n = 0;
  for (const [name, v] of model.trainableParameters()) if (pred(name)) n += v.size;
  return n;
}

/**
 * Captions images with a CoCa as its config's `caption:` section says (core `generate`), decoded to text.
 * Special tokens other than the end token are never generated.
 * @param images float32 [B, C, H, W] in [0, 1]
 * @throws Error when the tokenizer has no start or end id
 */
export function cocaCaptions(model: CoCa, images: Tensor, tokenizer: TextTokenizer, cfg: CocaConfig): string[] {
  const c = cfg.caption;
  const { startId, endId, padId } = tokenizer;
  if (startId === undefined || endId === undefined) throw new Error('captioning needs a tokenizer with start and end ids');
  const unk = (tokenizer as { unkId?: number }).unkId;
  const mask = (tokenizer as { maskId?: number }).maskId;
  const suppressIds = [padId, startId, ...(unk !== undefined ? [unk] : []), ...(mask !== undefined ? [mask] : [])];
  const out = model.caption(images, startId, {
    strategy: c.strategy, maxLength: Math.min(c.maxLength, cfg.text.contextLength - 1), minLength: c.minLength, endId,
    suppressIds, repetitionPenalty: c.repetitionPenalty, beamSize: c.beamSize, lengthPenalty: c.lengthPenalty,
    topP: c.topP, temperature: c.temperature, seed: c.seed,
  });
  return out.tokens.map((t) => tokenizer.decode(t, { stopAtEnd: true }));
}

/**
 * The `coca` registry entry (Yu et al. 2022): ViT + attentional poolers, unimodal and multimodal text decoders,
 * contrastive + captioning loss. Besides the dual-encoder metrics it reports `bleu4`, `cider` (and BLEU-1..3) of
 * captions generated for the test scenes, and the constant-caption baselines `bleu4ConstantBaseline`,
 * `ciderConstantBaseline`.
 */
export const cocaEntry: ModelEntry<CocaConfig> = {
  schema: CocaConfigSchema,
  build: (cfg, ctx) => buildCoca(cfg, { vocabSize: ctx.vocabSize, padId: ctx.padId }) as CoCa & ImageTextModel,
  imageShape: (cfg) => {
    const [h, w] = typeof cfg.vision.imageSize === 'number' ? [cfg.vision.imageSize, cfg.vision.imageSize] : cfg.vision.imageSize;
    return [cfg.vision.channels, h, w];
  },
  contextLength: (cfg) => cfg.text.contextLength,
  towers: (m) => ({
    vision: countWhere(m, (n) => n.startsWith('visual.')),
    text: countWhere(m, (n) => n.startsWith('text.')),
    decoder: countWhere(m, (n) => n.startsWith('text_decoder.')),
    logitScale: countWhere(m, (n) => n === 'logit_scale'),
  }),
  describe: 'CoCa (Yu et al. 2022): ViT + attentional poolers, unimodal + multimodal text decoder, contrastive + captioning loss',
  caption: (m, images, tokenizer, cfg) => cocaCaptions(m as unknown as CoCa, images, tokenizer, cfg),
  extraMetrics: async (m, s) => {
    const cfg = s.config.model as CocaConfig;
    const metrics = await evaluateCaptioning(
      (images) => cocaCaptions(m as unknown as CoCa, images, s.tokenizer, cfg),
      s.data, cocaEntry.imageShape(cfg), s.config.data.dataset === 'fmnist',
      { images: cfg.caption.testScenes, batchSize: Math.min(100, s.config.eval.batchSize), seed: s.config.data.seed ?? s.config.train.seed },
    );
    return metrics ? { ...metrics } : {};
  },
};
