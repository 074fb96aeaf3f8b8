/**
 * The token choice every decoder in mmzoo shares: how a row of next-token logits is processed and a token chosen
 * (greedy, sampling), and beam search's bookkeeping. Host-side and model-free: a {@link TokenSearch} says which
 * hypotheses to score next ({@link TokenSearch.rows}), takes their logits ({@link TokenSearch.advance}) and says
 * which row each new hypothesis extends, so that a caller holding per-row state (a KV cache) can reorder it. The
 * prefix-based `generate` (./decode.ts: CoCa, BLIP) and the KV-cached `generateCausal` (./causal-generate.ts:
 * decoder-only LMs) are two drivers of it.
 */
import { Rng } from '../data/rng';
import { applyRepetitionPenalty, argmax, logSoftmaxRow, nucleus, suppressTokens, topK } from './logits';

/** How tokens are chosen: the most probable, beam search, or a draw from the processed distribution. */
export type SearchStrategy = 'greedy' | 'beam' | 'sample';

/** Everything a {@link TokenSearch} needs, resolved (no defaults left); lengths count generated tokens. */
export interface SearchSettings {
  strategy: SearchStrategy;
  /** most tokens generated per source (a stop token included), >= 1 */
  maxNewTokens: number;
  /** the stop ids are suppressed until this many tokens have been generated, in [0, maxNewTokens] */
  minNewTokens: number;
  /** generating any of these ends a hypothesis (the token is kept); empty: every hypothesis runs to maxNewTokens */
  stopIds: readonly number[];
  /** ids never generated */
  suppressIds: readonly number[];
  /** CTRL repetition penalty over the sequence so far, prompt included (1: none) */
  repetitionPenalty: number;
  /** beam search: hypotheses kept per source */
  numBeams: number;
  /** beam search: a finished hypothesis scores `sum log p / length^lengthPenalty`, length = generated tokens */
  lengthPenalty: number;
  /** sampling: logits are divided by this before the softmax, > 0 */
  temperature: number;
  /** sampling: only the k most probable tokens (and any tied with the k-th) can be drawn; 0: no limit */
  topK: number;
  /** sampling: the nucleus mass kept, in (0, 1]; 1: no limit */
  topP: number;
  /**
   * sampling: a number: source i draws from `new Rng(seed).fork(i)`; one seed per source: source i draws from
   * `new Rng(seed[i]).fork(0)`, the stream a lone prompt with that seed gets, so a row of a batch can be reproduced alone
   */
  seed: number | readonly number[];
}

/**
 * Called with each source's new token as it is chosen (greedy and sampling: every step; beam search: the best
 * hypothesis' tokens, in order, once the search ends). Returning true ends that source after this token (greedy and
 * sampling): how a caller applies stop strings.
 */
export type OnToken = (source: number, token: number) => boolean | void;

/** A hypothesis to score: the source it continues and its sequence so far (prompt followed by generated tokens). */
export interface SearchRow {
  readonly source: number;
  readonly seq: readonly number[];
}

/** The outcome of a search, one entry per source. */
export interface SearchResult {
  /** the prompt followed by the generated tokens (ending with the stop id when one was generated) */
  sequences: number[][];
  /** the generated tokens only */
  tokens: number[][];
  /**
   * greedy and sampling: sum of the log-probabilities of the generated tokens under the processed distribution
   * (penalties and suppression applied; temperature and top-k too when sampling); beam: that sum / length^lengthPenalty
   */
  scores: number[];
}

/** What options are called in the caller's API, for error messages (`generate` says maxLength, minLength, beamSize). */
export interface SettingNames {
  maxNewTokens: string;
  minNewTokens: string;
  numBeams: string;
}

/**
 * Checks resolved settings.
 * @param who prefixes every message (`generate`, `generateCausal`)
 * @param names what the length and beam options are called where they were given
 * @param sources the number of prompts (a seed array must have one seed per prompt)
 * @throws RangeError `<who>: <option> must be ..., got <value>` for the first bad option
 */
export function checkSearchSettings(s: SearchSettings, who: string, names: SettingNames, sources: number): SearchSettings {
  const fail = (msg: string): never => {
    throw new RangeError(`${who}: ${msg}`);
  };
  const isInt = (v: number, min: number) => Number.isInteger(v) && v >= min;
  const ids = (list: readonly number[], key: string) => {
    if (!Array.isArray(list) || !list.every((id) => isInt(id, 0))) fail(`${key} must be a list of integer ids >= 0, got ${JSON.stringify(list)}`);
  };
  if (!['greedy', 'beam', 'sample'].includes(s.strategy)) fail(`unknown strategy '${s.strategy}'; valid: greedy, beam, sample`);
  if (!isInt(s.maxNewTokens, 1)) fail(`${names.maxNewTokens} must be an integer >= 1, got ${s.maxNewTokens}`);
  if (!isInt(s.minNewTokens, 0) || s.minNewTokens > s.maxNewTokens) {
    fail(`${names.minNewTokens} must be an integer in [0, ${names.maxNewTokens} = ${s.maxNewTokens}], got ${s.minNewTokens}`);
  }
  if (!isInt(s.numBeams, 1)) fail(`${names.numBeams} must be an integer >= 1, got ${s.numBeams}`);
  if (!(s.topP > 0 && s.topP <= 1)) fail(`topP must be in (0, 1], got ${s.topP}`);
  if (!isInt(s.topK, 0)) fail(`topK must be an integer >= 0 (0: no limit), got ${s.topK}`);
  if (!(s.temperature > 0)) fail(`temperature must be > 0, got ${s.temperature}`);
  if (!(s.repetitionPenalty > 0)) fail(`repetitionPenalty must be > 0, got ${s.repetitionPenalty}`);
  if (!Number.isFinite(s.lengthPenalty)) fail(`lengthPenalty must be finite, got ${s.lengthPenalty}`);
  ids(s.stopIds, 'stopIds');
  ids(s.suppressIds, 'suppressIds');
  const seeds = typeof s.seed === 'number' ? [s.seed] : s.seed;
  if (!seeds.every(Number.isFinite)) fail(`seed must be a finite number or one per prompt, got ${JSON.stringify(s.seed)}`);
  if (typeof s.seed !== 'number' && s.seed.length !== sources) fail(`seed has ${s.seed.length} entries for ${sources} prompts`);
  return s;
}

/** A running hypothesis: its source, sequence and the sum of its generated tokens' log-probabilities. */
interface Hypothesis {
  source: number;
  seq: number[];
  logp: number;
}

/** A finished beam hypothesis and its length-normalised score. */
interface Finished {
  seq: number[];
  score: number;
}

/**
 * One decoding search over a batch of prompts (one source each). Drive it with
 * `while (!search.done) { logits = <score search.rows>; search.advance(logits); }`, then {@link result}.
 * - greedy: the most probable token at each step;
 * - sample: a draw at `temperature` from the `topK` most probable tokens, cut to the nucleus of mass `topP`
 *   (Holtzman et al. 2020, section 3.1; the order of HF's logits warpers: temperature, top-k, top-p);
 * - beam: beam search (Graves 2012; Sutskever et al. 2014, section 3.1) with `numBeams` hypotheses per source and a
 *   length penalty on finished hypotheses; a stop id among the top `numBeams` candidates finishes a hypothesis
 *   without taking a beam; a source stops when it has `numBeams` finished hypotheses and no running one can still
 *   beat the worst of them.
 * Before a token is chosen its row is processed in this order: repetition penalty (CTRL, Keskar et al. 2019),
 * suppression of `suppressIds`, suppression of the stop ids while fewer than `minNewTokens` were generated.
 */
export class TokenSearch {
  private live: Hypothesis[];
  private step = 0;
  private readonly rngs: Rng[];
  private readonly out: Hypothesis[];
  /** beam search: finished hypotheses per source, best first, at most numBeams */
  private readonly finished: Finished[][];
  /** beam search: sources whose search has ended */
  private readonly closed: boolean[];
  private beamsClosed = false;

  /**
   * @param prompts the sequence so far of each source (the prompt; may be empty, as for a context of input embeddings)
   * @param s checked settings ({@link checkSearchSettings})
   * @param onToken see {@link OnToken}
   */
  constructor(private readonly prompts: readonly (readonly number[])[], private readonly s: SearchSettings, private readonly onToken?: OnToken) {
    this.live = prompts.map((p, source) => ({ source, seq: [...p], logp: 0 }));
    this.out = this.live.map((h) => ({ ...h, seq: [...h.seq] }));
    const seed = s.seed;
    this.rngs = s.strategy !== 'sample' ? [] : prompts.map((_, i) => (typeof seed === 'number' ? new Rng(seed).fork(i) : new Rng(seed[i]).fork(0)));
    this.finished = prompts.map(() => []);
    this.closed = prompts.map(() => false);
  }

  /** The hypotheses to score next, in order (grouped by source, sources ascending); empty once {@link done}. */
  get rows(): readonly SearchRow[] {
    return this.done ? [] : this.live;
  }

  /** True when no hypothesis is left to extend (all stopped, or maxNewTokens reached). */
  get done(): boolean {
    return this.live.length === 0 || this.step >= this.s.maxNewTokens;
  }

  /**
   * Extends the search by one token.
   * @param logits float32 [V] next-token logits of each of {@link rows}, in order
   * @returns for each hypothesis of the new {@link rows}, the index of the old row it extends (its last token is the
   *   new one): the permutation to apply to per-row state such as a KV cache
   * @throws Error when the search is done or `logits` has the wrong number of rows; when every token of a row is suppressed
   */
  advance(logits: readonly Float32Array[]): number[] {
    if (this.done) throw new Error('TokenSearch.advance: the search is done');
    if (logits.length !== this.live.length) throw new Error(`TokenSearch.advance: ${logits.length} logit rows for ${this.live.length} hypotheses`);
    const parents = this.s.strategy === 'beam' ? this.beamStep(logits) : this.singleStep(logits);
    this.step++;
    return parents;
  }

  /**
   * The sequences, generated tokens and scores per source, once {@link done} (beam search: the first call replays each
   * best hypothesis through onToken).
   */
  result(): SearchResult {
    if (this.s.strategy === 'beam' && !this.beamsClosed) this.closeBeams();
    return {
      sequences: this.out.map((h) => h.seq),
      tokens: this.out.map((h, i) => h.seq.slice(this.prompts[i].length)),
      scores: this.out.map((h) => h.logp),
    };
  }

  /** The processed logits of a row: repetition penalty, suppressed ids, no stop id before minNewTokens. */
  private processRow(logits: Float32Array, seq: readonly number[]): Float32Array {
    let x = applyRepetitionPenalty(logits, seq, this.s.repetitionPenalty);
    const banned = [...this.s.suppressIds];
    if (this.step < this.s.minNewTokens) banned.push(...this.s.stopIds);
    if (banned.length > 0) x = suppressTokens(x, banned);
    return x;
  }

  /** Greedy and sampling: each hypothesis takes one token and ends on a stop id, a stop from onToken or maxNewTokens. */
  private singleStep(logits: readonly Float32Array[]): number[] {
    const parents: number[] = [];
    const kept: Hypothesis[] = [];
    this.live.forEach((h, r) => {
      const x = this.processRow(logits[r], h.seq);
      let token: number;
      let logp: Float64Array;
      if (this.s.strategy === 'greedy') {
        logp = logSoftmaxRow(x);
        token = argmax(logp);
      } else {
        const scaled = x.map((v) => v / this.s.temperature);
        logp = logSoftmaxRow(this.s.topK > 0 ? topK(scaled, this.s.topK) : scaled);
        const { ids, probs } = nucleus(Array.from(logp, Math.exp), this.s.topP);
        token = ids[sampleIndex(probs, this.rngs[h.source])];
      }
      h.seq.push(token);
      h.logp += logp[token];
      this.out[h.source] = h;
      const stopped = this.onToken?.(h.source, token) === true;
      if (!stopped && !this.s.stopIds.includes(token) && this.step + 1 < this.s.maxNewTokens) {
        kept.push(h);
        parents.push(r);
      }
    });
    this.live = kept;
    return parents;
  }

  /** Beam search: every running beam's continuations compete within its source; the best numBeams go on. */
  private beamStep(logits: readonly Float32Array[]): number[] {
    const k = this.s.numBeams;
    const generated = this.step + 1;
    const parents: number[] = [];
    const next: Hypothesis[] = [];
    let r = 0;
    while (r < this.live.length) {
      const source = this.live[r].source;
      // every continuation of every beam of this source, best first
      const cands: { row: number; token: number; logp: number }[] = [];
      for (; r < this.live.length && this.live[r].source === source; r++) {
        const b = this.live[r];
        const lp = logSoftmaxRow(this.processRow(logits[r], b.seq));
        for (let t = 0; t < lp.length; t++) if (lp[t] > -Infinity) cands.push({ row: r, token: t, logp: b.logp + lp[t] });
      }
      cands.sort((a, b) => b.logp - a.logp || a.row - b.row || a.token - b.token);
      const beams: Hypothesis[] = [];
      const from: number[] = [];
      for (let c = 0; c < cands.length && beams.length < k; c++) {
        const cand = cands[c];
        const seq = [...this.live[cand.row].seq, cand.token];
        if (this.s.stopIds.includes(cand.token)) {
          // a stop id among the top k candidates finishes a hypothesis (it takes no beam slot)
          if (c < k) addFinished(this.finished[source], { seq, score: this.norm(cand.logp, generated) }, k);
        } else {
          beams.push({ source, seq, logp: cand.logp });
          from.push(cand.row);
        }
      }
      const fin = this.finished[source];
      const best = beams.length ? Math.max(...beams.map((b) => this.norm(b.logp, generated))) : -Infinity;
      const worst = fin.length >= k ? fin[fin.length - 1].score : -Infinity;
      if (beams.length === 0 || (fin.length >= k && best <= worst)) {
        this.closed[source] = true;
        continue;
      }
      next.push(...beams);
      parents.push(...from);
    }
    this.live = next;
    return parents;
  }

  private norm(logp: number, length: number): number {
    return logp / Math.pow(length, this.s.lengthPenalty);
  }

  /** Beam search's answer per source: the best of the finished hypotheses and, for a source not closed, its running beams. */
  private closeBeams(): void {
    const running = new Map<number, Hypothesis[]>();
    this.beamsClosed = true;
    for (const h of this.live) running.set(h.source, [...(running.get(h.source) ?? []), h]);
    this.prompts.forEach((p, s) => {
      const pool = [...this.finished[s]];
      if (!this.closed[s]) for (const b of running.get(s) ?? []) pool.push({ seq: b.seq, score: this.norm(b.logp, b.seq.length - p.length) });
      pool.sort((a, b) => b.score - a.score);
      const best = pool[0] ?? { seq: [...p], score: 0 };
      this.out[s] = { source: s, seq: best.seq, logp: best.score };
      if (this.onToken) for (const t of best.seq.slice(p.length)) this.onToken(s, t);
    });
  }
}

/** Index drawn from a discrete distribution `probs` (summing to 1) with one uniform draw. */
function sampleIndex(probs: number[], rng: Rng): number {
  const u = rng.next();
  let acc = 0;
  for (let k = 0; k < probs.length; k++) {
    acc += probs[k];
    if (u < acc) return k;
  }
  return probs.length - 1;
}

/** Inserts a finished hypothesis into a list kept sorted best first and at most `k` long. */
function addFinished(list: Finished[], hyp: Finished, k: number): void {
  let i = 0;
  while (i < list.length && list[i].score >= hyp.score) i++;
  list.splice(i, 0, hyp);
  if (list.length > k) list.pop();
}
