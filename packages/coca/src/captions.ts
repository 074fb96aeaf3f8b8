import type { Tensor, TextTokenizer } from '@mmzoo/core';
import type { CoCa } from './model';
import type { CocaConfig } from './config';

/**
 * Captions images with a CoCa as its config's `caption:` section says (core `generate`), decoded to text.
 * Special tokens other than the end token are never generated.
 * @param images float32 [B, C, H, W] in [0, 1]
 * @throws Error when the tokenizer has no start or end id
 */
export function cocaCaptions(model: CoCa, images: Tensor, tokenizer: TextTokenizer, cfg: CocaConfig): string[] {
  const c = cfg.caption;
  const { startId, endId, padId, unkId, maskId } = tokenizer;
  if (startId === undefined || endId === undefined) throw new Error('captioning needs a tokenizer with start and end ids');
  const suppressIds = [padId, startId, ...(unkId !== undefined ? [unkId] : []), ...(maskId !== undefined ? [maskId] : [])];
  const out = model.caption(images, startId, {
    strategy: c.strategy, maxLength: Math.min(c.maxLength, cfg.text.contextLength - 1), minLength: c.minLength, endId,
    suppressIds, repetitionPenalty: c.repetitionPenalty, beamSize: c.beamSize, lengthPenalty: c.lengthPenalty,
    topP: c.topP, temperature: c.temperature, seed: c.seed,
  });
  return out.tokens.map((t) => tokenizer.decode(t, { stopAtEnd: true }));
}
