import { tf, Tensor, Tensor2D, Variable } from '../tf';
import { embeddingLookup } from '../ops/embedding';
import { Module } from './module';
import { zerosInit } from './init';

/**
 * Relative position bias (BEiT, Bao et al. 2022 "BEiT: BERT Pre-Training of Image Transformers", section 2.5;
 * VLMo, Bao et al. 2022, section 3.1 and the unilm `vlmo_module.py` tables): one learnable table of scalars per
 * (relative distance, layer, head), gathered through integer index matrices into an additive attention bias
 * [heads, Nq, Nk] that carries gradient into the table.
 */

/** An index matrix into a relative position bias table. */
export interface RelativePositionIndex {
  /** int32 values, row-major [rows, cols]: entry (i, j) is the table row of query i and key j */
  index: Int32Array;
  rows: number;
  cols: number;
}

/**
 * The number of table rows BEiT's image layout uses: `(2h - 1)(2w - 1)` patch-to-patch distances plus three
 * rows for class-to-patch, patch-to-class and class-to-class.
 * @param grid patch grid [h, w]
 */
export function imageRelativeDistances(grid: [number, number]): number {
  return (2 * grid[0] - 1) * (2 * grid[1] - 1) + 3;
}

/**
 * BEiT / VLMo image index matrix [1 + h w, 1 + h w] (class token first). Patches i, j at (r, c), numbered
 * row-major, give `(r_i - r_j + h - 1) * (2w - 1) + (c_i - c_j + w - 1)` (query minus key); the class query
 * row is `D - 3`, the class key column `D - 2` and entry [0, 0] is `D - 1`, where D = {@link imageRelativeDistances}.
 * @param grid patch grid [h, w], positive integers
 */
export function imageRelativePositionIndex(grid: [number, number]): RelativePositionIndex {
  const [h, w] = grid;
  const d = imageRelativeDistances(grid);
  const n = 1 + h * w;
  const index = new Int32Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let v: number;
      if (i === 0 && j === 0) v = d - 1;
      else if (i === 0) v = d - 3;
      else if (j === 0) v = d - 2;
      else {
        const ri = Math.floor((i - 1) / w);
        const ci = (i - 1) % w;
        const rj = Math.floor((j - 1) / w);
        const cj = (j - 1) % w;
        v = (ri - rj + h - 1) * (2 * w - 1) + (ci - cj + w - 1);
      }
      index[i * n + j] = v;
    }
  }
  return { index, rows: n, cols: n };
}

/** Sizes of VLMo's joint relative position table. */
export interface VlmoRelativeLayout {
  /** image rows D = (2h-1)(2w-1)+3 at the start of the table */
  imageDistances: number;
  /** text rows 2 * maxTextLenOfInitCkpt, after the image rows and the two cross-modal rows */
  textDistances: number;
  /** all rows: D + 2 * maxTextLenOfInitCkpt + 2 */
  total: number;
}

/**
 * The row layout of VLMo's table (`all_num_relative_distance`): image rows [0, D), text-to-image row D,
 * image-to-text row D + 1, text rows after them, and the text class rows at total - 3 .. total - 1.
 * @param grid patch grid [h, w]
 * @param maxTextLenOfInitCkpt the text length the table was first built for (VLMo: 196)
 */
export function vlmoRelativeLayout(grid: [number, number], maxTextLenOfInitCkpt: number): VlmoRelativeLayout {
  const imageDistances = imageRelativeDistances(grid);
  const textDistances = 2 * maxTextLenOfInitCkpt;
  return { imageDistances, textDistances, total: imageDistances + textDistances + 2 };
}

/**
 * VLMo's text index matrix [L, L] (unilm `text_relative_position_index`): for i, j >= 1 the entry is
 * `(j - i) + maxTextLenOfInitCkpt - 2 + D + 2` (key minus query); row 0 is `total - 3`, column 0 `total - 2`,
 * [0, 0] is `total - 1`.
 * @param textLen L (at most maxTextLenOfInitCkpt)
 * @throws Error when textLen exceeds maxTextLenOfInitCkpt
 */
export function vlmoTextRelativePositionIndex(textLen: number, grid: [number, number], maxTextLenOfInitCkpt: number): RelativePositionIndex {
  if (textLen > maxTextLenOfInitCkpt) throw new Error(`text length ${textLen} exceeds maxTextLenOfInitCkpt ${maxTextLenOfInitCkpt}`);
  const { imageDistances: d, total } = vlmoRelativeLayout(grid, maxTextLenOfInitCkpt);
  const n = textLen;
  const index = new Int32Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let v: number;
      if (i === 0 && j === 0) v = total - 1;
      else if (j === 0) v = total - 2;
      else if (i === 0) v = total - 3;
      else v = j - i + (maxTextLenOfInitCkpt - 2) + d + 2;
      index[i * n + j] = v;
    }
  }
  return { index, rows: n, cols: n };
}

/**
 * VLMo's image-text index matrix [L + 1 + hw, L + 1 + hw] for the fusion order text first, then image: the
 * text block, the image block, text-to-image entries `D` and image-to-text entries `D + 1`.
 */
export function vlmoFusionRelativePositionIndex(textLen: number, grid: [number, number], maxTextLenOfInitCkpt: number): RelativePositionIndex {
  const text = vlmoTextRelativePositionIndex(textLen, grid, maxTextLenOfInitCkpt);
  const image = imageRelativePositionIndex(grid);
  const d = imageRelativeDistances(grid);
  const nt = text.rows;
  const ni = image.rows;
  const n = nt + ni;
  const index = new Int32Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let v: number;
      if (i < nt && j < nt) v = text.index[i * nt + j];
      else if (i >= nt && j >= nt) v = image.index[(i - nt) * ni + (j - nt)];
      else v = i < nt ? d : d + 1;
      index[i * n + j] = v;
    }
  }
  return { index, rows: n, cols: n };
}

/**
 * A relative position bias table shared by all layers (VLMo `relative_position_bias_table` [rows, layers *
 * heads], column = layer * heads + head). Registered under `relative_position_bias_table` (put it in the model
 * with an empty module name to keep the reference name at the top level). Initialised to zeros, as in BEiT.
 */
export class RelativePositionBias extends Module {
  readonly table: Variable;

  /**
   * @param rows number of relative distances (table rows)
   * @param layers number of transformer layers
   * @param numHeads heads per layer
   */
  constructor(readonly rows: number, readonly layers: number, readonly numHeads: number) {
    super();
    this.table = this.param('relative_position_bias_table', zerosInit([rows, layers * numHeads]));
  }

  /**
   * The additive attention bias of every layer, gathered once from the table (the gather's gradient is a
   * plain matmul on wasm, see ops/embedding.ts).
   * @param rel an index matrix (e.g. {@link imageRelativePositionIndex}) whose entries are < rows
   * @returns one float32 [1, heads, rows, cols] tensor per layer, carrying gradient into the table
   * @throws Error when an index is out of range
   */
  layerBiases(rel: RelativePositionIndex): Tensor[] {
    for (const v of rel.index) if (v < 0 || v >= this.rows) throw new Error(`relative position index ${v} outside the table's ${this.rows} rows`);
    return tf.tidy(() => {
      const idx = tf.tensor1d(rel.index, 'int32');
      const h = this.numHeads;
      const all = embeddingLookup(this.table as Tensor2D, idx).reshape([rel.rows, rel.cols, this.layers, h]).transpose([2, 3, 0, 1]);
      const out: Tensor[] = [];
      for (let l = 0; l < this.layers; l++) out.push(all.slice([l, 0, 0, 0], [1, h, rel.rows, rel.cols]));
      return out;
    });
  }
}
