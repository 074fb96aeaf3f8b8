import { tf, Tensor4D } from '../tf';

/**
 * The keys and values a decoder has computed, per attention layer, so that a generation step runs only the new
 * tokens (llama2.c `run.c` `key_cache` / `value_cache`; HF `past_key_values`). Keys are stored after RoPE and
 * before key/value heads are repeated, [B, KV, S, d]; a step appends its T new positions at S, S + 1, ... .
 * The cache owns its tensors (kept out of every `tf.tidy`) until {@link KVCache.dispose}.
 *
 * A forward pass with a cache: read {@link KVCache.length} (the positions already cached), let each layer call
 * {@link KVCache.append}, then {@link KVCache.commit}.
 */
export class KVCache {
  private readonly keys: (Tensor4D | undefined)[];
  private readonly values: (Tensor4D | undefined)[];
  private committed = 0;

  /** @param numLayers attention layers of the model */
  constructor(readonly numLayers: number) {
    this.keys = new Array(numLayers).fill(undefined);
    this.values = new Array(numLayers).fill(undefined);
  }

  /** positions cached by every layer (0 when empty) */
  get length(): number {
    return this.committed;
  }

  /**
   * Appends one layer's keys and values for the new positions and returns all of them (cached first). The
   * returned tensors belong to the cache: use them, never dispose them.
   * @param layer layer index in [0, numLayers)
   * @param k float32 [B, KV, T, d] new keys (after RoPE)
   * @param v float32 [B, KV, T, dv] new values
   * @returns keys [B, KV, S + T, d] and values [B, KV, S + T, dv]
   * @throws Error for a layer out of range, a layer appended twice in one step, or shapes that differ from the cached ones
   */
  append(layer: number, k: Tensor4D, v: Tensor4D): { k: Tensor4D; v: Tensor4D } {
    if (!(Number.isInteger(layer) && layer >= 0 && layer < this.numLayers)) throw new Error(`KVCache: layer ${layer} is not in [0, ${this.numLayers})`);
    const oldK = this.keys[layer];
    const oldV = this.values[layer];
    const have = oldK ? oldK.shape[2] : 0;
    if (have !== this.committed) throw new Error(`KVCache: layer ${layer} already holds ${have} positions, the cache ${this.committed} (appended twice without commit?)`);
    if (oldK && oldV && (oldK.shape[0] !== k.shape[0] || oldK.shape[1] !== k.shape[1] || oldK.shape[3] !== k.shape[3] || oldV.shape[3] !== v.shape[3])) {
      throw new Error(`KVCache: layer ${layer} keys [${k.shape}] do not extend the cached [${oldK.shape}]`);
    }
    const newK = tf.keep(oldK ? tf.concat([oldK, k], 2) : k.clone()) as Tensor4D;
    const newV = tf.keep(oldV ? tf.concat([oldV, v], 2) : v.clone()) as Tensor4D;
    tf.dispose([oldK, oldV].filter((t): t is Tensor4D => t !== undefined));
    this.keys[layer] = newK;
    this.values[layer] = newV;
    return { k: newK, v: newV };
  }

  /**
   * Ends a step: every layer must have appended the same number of new positions, which {@link KVCache.length} then counts.
   * @throws Error when the layers disagree (a step that failed part way)
   */
  commit(): void {
    const lengths = this.keys.map((k) => (k ? k.shape[2] : 0));
    if (lengths.some((n) => n !== lengths[0])) throw new Error(`KVCache: layers hold different lengths [${lengths}] at commit`);
    this.committed = lengths[0];
  }

  /**
   * Keeps the batch rows `rows` of every layer, in that order (a row may repeat, any may go): beam search's reordering
   * when beams are re-selected, and dropping the rows of finished sequences. The length is unchanged.
   * @param rows indices into the current batch
   * @throws Error when a row is not an integer in [0, B) or the cache is empty
   */
  select(rows: readonly number[]): void {
    const batch = this.keys[0]?.shape[0];
    if (batch === undefined || this.committed === 0) throw new Error('KVCache.select: the cache is empty');
    const bad = rows.find((r) => !(Number.isInteger(r) && r >= 0 && r < batch));
    if (bad !== undefined) throw new Error(`KVCache.select: row ${bad} is not in [0, ${batch})`);
    const pick = (t: Tensor4D | undefined) => (t ? (tf.keep(tf.tidy(() => tf.gather(t, Array.from(rows), 0))) as Tensor4D) : undefined);
    const keys = this.keys.map(pick);
    const values = this.values.map(pick);
    this.dispose();
    keys.forEach((k, i) => (this.keys[i] = k));
    values.forEach((v, i) => (this.values[i] = v));
    this.committed = keys[0]!.shape[2];
  }

  /** Frees every cached tensor; the cache is empty afterwards. */
  dispose(): void {
    tf.dispose([...this.keys, ...this.values].filter((t): t is Tensor4D => t !== undefined));
    this.keys.fill(undefined);
    this.values.fill(undefined);
    this.committed = 0;
  }
}
