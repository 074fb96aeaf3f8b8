import { tf, Tensor } from '../tf';
import { gatherRows } from '../ops/gather-rows';
import { IMAGE_TOKEN_INDEX } from '../spec/model-spec';
import type { CausalLM } from '../generate/causal-lm';

/** Options of {@link spliceImageEmbeds}. */
export interface SpliceImageOptions {
  /** int32 [B, L]: shifted labels aligned with the ids (`labels[:, t]` the target of position t; -100 not scored) */
  labels?: Tensor;
  /** int32 or float32 [B, L], 1 = real token, 0 = padding */
  attentionMask?: Tensor;
  /** the id looked up at the placeholder before it is replaced (default 0; its embedding is never used) */
  padId?: number;
}

/** Output of {@link spliceImageEmbeds}, M = L - 1 + N (a type alias, so that it can leave a `tf.tidy`). */
export type SplicedImageInputs = {
  /** float32 [B, M, D]: the LM's input embeddings, each row's image embeddings where its placeholder was */
  embeds: Tensor;
  /** int32 [B, M] (with `opts.labels`): N - 1 times -100 at the image, then the placeholder's own label */
  labels?: Tensor;
  /** [B, M], the given mask's dtype (with `opts.attentionMask`): 1 at the N image positions */
  attentionMask?: Tensor;
};

/**
 * Puts a visual soft prompt into a decoder LM's input embeddings where each row's {@link IMAGE_TOKEN_INDEX} stands
 * (LLaVA `llava_arch.py` `prepare_inputs_labels_for_multimodal`; MiniGPT-4's `<ImageHere>`; BLIP-2's prefix when the
 * placeholder is first): the ids are embedded by the LM's own token embedding, then each row's placeholder is
 * replaced by that row's N image embeddings, in one gather over `concat([token embeds, image], 1)`, so the rows may
 * have it at different positions and gradients flow into `image` (the trainable bridge's output). The label of the
 * i-th image position is -100 for i < N - 1 and the placeholder's own label for the last, which predicts the token
 * after the image.
 * @param lm the LM whose `embedTokens` embeds the ids (width `embedDim`)
 * @param ids int32 [B, L] token ids with exactly one IMAGE_TOKEN_INDEX (-200) per row
 * @param image float32 [B, N, D] each row's image embeddings, D = lm.embedDim, N >= 1
 * @param opts labels and attention mask to splice alike (each [B, L]), and the placeholder's stand-in id
 * @returns embeds float32 [B, L - 1 + N, D], and labels / attentionMask [B, L - 1 + N] when given
 * @throws Error `spliceImageEmbeds: ...` (one line) when ids is not [B, L], image not float32 [B, N, lm.embedDim], a
 *   row has no placeholder or more than one (naming the row and the count), or labels / attentionMask are not [B, L]
 */
export function spliceImageEmbeds(lm: Pick<CausalLM, 'embedTokens' | 'embedDim'>, ids: Tensor, image: Tensor, opts: SpliceImageOptions = {}): SplicedImageInputs {
  const who = 'spliceImageEmbeds';
  if (ids.rank !== 2) throw new Error(`${who}: ids must be int32 [B, L], got [${ids.shape}]`);
  const [b, l] = ids.shape;
  const [ib, n, d] = image.shape;
  if (image.rank !== 3 || image.dtype !== 'float32' || ib !== b || !(n >= 1) || d !== lm.embedDim) {
    throw new Error(`${who}: image must be float32 [${b}, N, ${lm.embedDim}] (ids are [${ids.shape}], N >= 1), got ${image.dtype} [${image.shape}]`);
  }
  for (const [key, t] of [['labels', opts.labels], ['attentionMask', opts.attentionMask]] as const) {
    if (t && (t.rank !== 2 || t.shape[0] !== b || t.shape[1] !== l)) throw new Error(`${who}: ${key} must be [${b}, ${l}] like ids, got [${t.shape}]`);
  }
  const rows = ids.arraySync() as number[][];
  const at = rows.map((row, r) => {
    const count = row.filter((id) => id === IMAGE_TOKEN_INDEX).length;
    if (count !== 1) throw new Error(`${who}: row ${r} of ids has ${count} image placeholders (${IMAGE_TOKEN_INDEX}), needs exactly one`);
    return row.indexOf(IMAGE_TOKEN_INDEX);
  });
  // the source column of every output position, per row: tokens before the placeholder, N columns of the image
  // part (`from(i)`), the tokens after it
  const columns = (p: number, from: (i: number) => number) => [
    ...Array.from({ length: p }, (_, j) => j), ...Array.from({ length: n }, (_, i) => from(i)), ...Array.from({ length: l - p - 1 }, (_, j) => p + 1 + j),
  ];
  /** `x` [B, width, ...] gathered at each row's columns, flattened so that one gather serves the batch */
  const splice = (x: Tensor, width: number, from: (p: number, i: number) => number, gather: (flat: Tensor, index: Int32Array) => Tensor) => {
    const index = Int32Array.from(at.flatMap((p, r) => columns(p, (i) => from(p, i)).map((c) => r * width + c)));
    return gather(x.reshape([b * width, ...x.shape.slice(2)]), index).reshape([b, l - 1 + n, ...x.shape.slice(2)]);
  };
  const gatherInts = (flat: Tensor, index: Int32Array) => tf.gather(flat, tf.tensor1d(index, 'int32'));
  return tf.tidy(() => {
    const tokens = lm.embedTokens(tf.where(ids.equal(IMAGE_TOKEN_INDEX), tf.fill(ids.shape, opts.padId ?? 0, 'int32'), ids.toInt()));
    const out: SplicedImageInputs = { embeds: splice(tf.concat([tokens, image], 1), l + n, (_, i) => l + i, gatherRows) };
    if (opts.labels) {
      // column l is -100: the first N - 1 image positions read it, the last reads the placeholder's label
      const labels = tf.concat([opts.labels.toInt(), tf.fill([b, 1], -100, 'int32')], 1);
      out.labels = splice(labels, l + 1, (p, i) => (i === n - 1 ? p : l), gatherInts);
    }
    if (opts.attentionMask) {
      const mask = opts.attentionMask;
      out.attentionMask = splice(tf.concat([mask, tf.ones([b, 1], mask.dtype)], 1), l + 1, () => l, gatherInts);
    }
    return out;
  });
}
