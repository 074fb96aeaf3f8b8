import { tf, Tensor, Variable } from '../tf';
import { scalarInit } from './init';
import { Module } from './module';
import { CLIP_LOGIT_SCALE_INIT, clampedLogitScale, clampLogitScale } from './logit-scale';

/** A tower whose `pooled` output is the embedding: [B, ...] input -> float32 [B, E]. */
export interface PooledTower {
  apply(x: Tensor): { pooled: Tensor };
}

/** The logit-scale options of a {@link ContrastiveDualEncoder}. */
export interface LogitScaleOptions {
  /** initial log of the logit scale (default ln(1/0.07), CLIP section 2.5) */
  initLogitScale?: number;
  /** the clamp of exp(logit_scale) (default 100, CLIP section 2.5) */
  maxLogitScale?: number;
}

/**
 * What CLIP (Radford et al. 2021, section 2.3) and CoCa (Yu et al. 2022, section 3.1) share: an image tower and a
 * text tower whose pooled outputs are the embeddings of a contrastive loss, and the learned temperature stored as a
 * log (`logit_scale`, a 0-d tensor), used as exp(min(logit_scale, ln max)) and clamped after each optimizer step as
 * open_clip's training loop does. A subclass registers its towers in its own (checkpoint) order and then calls
 * {@link declareLogitScale}.
 */
export abstract class ContrastiveDualEncoder extends Module {
  /** the image tower: float32 [B, C, H, W] -> pooled float32 [B, E] */
  abstract readonly visual: PooledTower;
  /** the text tower: int32 [M, L] -> pooled float32 [M, E] */
  abstract readonly text: PooledTower;
  abstract readonly opts: LogitScaleOptions;
  /** float32 scalar `logit_scale`: the log of the scale; set by {@link declareLogitScale} */
  logitScaleLog!: Variable;

  /** Declares `logit_scale` initialised to `opts.initLogitScale` (default ln(1/0.07)). */
  protected declareLogitScale(): void {
    this.logitScaleLog = this.param('logit_scale', scalarInit(this.opts.initLogitScale ?? CLIP_LOGIT_SCALE_INIT));
  }

  /** @param images float32 [B, C, H, W] @returns float32 [B, E] image embedding, not normalised */
  encodeImage(images: Tensor): Tensor {
    return tf.tidy(() => this.visual.apply(images).pooled);
  }

  /** @param ids int32 [M, L] @returns float32 [M, E] text embedding, not normalised @throws Error from the text tower */
  encodeText(ids: Tensor): Tensor {
    return tf.tidy(() => this.text.apply(ids).pooled);
  }

  /** The effective logit scale exp(min(logit_scale, ln maxLogitScale)), float32 scalar. */
  logitScale(): Tensor {
    return clampedLogitScale(this.logitScaleLog, this.opts.maxLogitScale);
  }

  /** Clamps the stored log scale to [0, ln maxLogitScale] after an optimizer step (open_clip's training loop). */
  afterOptimizerStep(): void {
    clampLogitScale(this.logitScaleLog, this.opts.maxLogitScale);
  }
}
