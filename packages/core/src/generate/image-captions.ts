import { tf, Tensor } from '../tf';
import type { CaptionDecodingConfig } from '../config/caption';
import type { TextTokenizer } from '../tokenizers/types';
import { GenerateOptions, GenerateResult, generate } from './decode';

/**
 * The {@link generate} options of a model's `caption:` section with the run's tokenizer: the section's search
 * settings, at most `contextLength - 1` new tokens (one position holds the start token), the tokenizer's end id as
 * the stop, and every special other than the end token suppressed (padding, start, unknown, [MASK], and the model's
 * own `extraSuppress`, e.g. BLIP's [ENC] and [DEC]).
 * @param contextLength the text context of the decoder
 * @throws Error when the tokenizer has no end id
 */
export function captionGenerateOptions(c: CaptionDecodingConfig, tokenizer: TextTokenizer, contextLength: number, extraSuppress: number[] = []): GenerateOptions {
  const { startId, endId, padId, unkId, maskId } = tokenizer;
  if (endId === undefined) throw new Error('captioning needs a tokenizer with an end id');
  const suppressIds = [padId, ...[startId, unkId, maskId].filter((v): v is number => v !== undefined), ...extraSuppress];
  return {
    strategy: c.strategy, maxLength: Math.min(c.maxLength, contextLength - 1), minLength: c.minLength, endId, suppressIds,
    repetitionPenalty: c.repetitionPenalty, beamSize: c.beamSize, lengthPenalty: c.lengthPenalty, topP: c.topP, temperature: c.temperature,
    seed: c.seed,
  };
}

/**
 * Captions images with an image-grounded decoder that re-encodes the whole prefix at every step (no key/value cache;
 * BLIP's decoder, BLIP-2's Q-Former under its multimodal causal mask): each image's rows start from `startId` and
 * core {@link generate} drives the search (greedy, beam or nucleus), the image side gathered per search row.
 * @param image float32 [B, ...] the image side the decoder reads (e.g. ViT tokens), owned by the caller
 * @param logits next-token logits of prefixes: image rows [n, ...], ids int32 [n, l] -> float32 [n, l, V]
 * @returns sequences without the start token in `tokens`
 * @throws RangeError from generate on invalid options
 */
export function generateFromImage(image: Tensor, startId: number, logits: (image: Tensor, ids: Tensor) => Tensor, opts: GenerateOptions): GenerateResult {
  const next = (prefixes: number[][], sources: number[]): Float32Array[] => tf.tidy(() => {
    const [n, l] = [prefixes.length, prefixes[0].length];
    const ids = tf.tensor2d(Int32Array.from(prefixes.flat()), [n, l], 'int32');
    const out = logits(tf.gather(image, Int32Array.from(sources)), ids);
    const v = out.shape[2] as number;
    const last = out.slice([0, l - 1, 0], [n, 1, v]).reshape([n, v]).dataSync() as Float32Array;
    return Array.from({ length: n }, (_, i) => last.slice(i * v, (i + 1) * v));
  });
  return generate(next, Array.from({ length: image.shape[0] as number }, () => [startId]), opts);
}
