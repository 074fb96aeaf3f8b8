import { CaptionDecodingConfig, Tensor, TextTokenizer, captionGenerateOptions } from '@mmzoo/core';
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
  const out = model.caption(images, captionGenerateOptions(decoding, tokenizer, cfg.text.contextLength, [model.opts.encId, model.opts.decId]));
  return out.tokens.map((t) => tokenizer.decode(t, { stopAtEnd: true }));
}
