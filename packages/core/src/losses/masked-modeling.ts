import { tf, Tensor, Tensor2D } from '../tf';
import { embeddingLookup } from '../ops/embedding';
import { crossEntropy } from './cross-entropy';

/**
 * Mean cross-entropy of a prediction head over selected token positions (masked language / image / data modeling:
 * BERT section 3.1, BEiT section 2.3, BEiT-3 section 2.2, VLMo section 3.2-3.3): the rows of `feats` at flat
 * positions b * N + n are gathered (with a gradient that also trains on wasm), mapped by `head` to logits and
 * scored against `labels`.
 * @param feats float32 [B, N, width] encoder output
 * @param positions flat positions b * N + n of the masked tokens, in any order
 * @param labels int32 target id per position (same length)
 * @param head width -> logits [M, classes] (e.g. a Linear MIM head over the visual-token codebook)
 * @returns float32 scalar; 0 when there are no positions
 * @throws RangeError when positions and labels differ in length
 */
export function maskedPredictionLoss(feats: Tensor, positions: readonly number[], labels: readonly number[], head: (x: Tensor) => Tensor): Tensor {
  if (positions.length !== labels.length) throw new RangeError(`maskedPredictionLoss: ${positions.length} positions but ${labels.length} labels`);
  return tf.tidy(() => {
    if (positions.length === 0) return tf.scalar(0);
    const [b, n, w] = feats.shape as [number, number, number];
    const picked = embeddingLookup(feats.reshape([b * n, w]) as Tensor2D, tf.tensor1d(positions as number[], 'int32'));
    return crossEntropy(head(picked), tf.tensor1d(labels as number[], 'int32'));
  });
}

/**
 * Masked image modeling (BEiT section 2.3; BEiT-3 section 2.2; VLMo's image-only stage, section 3.3): the visual
 * token of each masked patch is predicted from the encoder output at that patch.
 * @param feats float32 [B, N, width] with image patch p of image r at token `offset + p` (offset 1 after a class
 *   token; more when text tokens come first)
 * @param rows the masked patch indices of each image (e.g. from blockMaskBatch)
 * @param targets int32 [B * patches] visual tokens of every patch (e.g. KMeansVisualTokenizer.encode)
 * @param numPatches patches per image
 * @param head width -> logits over the codebook
 * @returns float32 scalar, the mean over all masked patches of the batch
 */
export function maskedImageModelingLoss(feats: Tensor, rows: readonly (readonly number[])[], targets: Int32Array, numPatches: number, head: (x: Tensor) => Tensor, offset = 1): Tensor {
  const n = (feats.shape as number[])[1];
  const positions: number[] = [];
  const labels: number[] = [];
  rows.forEach((ps, r) => ps.forEach((p) => {
    positions.push(r * n + offset + p);
    labels.push(targets[r * numPatches + p]);
  }));
  return maskedPredictionLoss(feats, positions, labels, head);
}

/**
 * Where the masked tokens of a text stand in an encoder's output, and their targets, for
 * {@link maskedPredictionLoss}: text row r's token t stands at flat position `r * stride + offset + t`.
 * @param labels int32 row-major [B, L]: the original id of each masked token, -100 elsewhere (maskTokens' labels)
 * @param length L, the text tokens per row
 * @param opts.stride tokens per row of the encoder output (default L: a text-only sequence); opts.offset where the
 *   text starts in a row (default 0; 1 + patches after an image, BEiT-3's [image; text] pairs)
 * @returns flat positions and labels, row-major
 */
export function maskedTextPositions(labels: Int32Array, length: number, opts: { stride?: number; offset?: number } = {}): { positions: number[]; labels: number[] } {
  const stride = opts.stride ?? length;
  const offset = opts.offset ?? 0;
  const positions: number[] = [];
  const out: number[] = [];
  labels.forEach((v, k) => {
    if (v === -100) return;
    positions.push(Math.floor(k / length) * stride + offset + (k % length));
    out.push(v);
  });
  return { positions, labels: out };
}
