/**
 * Interpolated Kneser-Ney n-gram language models over token ids: the baseline a pretrained LM's held-out perplexity
 * is compared with (issue 16, "Done when"). Interpolated Kneser-Ney as Chen & Goodman 1998 ("An Empirical Study of
 * Smoothing Techniques for Language Modeling", Harvard TR-10-98) define it, with one discount per order estimated as
 * `D = n1 / (n1 + 2 n2)` (Ney, Essen & Kneser 1994; given there with absolute discounting).
 *
 * With `order` N, the probability of token w after the context h (its last N-1 ids) is, level by level,
 *
 *   P_k(w | h) = (max(c_k(h w) - D_k, 0) + D_k * T_k(h) * P_{k-1}(w | h')) / S_k(h)     (h' = h without its first id)
 *   P_0(w)     = 1 / V                                                                 (uniform over the vocabulary)
 *
 * where c_N are the n-gram counts of the training ids, c_k for k < N the continuation counts (the number of distinct
 * ids x with c_{k+1}(x h w) > 0), S_k(h) = sum_w c_k(h w), T_k(h) = the number of w with c_k(h w) > 0, and D_k =
 * n1 / (n1 + 2 n2) with n1, n2 the numbers of level-k n-grams whose count is exactly 1 and 2. When a level has no
 * n-gram of count 1 (n1 = 0, common for continuation counts of a small vocabulary over much text), the formula gives
 * 0, which would leave ids unseen after a context with no probability; D_k = 1/2 then ({@link FALLBACK_DISCOUNT}, as
 * KenLM's `--discount_fallback`). A context never seen at level k (S_k(h) = 0) takes P_{k-1}(w | h') whole. Since
 * 0 < D_k <= 1, every id of the vocabulary has a probability > 0 and the probabilities of the V ids sum to 1 for
 * every context.
 *
 * N-grams are counted inside each sequence, never across two. Near a sequence's start, where fewer than N-1 ids
 * precede a token, it is scored at the level of the context it has (P_{i+1} for the token at position i).
 */

/** The discount of a level whose n-grams include none of count 1 (where n1 / (n1 + 2 n2) would be 0). */
export const FALLBACK_DISCOUNT = 0.5;

/** Options of {@link KneserNey.fit}. */
export interface KneserNeyOptions {
  /** n-gram order N: 2 (bigram), 3 (trigram), ... */
  order: number;
  /** V: ids are integers in [0, V) */
  vocabSize: number;
}

/** What {@link KneserNey.perplexity} measures. */
export interface Perplexity {
  /** exp(nll) */
  perplexity: number;
  /** mean negative log-likelihood per scored token, in nats */
  nll: number;
  /** number of scored tokens */
  tokens: number;
}

/** The counts after one context at one level: S_k(h), T_k(h) and c_k(h w) by w. */
interface ContextCounts {
  total: number;
  counts: Map<number, number>;
}

/** @throws Error `Kneser-Ney: <where>, position i: id x is not an integer in [0, V)` */
function checkIds(seq: ArrayLike<number>, vocabSize: number, where: string): void {
  for (let i = 0; i < seq.length; i++) {
    const id = seq[i];
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize) throw new Error(`Kneser-Ney: ${where}, position ${i}: id ${id} is not an integer in [0, ${vocabSize})`);
  }
}

/** An interpolated Kneser-Ney model fitted on training ids ({@link KneserNey.fit}). */
export class KneserNey {
  /** the discount D_k of each level k = 1..N (index k-1): n1 / (n1 + 2 n2), or {@link FALLBACK_DISCOUNT} when n1 = 0 */
  readonly discounts: readonly number[];

  private constructor(
    readonly order: number,
    readonly vocabSize: number,
    /** level k (index k-1): context key (the k-1 ids in base V) -> counts */
    private readonly levels: readonly Map<number, ContextCounts>[],
  ) {
    this.discounts = levels.map((level) => {
      let n1 = 0;
      let n2 = 0;
      for (const { counts } of level.values()) {
        for (const c of counts.values()) {
          if (c === 1) n1++;
          else if (c === 2) n2++;
        }
      }
      return n1 === 0 ? FALLBACK_DISCOUNT : n1 / (n1 + 2 * n2);
    });
  }

  /**
   * Counts the n-grams of the training sequences (each an array of ids; n-grams never cross two sequences).
   * @throws Error when order is not an integer >= 1, V^(order-1) exceeds 2^53 (contexts are packed into numbers), an
   *   id is not an integer in [0, V) (naming the sequence and position), or the sequences hold no n-gram of the order
   */
  static fit(sequences: readonly ArrayLike<number>[], opts: KneserNeyOptions): KneserNey {
    const { order: N, vocabSize: V } = opts;
    if (!Number.isInteger(N) || N < 1) throw new Error(`Kneser-Ney: order must be an integer >= 1, got ${N}`);
    if (!Number.isInteger(V) || V < 1) throw new Error(`Kneser-Ney: vocabSize must be an integer >= 1, got ${V}`);
    if (V ** (N - 1) > Number.MAX_SAFE_INTEGER) throw new Error(`Kneser-Ney: vocabSize ${V} ^ ${N - 1} is too large to number the contexts`);
    sequences.forEach((seq, s) => checkIds(seq, V, `training sequence ${s}`));
    const levels: Map<number, ContextCounts>[] = Array.from({ length: N }, () => new Map());
    const add = (level: Map<number, ContextCounts>, h: number, w: number) => {
      let ctx = level.get(h);
      if (!ctx) level.set(h, (ctx = { total: 0, counts: new Map() }));
      ctx.total++;
      ctx.counts.set(w, (ctx.counts.get(w) ?? 0) + 1);
    };
    // level N: raw counts of the full n-grams
    for (const seq of sequences) {
      for (let i = N - 1; i < seq.length; i++) {
        let h = 0;
        for (let j = i - N + 1; j < i; j++) h = h * V + seq[j];
        add(levels[N - 1], h, seq[i]);
      }
    }
    if (levels[N - 1].size === 0) throw new Error(`Kneser-Ney: the training ids hold no ${N}-gram (every sequence is shorter than ${N})`);
    // level k < N: each distinct (x h, w) of level k+1 adds 1 to c_k(h w)
    for (let k = N - 1; k >= 1; k--) {
      const drop = V ** (k - 1); // h of length k-1 is the last k-1 ids of x h
      for (const [xh, { counts }] of levels[k]) for (const w of counts.keys()) add(levels[k - 1], xh % drop, w);
    }
    return new KneserNey(N, V, levels);
  }

  /** P_k(w | the k-1 ids of `ctx` ending at `end`), for k = 0..N. */
  private levelProb(k: number, ctx: ArrayLike<number>, end: number, w: number): number {
    if (k === 0) return 1 / this.vocabSize;
    const lower = this.levelProb(k - 1, ctx, end, w);
    let h = 0;
    for (let j = end - k + 1; j < end; j++) h = h * this.vocabSize + ctx[j];
    const counts = this.levels[k - 1].get(h);
    if (!counts) return lower;
    const D = this.discounts[k - 1];
    return (Math.max((counts.counts.get(w) ?? 0) - D, 0) + D * counts.counts.size * lower) / counts.total;
  }

  /**
   * P(token | context): the context's last N-1 ids are used (all of them when it has fewer, at the matching level).
   * @returns a probability in (0, 1]
   * @throws Error when an id is not an integer in [0, V)
   */
  prob(context: ArrayLike<number>, token: number): number {
    checkIds(context, this.vocabSize, 'context');
    if (!Number.isInteger(token) || token < 0 || token >= this.vocabSize) throw new Error(`Kneser-Ney: token ${token} is not an integer in [0, ${this.vocabSize})`);
    const k = Math.min(context.length, this.order - 1) + 1;
    return this.levelProb(k, context, context.length, token);
  }

  /**
   * Perplexity of held-out sequences: exp of the mean of -log P(id | the ids before it) over every id but each
   * sequence's first (a context only, as a causal LM scores a sequence).
   * @throws Error when an id is not an integer in [0, V) (naming the sequence and position) or nothing is scored
   */
  perplexity(sequences: readonly ArrayLike<number>[]): Perplexity {
    let nll = 0;
    let tokens = 0;
    sequences.forEach((seq, s) => {
      checkIds(seq, this.vocabSize, `held-out sequence ${s}`);
      for (let i = 1; i < seq.length; i++) {
        nll -= Math.log(this.levelProb(Math.min(i, this.order - 1) + 1, seq, i, seq[i]));
        tokens++;
      }
    });
    if (tokens === 0) throw new Error('Kneser-Ney: no held-out token to score (every sequence has fewer than 2 ids)');
    return { perplexity: Math.exp(nll / tokens), nll: nll / tokens, tokens };
  }
}

/**
 * The baselines: interpolated Kneser-Ney bigram and trigram models fitted on `train`, their perplexities on
 * `heldOut` ({@link KneserNey.perplexity}).
 * @throws Error as {@link KneserNey.fit} and {@link KneserNey.perplexity}
 */
export function kneserNeyBaselines(train: readonly ArrayLike<number>[], heldOut: readonly ArrayLike<number>[], vocabSize: number): { bigram: Perplexity; trigram: Perplexity } {
  return {
    bigram: KneserNey.fit(train, { order: 2, vocabSize }).perplexity(heldOut),
    trigram: KneserNey.fit(train, { order: 3, vocabSize }).perplexity(heldOut),
  };
}
