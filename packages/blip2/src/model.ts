import {
  LayerNorm, Linear, LossOutput, Module, QFormer, Rng, SampledItmPairs, Tensor, Tensor2D, Variable, VisionTransformer, clampTemperature,
  crossEntropy, firstToken, gatherRows, generateFromImage, itmLogOdds, l2Normalize, matMul2d, resolveVocabSize, sampleItmPairs, scalarInit, stepRng, tf,
} from '@mmzoo/core';
import type { GenerateOptions, GenerateResult } from '@mmzoo/core';
import type { BuildParts, DualEncoder, HasInitTwins, ImageTextBatch, ItmScorer } from '@mmzoo/core';
import { Blip2Config, Blip2ConfigInput, Blip2ConfigSchema } from './config';
import { buildBlip2Vision } from './vision';

/** Options of {@link Blip2Qformer} (the non-architectural part of {@link Blip2Config}). */
export interface Blip2Options {
  /** initial temperature, whether it trains, and its clamp before each step (null: none) */
  temp: number;
  learnableTemp: boolean;
  tempClamp: [number, number] | null;
  /** label smoothing of ITC and ITG */
  labelSmoothing: number;
  hardNegativeEps: number;
  padId: number;
  /** the decoder's first token for ITG ([DEC]) */
  bosId: number;
}

/** Inputs of one {@link Blip2Qformer.step}. */
export interface Blip2StepInputs {
  /** float32 [B, C, H, W] */
  images: Tensor;
  /** int32 [B, L]: [CLS] words [SEP] [PAD]... */
  ids: Tensor;
  /** [B, L] 0/1 attention mask; default ids != padId */
  valid?: Tensor;
  /** the B image ids: a text's own image (and any with its id) is never its hard negative */
  imageIds: ArrayLike<number>;
  /** draws the hard negatives */
  rng: Rng;
}

/**
 * Everything one {@link Blip2Qformer.step} computes (batch B, text length L, image tokens M, queries Nq, width D,
 * projection E, vocabulary V). A type, so that it can leave `tf.tidy`.
 */
export type Blip2StepOutput = {
  /** float32 scalar itc + itm + itg, and the parts */
  total: Tensor;
  parts: { itc: Tensor; itm: Tensor; itg: Tensor };
  /** float32 [B, M, Dv] ln_vision(ViT features), the keys/values of every cross-attention */
  imageEmbeds: Tensor;
  /** float32 [B, Nq, D] queries-only pass */
  queryOutput: Tensor;
  /** float32 [B, Nq, E] vision_proj of each query, and its L2-normalised features */
  visionProjOut: Tensor;
  imageFeatures: Tensor;
  /** float32 [B, L, D] text-only pass, [B, E] text_proj of its [CLS], and the normalised features */
  textOutput: Tensor;
  textProjOut: Tensor;
  textFeatures: Tensor;
  itc: {
    /** float32 [B, B, Nq]: [image i, text t, query q] cosine similarity (no temperature) */
    simQ2t: Tensor;
    /** float32 [B, B]: max over queries / temperature, image -> text and its transpose */
    simI2t: Tensor;
    simT2i: Tensor;
    loss: Tensor;
  };
  itm: SampledItmPairs & {
    /** float32 [P, Nq + L, D] the bidirectional pass of the P pairs; [P, Nq, 2] head logits per query; [P, 2] their mean */
    hidden: Tensor;
    perQueryLogits: Tensor;
    logits: Tensor;
    /** int32 [P] 1 = matched */
    labelsTensor: Tensor;
    loss: Tensor;
  };
  itg: {
    /** int32 [B, L] ids with [DEC] first, and the targets (ids with -100 on padding) */
    decoderIds: Tensor;
    targets: Tensor;
    /** float32 [B, L, D] text rows of the multimodal-causal pass, [B, L, V] next-token logits */
    textOutput: Tensor;
    logits: Tensor;
    loss: Tensor;
  };
};

/**
 * BLIP-2's first stage (Li et al. 2023, sections 3.1-3.3; LAVIS blip2_qformer.py `Blip2Qformer`): a frozen image
 * encoder whose features go through a trainable LayerNorm (`ln_vision`, section 3.3), and the Q-Former (core
 * {@link QFormer}) trained with three objectives, each with its own mask (section 3.2, Fig. 2):
 * - ITC (uni-modal masks): each query output is projected and normalised, the text [CLS] likewise; the similarity of
 *   an image and a text is the highest of its Nq query-text similarities, divided by a learnable temperature;
 *   cross-entropy with the diagonal as targets, label smoothing, averaged over both directions.
 * - ITM (bidirectional mask): for each text a hard-negative image and for each image a hard-negative text drawn from
 *   softmax(sim) + eps (core `sampleItmPairs`, excluding same-image pairs); [queries; text] attend to each other, the
 *   ITM head scores every query output and the logits are averaged over the queries.
 * - ITG (multimodal causal mask): [CLS] is replaced by [DEC], text row i sees all queries and the text up to i, the
 *   LM head predicts token i + 1 (padding ignored), with label smoothing.
 *
 * Names follow LAVIS: `visual_encoder.*` (core ViT names; EVA's and torchmultimodal's load through weights.ts),
 * `ln_vision`, `query_tokens`, `Qformer.*`, `vision_proj`, `text_proj`, `itm_head`, `temp`.
 */
export class Blip2Qformer extends Module implements DualEncoder, ItmScorer, HasInitTwins {
  readonly temp: Variable;

  /**
   * @param visual the image encoder (frozen in training through the config's `frozen:`)
   * @param lnVision LayerNorm [Dv]
   * @param qformer the Q-Former with its ITG head
   * @param visionProj Linear(D, E) on each query output; textProj Linear(D, E) on the text [CLS]
   * @param itmHead Linear(D, 2)
   * @throws Error when the Q-Former has no LM head or its vision width is not the encoder's
   */
  constructor(
    readonly visual: VisionTransformer, readonly lnVision: LayerNorm, readonly qformer: QFormer, readonly visionProj: Linear,
    readonly textProj: Linear, readonly itmHead: Linear, readonly opts: Blip2Options,
  ) {
    super();
    if (!qformer.cls) throw new Error('Blip2Qformer: the Q-Former needs its LM head for ITG');
    if (qformer.opts.visionWidth !== visual.opts.width) {
      throw new Error(`Blip2Qformer: the Q-Former cross-attends to width ${qformer.opts.visionWidth}, the image encoder gives ${visual.opts.width}`);
    }
    this.module('visual_encoder', visual);
    this.module('ln_vision', lnVision);
    this.module('', qformer);
    this.module('vision_proj', visionProj);
    this.module('text_proj', textProj);
    this.module('itm_head', itmHead);
    this.temp = this.param('temp', scalarInit(opts.temp), opts.learnableTemp);
  }

  /** The Q-Former's [text FFN, query FFN] parameter pairs: `init:` copies a loaded text FFN into its query twin. */
  initTwins(): [Variable, Variable][] {
    return this.qformer.initTwins();
  }

  /** The 0/1 attention mask `ids != padId`, int32 [B, L]. */
  validMask(ids: Tensor): Tensor {
    return tf.tidy(() => ids.notEqual(tf.scalar(this.opts.padId, 'int32')).toInt());
  }

  /** `ln_vision` of the image encoder's tokens (section 3.3). @param images float32 [B, C, H, W] @returns float32 [B, M, Dv] */
  imageEmbeds(images: Tensor): Tensor {
    return tf.tidy(() => this.lnVision.apply(this.visual.apply(images).tokens));
  }

  /** The queries-only pass. @param imageEmbeds float32 [B, M, Dv] @returns float32 [B, Nq, D] */
  queryOutput(imageEmbeds: Tensor): Tensor {
    return tf.tidy(() => this.qformer.apply({ image: imageEmbeds }).queryOutput!);
  }

  /** The text-only (unimodal, bidirectional) pass. @param ids int32 [B, L] @param valid [B, L] @returns float32 [B, L, D] */
  textOutput(ids: Tensor, valid: Tensor): Tensor {
    return tf.tidy(() => this.qformer.apply({ queries: false, ids, valid }).textOutput!);
  }

  /**
   * ITC similarities (section 3.2): for every image-text pair the highest query-text cosine similarity.
   * @param imageFeatures float32 [B, Nq, E] normalised @param textFeatures float32 [T, E] normalised
   * @returns simQ2t float32 [B, T, Nq] and its max over queries [B, T] (no temperature)
   */
  querySimilarity(imageFeatures: Tensor, textFeatures: Tensor): { simQ2t: Tensor; sim: Tensor } {
    return tf.tidy(() => {
      const [b, nq, e] = imageFeatures.shape as [number, number, number];
      const t = textFeatures.shape[0] as number;
      const simQ2t = matMul2d(imageFeatures.reshape([b * nq, e]) as Tensor2D, textFeatures.transpose() as Tensor2D).reshape([b, nq, t]).transpose([0, 2, 1]);
      return { simQ2t, sim: simQ2t.max(2) };
    });
  }

  /**
   * ITM logits of image-text pairs: the bidirectional pass of [queries; text], the ITM head on each query output,
   * averaged over the queries (LAVIS `vl_output.mean(dim=1)`).
   * @param imageEmbeds float32 [P, M, Dv] @param ids int32 [P, L] @param valid [P, L]
   * @returns hidden [P, Nq + L, D], perQuery [P, Nq, 2], logits [P, 2] (column 1: match)
   */
  itmForward(imageEmbeds: Tensor, ids: Tensor, valid: Tensor): { hidden: Tensor; perQuery: Tensor; logits: Tensor } {
    return tf.tidy(() => {
      const out = this.qformer.apply({ image: imageEmbeds, ids, valid });
      const perQuery = this.itmHead.apply(out.queryOutput!);
      return { hidden: out.hidden, perQuery, logits: perQuery.mean(1) };
    });
  }

  /**
   * ITG next-token logits: [queries; decoder ids] under the multimodal causal mask; the text rows through the LM head.
   * @param imageEmbeds float32 [B, M, Dv] @param decoderIds int32 [B, L] with [DEC] first @param valid [B, L]
   * @returns textOutput float32 [B, L, D] and logits [B, L, V] (row t predicts token t + 1)
   */
  itgForward(imageEmbeds: Tensor, decoderIds: Tensor, valid: Tensor): { textOutput: Tensor; logits: Tensor } {
    return tf.tidy(() => {
      const textOutput = this.qformer.apply({ image: imageEmbeds, ids: decoderIds, valid, causal: true }).textOutput!;
      return { textOutput, logits: this.qformer.lmLogits(textOutput) };
    });
  }

  /**
   * Captions images with the ITG head (section 3.2; LAVIS `Blip2Qformer.generate`): decoding starts from [DEC] and
   * runs through core `generate` (greedy, beam or nucleus); each step re-runs [queries; prefix] under the multimodal
   * causal mask (the queries' rows do not depend on the prefix, so this equals LAVIS's cached query keys and values).
   * @param images float32 [B, C, H, W]
   * @param opts decoding options; suppress [DEC], [PAD] and other specials through `suppressIds`
   * @returns sequences without the [DEC] prompt in `tokens`
   * @throws RangeError when maxLength does not fit the text positions after [DEC]
   */
  caption(images: Tensor, opts: GenerateOptions): GenerateResult {
    const room = this.qformer.opts.maxPositions - 1;
    if (opts.maxLength > room) throw new RangeError(`caption maxLength ${opts.maxLength} exceeds the Q-Former's text positions (at most ${room} after [DEC])`);
    const image = tf.tidy(() => this.imageEmbeds(images));
    try {
      return generateFromImage(image, this.opts.bosId, (img, ids) => this.itgForward(img, ids, tf.onesLike(ids)).logits, opts);
    } finally {
      image.dispose();
    }
  }

  /** `ids` with its first column replaced by [DEC], int32 [B, L]. */
  decoderIds(ids: Tensor): Tensor {
    return tf.tidy(() => {
      const [b, l] = ids.shape as number[];
      return tf.concat([tf.fill([b, 1], this.opts.bosId, 'int32'), ids.slice([0, 1], [b, l - 1])], 1);
    });
  }

  /**
   * DualEncoder image side: vision_proj of each query output, not normalised. @param images float32 [B, C, H, W]
   * @returns float32 [B, Nq, E]; zero-shot and retrieval score them by {@link similarity}, as the ITC loss does
   */
  encodeImage(images: Tensor): Tensor {
    return tf.tidy(() => this.visionProj.apply(this.queryOutput(this.imageEmbeds(images))));
  }

  /**
   * DualEncoder scores: the highest query-text cosine (section 3.2; LAVIS's retrieval ranks by it too).
   * @param imageEmbeddings float32 [N, Nq, E] normalised @param textEmbeddings float32 [M, E] normalised
   * @returns float32 [N, M]
   */
  similarity(imageEmbeddings: Tensor, textEmbeddings: Tensor): Tensor {
    return tf.tidy(() => this.querySimilarity(imageEmbeddings, textEmbeddings).sim);
  }

  /** DualEncoder text side: text_proj of the unimodal [CLS], not normalised. @param ids int32 [B, L] @returns float32 [B, E] */
  encodeText(ids: Tensor): Tensor {
    return tf.tidy(() => this.textProj.apply(firstToken(this.textOutput(ids, this.validMask(ids)))));
  }

  /** ItmScorer: the image features to cache. @param images float32 [B, C, H, W] @returns float32 [B, M, Dv] */
  itmImageFeatures(images: Tensor): Tensor {
    return this.imageEmbeds(images);
  }

  /** ItmScorer: the ids and their attention mask per caption. @returns [int32 [B, L], int32 [B, L]] */
  itmTextFeatures(ids: Tensor): Tensor[] {
    return tf.tidy(() => [ids.clone(), this.validMask(ids)]);
  }

  /** ItmScorer: match log-odds of K pairs. @param image float32 [K, M, Dv] @param text [ids, valid] @returns float32 [K] */
  itmScore(image: Tensor, text: Tensor[]): Tensor {
    return tf.tidy(() => itmLogOdds(this.itmForward(image, text[0], text[1]).logits));
  }

  /**
   * One stage-1 forward (LAVIS `Blip2Qformer.forward`) with every intermediate: clamp the temperature (no gradient),
   * ITC, ITM with hard negatives drawn from the ITC similarities (constants for autograd), ITG. Call inside
   * `tf.variableGrads` to train; the returned tensors belong to the caller.
   * @throws Error when a similarity is not finite (a diverged model), or on inconsistent shapes
   */
  step(x: Blip2StepInputs): Blip2StepOutput {
    clampTemperature(this.temp, this.opts.tempClamp);
    const ids = Array.from(x.imageIds);
    const smoothing = this.opts.labelSmoothing;
    return tf.tidy(() => {
      const [b, l] = x.ids.shape as number[];
      const valid = x.valid ?? this.validMask(x.ids);
      const imageEmbeds = this.imageEmbeds(x.images);

      // ITC (section 3.2): uni-modal passes, max over queries
      const queryOutput = this.queryOutput(imageEmbeds);
      const visionProjOut = this.visionProj.apply(queryOutput);
      const imageFeatures = l2Normalize(visionProjOut);
      const textOutput = this.textOutput(x.ids, valid);
      const textProjOut = this.textProj.apply(firstToken(textOutput));
      const textFeatures = l2Normalize(textProjOut);
      const { simQ2t, sim } = this.querySimilarity(imageFeatures, textFeatures);
      const simI2t = sim.div(this.temp);
      const simT2i = simI2t.transpose();
      const targets = tf.range(0, b, 1, 'int32');
      const itcLoss = crossEntropy(simI2t, targets, { labelSmoothing: smoothing })
        .add(crossEntropy(simT2i, targets, { labelSmoothing: smoothing })).div(tf.scalar(2));

      // ITM (section 3.2): bidirectional [queries; text] on positives and hard negatives
      const pairs = sampleItmPairs(simI2t, simT2i, ids, x.rng, { eps: this.opts.hardNegativeEps });
      const textIndex = tf.tensor1d(pairs.textIndex, 'int32');
      const itm = this.itmForward(gatherRows(imageEmbeds, pairs.imageIndex), tf.gather(x.ids, textIndex), tf.gather(valid, textIndex));
      const labelsTensor = tf.tensor1d(pairs.labels, 'int32');
      const itmLoss = crossEntropy(itm.logits, labelsTensor);

      // ITG (section 3.2): [DEC] first, multimodal causal mask, predict token t + 1, padding ignored
      const decoderIds = this.decoderIds(x.ids);
      const itgTargets = tf.where(valid.cast('bool'), decoderIds, tf.fill([b, l], -100, 'int32'));
      const itg = this.itgForward(imageEmbeds, decoderIds, valid);
      const v = itg.logits.shape[2] as number;
      const itgLoss = crossEntropy(
        itg.logits.slice([0, 0, 0], [b, l - 1, v]).reshape([-1, v]), itgTargets.slice([0, 1], [b, l - 1]).reshape([-1]),
        { labelSmoothing: smoothing },
      );

      return {
        total: itcLoss.add(itmLoss).add(itgLoss), parts: { itc: itcLoss, itm: itmLoss, itg: itgLoss },
        imageEmbeds, queryOutput, visionProjOut, imageFeatures, textOutput, textProjOut, textFeatures,
        itc: { simQ2t, simI2t, simT2i, loss: itcLoss },
        itm: { ...pairs, hidden: itm.hidden, perQueryLogits: itm.perQuery, logits: itm.logits, labelsTensor, loss: itmLoss },
        itg: { decoderIds, targets: itgTargets, textOutput: itg.textOutput, logits: itg.logits, loss: itgLoss },
      };
    });
  }

  /**
   * The trainer's objective ITC + ITM + ITG (LAVIS blip2_qformer.py), parts `itc`, `itm`, `itg`. Hard negatives come
   * from core's `stepRng('blip2', batch)`, so a resumed run repeats them exactly.
   */
  trainingLoss(batch: ImageTextBatch): LossOutput {
    const rng = stepRng('blip2', batch);
    return tf.tidy(() => {
      const out = this.step({ images: batch.image, ids: batch.text, imageIds: batch.imageIds, rng });
      return { total: out.total, parts: out.parts };
    });
  }
}

/**
 * Builds BLIP-2's stage-1 model from a `model:` config: the ViT (blocks up to `featureLayer`, `ln_post` when
 * `finalNorm`), `ln_vision`, the Q-Former with its LM head (tied or not), the projections, the ITM head and the
 * temperature. Without a configured `bosId` the vocabulary grows by one row for [DEC] (id V).
 * @param parts the tokenizer's vocabulary size and padding id, used where the config leaves them out
 * @throws ZodError for an invalid config; Error when no vocabulary size is known
 */
export function buildBlip2(input: Blip2ConfigInput | Blip2Config, parts: BuildParts = {}): Blip2Qformer {
  const cfg = Blip2ConfigSchema.parse(input);
  const v = cfg.vision;
  const q = cfg.qformer;
  const baseVocab = resolveVocabSize(q.vocabSize, parts, 'model.qformer.vocabSize');
  const bosId = q.bosId ?? baseVocab;
  const vocabSize = Math.max(baseVocab, bosId + 1);
  const visual = buildBlip2Vision(v);
  const lnVision = new LayerNorm(v.width, cfg.lnVisionEps);
  const qformer = new QFormer({
    numQueries: q.numQueries, vocabSize, maxPositions: q.maxPositions ?? q.contextLength, width: q.width, layers: q.layers,
    numHeads: q.numHeads, mlpWidth: Math.round(q.width * q.mlpRatio), visionWidth: v.width, crossAttentionFreq: q.crossAttentionFreq,
    lnEps: q.lnEps, std: q.initStd, maskValue: q.maskValue, lmHead: q.lmHead,
  });
  return new Blip2Qformer(
    visual, lnVision, qformer, new Linear(q.width, cfg.embedDim, { std: q.initStd }), new Linear(q.width, cfg.embedDim, { std: q.initStd }),
    new Linear(q.width, 2, { std: q.initStd }),
    {
      temp: cfg.temp, learnableTemp: cfg.learnableTemp, tempClamp: cfg.tempClamp, labelSmoothing: cfg.labelSmoothing,
      hardNegativeEps: cfg.hardNegativeEps, padId: q.padId ?? parts.padId ?? 0, bosId,
    },
  );
}
