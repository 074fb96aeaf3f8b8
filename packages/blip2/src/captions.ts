import { CaptionDecodingConfig, Tensor, TextTokenizer, captionGenerateOptions } from '@mmzoo/core';
import type { Blip2Qformer } from './model';
import type { Blip2Config } from './config';

/**
 * Captions images with BLIP-2's Q-Former ITG head (Li et al. 2023, section 3.2) through core `generate` with the
 * given decoding settings (default: the config's `caption:` section), decoded to text. [DEC] and the tokenizer's
 * specials other than the end token are never generated; maxLength is capped to the text context.
 * @param images float32 [B, C, H, W] in [0, 1]
 * @returns B captions
 * @throws Error when the tokenizer has no end id
 */
export function blip2Captions(model: Blip2Qformer, images: Tensor, tokenizer: TextTokenizer, cfg: Blip2Config, decoding: CaptionDecodingConfig = cfg.caption): string[] {
  const out = model.caption(images, captionGenerateOptions(decoding, tokenizer, cfg.qformer.contextLength, [model.opts.bosId]));
  return out.tokens.map((t) => tokenizer.decode(t, { stopAtEnd: true }));
}
