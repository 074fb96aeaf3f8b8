import { captionGenerateOptions } from '@mmzoo/core';
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
  const { startId, endId } = tokenizer;
  if (startId === undefined || endId === undefined) throw new Error('captioning needs a tokenizer with start and end ids');
  const out = model.caption(images, startId, captionGenerateOptions(cfg.caption, tokenizer, cfg.text.contextLength));
  return out.tokens.map((t) => tokenizer.decode(t, { stopAtEnd: true }));
}
