import type { ModelInputs } from './model-spec';

/** The part of an image-text model's config that says what its batches hold. */
export interface ImageTextInputConfig {
  /** `channels` and `imageSize`: square pixels or [height, width] */
  vision: { channels: number; imageSize: number | [number, number] };
  text: { contextLength: number };
}

/**
 * The batch keys of an image-text model (every model of the zoo today; {@link ModelSpec.inputs}): images
 * float32 [B, channels, height, width] and token ids int32 [B, contextLength], read from its config.
 * @param cfg a validated config with `vision.channels`, `vision.imageSize` and `text.contextLength`
 */
export function imageTextInputs(cfg: ImageTextInputConfig): ModelInputs {
  const size = cfg.vision.imageSize;
  const [h, w] = typeof size === 'number' ? [size, size] : size;
  return { image: [cfg.vision.channels, h, w], text: { contextLength: cfg.text.contextLength } };
}
