import { CaptionDecodingConfig, Tensor, TextTokenizer } from '@mmzoo/core';
import type { BLIP } from './model';
import type { BlipConfig } from './config';

/**
 * Captions images with BLIP's image-grounded decoder (Li et al. 2022, section 3.1) through core `generate` with the
 * given decoding settings (default: the config's `caption:` section), decoded to text. [ENC], [DEC] and the
 * tokenizer's specials other than the end token are never generated; maxLength is capped to the text context.
 * @param images float32 [B, C, H, W] in [0, 1]
 * @returns B captions
 * @throws Error when the tokenizer has no end id
 */
export function blipCaptions(model: BLIP, images: Tensor, tokenizer: TextTokenizer, cfg: BlipConfig, decoding: CaptionDecodingConfig = cfg.caption): string[] {
  const c = decoding;
  const { startId, endId, padId } = tokenizer;
  if (endId === undefined) throw new Error('captioning needs a tokenizer with an end id');
  const extra = [tokenizer.unkId, tokenizer.maskId].filter((v): v is number => v !== undefined);
  const suppressIds = [padId, model.opts.encId, model.opts.decId, ...(startId !== undefined ? [startId] : []), ...extra];
  const out = model.caption(images, {
    strategy: c.strategy, maxLength: Math.min(c.maxLength, cfg.text.contextLength - 1), minLength: c.minLength, endId, suppressIds,
    repetitionPenalty: c.repetitionPenalty, beamSize: c.beamSize, lengthPenalty: c.lengthPenalty, topP: c.topP, temperature: c.temperature,
    seed: c.seed,
  });
  return out.tokens.map((t) => tokenizer.decode(t, { stopAtEnd: true }));
}
