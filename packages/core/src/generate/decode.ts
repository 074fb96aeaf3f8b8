import { Rng } from '../data/rng';
import { applyRepetitionPenalty, argmax, logSoftmaxRow, nucleus, suppressTokens } from './logits';

/**
 * What a generative model offers the decoders: the next-token logits of a set of prefixes.
 * @param prefixes token ids so far, one row per hypothesis; in one call every row has the same length
 * @param sources for each row, the index of the source (e.g. image) it continues: rows of one source share its
 *   conditioning; beam search sends several rows per source
 * @returns one float32 [V] array of unnormalised logits per row, in order
 */
export type NextTokenLogits = (prefixes: number[][], sources: number[]) => Float32Array[];

/** Decoding strategies of {@link generate}. */
export type DecodeStrategy = 'greedy' | 'beam' | 'nucleus';

/** Options of {@link generate}; lengths count generated tokens, the prompt excluded. */
export interface GenerateOptions {
  /** default 'greedy' */
  strategy?: DecodeStrategy;
  /** most tokens to generate per source (the end token included) */
  maxLength: number;
  /** the end token is suppressed until this many tokens have been generated (default 0) */
  minLength?: number;
  /** end-of-text id: a hypothesis ends after generating it; without one every hypothesis runs to maxLength */
  endId?: number;
  /** ids never generated (e.g. padding, start, unknown) */
  suppressIds?: number[];
  /** CTRL repetition penalty over the tokens of the sequence so far, prompt included (default 1: none) */
  repetitionPenalty?: number;
  /** beam search: hypotheses kept per source (default 4) */
  beamSize?: number;
  /**
   * beam search: a finished hypothesis scores `sum log p / length^lengthPenalty`, length = generated tokens
   * (default 1: mean log-probability; 0: plain sum, which favours short hypotheses)
   */
  lengthPenalty?: number;
  /** nucleus sampling: probability mass kept (default 0.9) */
  topP?: number;
  /** nucleus sampling: logits are divided by this before the softmax (default 1) */
  temperature?: number;
  /** nucleus sampling: seed; source i draws from `new Rng(seed).fork(i)` (default 0) */
  seed?: number;
}

/** Output of {@link generate}, one entry per source. */
export interface GenerateResult {
  /** the prompt followed by the generated tokens (ending with endId when it was generated) */
  sequences: number[][];
  /** the generated tokens only */
  tokens: number[][];
  /**
   * greedy and nucleus: sum of the log-probabilities of the generated tokens under the processed distribution
   * (penalties and suppression applied, temperature too for nucleus); beam: that sum / length^lengthPenalty
   */
  scores: number[];
}

/**
 * Autoregressive decoding for any model that gives next-token logits ({@link NextTokenLogits}): every generative
 * model in mmzoo (CoCa, BLIP, ...) captions through this one function. Strategies:
 * - `greedy`: the most probable token at each step;
 * - `beam`: beam search (Graves 2012; Sutskever et al. 2014, section 3.1) with `beamSize` hypotheses per source
 *   and a length penalty on finished hypotheses (`sum log p / length^lengthPenalty`); a source stops when it has
 *   `beamSize` finished hypotheses and no running one can still beat the worst of them;
 * - `nucleus`: top-p sampling (Holtzman et al. 2020, section 3.1) at `temperature`, seeded with core's Rng.
 * At each step, before choosing, the logits are processed in this order: repetition penalty (CTRL, Keskar et al.
 * 2019), suppression of `suppressIds`, suppression of `endId` while fewer than `minLength` tokens were generated.
 * Host-side and synchronous: `next` owns the tensors (if any) and returns plain arrays.
 *
 * @param next the model's next-token logits
 * @param prompts one prompt (e.g. `[startId]`) per source, each non-empty
 * @returns sequences, generated tokens and scores per source
 * @throws RangeError on invalid options (maxLength < 1, minLength > maxLength, beamSize < 1, topP outside (0, 1],
 *   temperature <= 0, repetitionPenalty <= 0) or an empty prompt; Error when `next` returns the wrong number of rows
 */
export function generate(next: NextTokenLogits, prompts: number[][], opts: GenerateOptions): GenerateResult {
  const o = checkOptions(opts);
  if (prompts.some((p) => p.length === 0)) throw new RangeError('generate: every prompt needs at least one token');
  const call = (prefixes: number[][], sources: number[]): Float32Array[] => {
    const rows = next(prefixes, sources);
    if (rows.length !== prefixes.length) throw new Error(`generate: nextTokenLogits returned ${rows.length} rows for ${prefixes.length} prefixes`);
    return rows;
  };
  if (o.strategy === 'beam') return beamSearch(call, prompts, o);
  return stepwise(call, prompts, o);
}

type Resolved = Required<Omit<GenerateOptions, 'endId'>> & { endId?: number };

function checkOptions(opts: GenerateOptions): Resolved {
  const o: Resolved = {
    strategy: opts.strategy ?? 'greedy', maxLength: opts.maxLength, minLength: opts.minLength ?? 0, endId: opts.endId,
    suppressIds: opts.suppressIds ?? [], repetitionPenalty: opts.repetitionPenalty ?? 1, beamSize: opts.beamSize ?? 4,
    lengthPenalty: opts.lengthPenalty ?? 1, topP: opts.topP ?? 0.9, temperature: opts.temperature ?? 1, seed: opts.seed ?? 0,
  };
  if (!['greedy', 'beam', 'nucleus'].includes(o.strategy)) throw new RangeError(`generate: unknown strategy '${o.strategy}'; valid: greedy, beam, nucleus`);
  if (!Number.isInteger(o.maxLength) || o.maxLength < 1) throw new RangeError(`generate: maxLength must be an integer >= 1, got ${o.maxLength}`);
  if (!Number.isInteger(o.minLength) || o.minLength < 0 || o.minLength > o.maxLength) {
    throw new RangeError(`generate: minLength must be an integer in [0, maxLength = ${o.maxLength}], got ${o.minLength}`);
  }
  if (!Number.isInteger(o.beamSize) || o.beamSize < 1) throw new RangeError(`generate: beamSize must be an integer >= 1, got ${o.beamSize}`);
  if (!(o.topP > 0 && o.topP <= 1)) throw new RangeError(`generate: topP must be in (0, 1], got ${o.topP}`);
  if (!(o.temperature > 0)) throw new RangeError(`generate: temperature must be > 0, got ${o.temperature}`);
  if (!(o.repetitionPenalty > 0)) throw new RangeError(`generate: repetitionPenalty must be > 0, got ${o.repetitionPenalty}`);
  if (!Number.isFinite(o.lengthPenalty)) throw new RangeError(`generate: lengthPenalty must be finite, got ${o.lengthPenalty}`);
  return o;
}

/** The processed logits of one row: repetition penalty, suppressed ids, no end token before minLength. */
function processRow(logits: Float32Array, sequence: number[], generated: number, o: Resolved): Float32Array {
  let x = applyRepetitionPenalty(logits, sequence, o.repetitionPenalty);
  const banned = [...o.suppressIds];
  if (o.endId !== undefined && generated < o.minLength) banned.push(o.endId);
  if (banned.length > 0) x = suppressTokens(x, banned);
  return x;
}

/** Greedy decoding and nucleus sampling: one hypothesis per source, advanced until it ends or reaches maxLength. */
function stepwise(next: NextTokenLogits, prompts: number[][], o: Resolved): GenerateResult {
  const n = prompts.length;
  const seqs = prompts.map((p) => [...p]);
  const scores = new Array<number>(n).fill(0);
  const rngs = o.strategy === 'nucleus' ? prompts.map((_, i) => new Rng(o.seed).fork(i)) : [];
  // sources advance in groups of equal prefix length (prompts may differ in length)
  let alive = Array.from({ length: n }, (_, i) => i);
  for (let step = 0; step < o.maxLength && alive.length > 0; step++) {
    const byLength = new Map<number, number[]>();
    for (const i of alive) byLength.set(seqs[i].length, [...(byLength.get(seqs[i].length) ?? []), i]);
    const stillAlive: number[] = [];
    for (const group of byLength.values()) {
      const rows = next(group.map((i) => seqs[i]), group);
      group.forEach((i, r) => {
        const x = processRow(rows[r], seqs[i], step, o);
        let token: number;
        let logp: Float64Array;
        if (o.strategy === 'greedy') {
          logp = logSoftmaxRow(x);
          token = argmax(logp);
        } else {
          logp = logSoftmaxRow(x.map((v) => v / o.temperature));
          const { ids, probs } = nucleus(Array.from(logp, Math.exp), o.topP);
          token = ids[sampleIndex(probs, rngs[i])];
        }
        seqs[i].push(token);
        scores[i] += logp[token];
        if (token !== o.endId) stillAlive.push(i);
      });
    }
    alive = stillAlive.sort((a, b) => a - b);
  }
  return { sequences: seqs, tokens: seqs.map((s, i) => s.slice(prompts[i].length)), scores };
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

interface Beam {
  seq: number[];
  /** sum of generated tokens' log-probabilities */
  logp: number;
}

/** Beam search over all sources at once (one call of `next` per step for every running beam). */
function beamSearch(next: NextTokenLogits, prompts: number[][], o: Resolved): GenerateResult {
  const k = o.beamSize;
  const norm = (logp: number, len: number) => logp / Math.pow(len, o.lengthPenalty);
  const beams: Beam[][] = prompts.map((p) => [{ seq: [...p], logp: 0 }]);
  const finished: { seq: number[]; score: number }[][] = prompts.map(() => []);
  const done = prompts.map(() => false);
  for (let step = 0; step < o.maxLength; step++) {
    const rows: number[][] = [];
    const sources: number[] = [];
    beams.forEach((bs, s) => {
      if (done[s]) return;
      for (const b of bs) {
        rows.push(b.seq);
        sources.push(s);
      }
    });
    if (rows.length === 0) break;
    const logits = next(rows, sources);
    let r = 0;
    const generated = step + 1;
    for (let s = 0; s < prompts.length; s++) {
      if (done[s]) continue;
      // every continuation of every beam of this source, best first
      const cands: { beam: number; token: number; logp: number }[] = [];
      beams[s].forEach((b, bi) => {
        const lp = logSoftmaxRow(processRow(logits[r++], b.seq, step, o));
        for (let t = 0; t < lp.length; t++) if (lp[t] > -Infinity) cands.push({ beam: bi, token: t, logp: b.logp + lp[t] });
      });
      cands.sort((a, b) => b.logp - a.logp || a.beam - b.beam || a.token - b.token);
      const nextBeams: Beam[] = [];
      for (let c = 0; c < cands.length && nextBeams.length < k; c++) {
        const cand = cands[c];
        const seq = [...beams[s][cand.beam].seq, cand.token];
        if (cand.token === o.endId) {
          // an end token among the top k candidates finishes a hypothesis (it takes no beam slot)
          if (c < k) addFinished(finished[s], { seq, score: norm(cand.logp, generated) }, k);
        } else {
          nextBeams.push({ seq, logp: cand.logp });
        }
      }
      beams[s] = nextBeams;
      const best = nextBeams.length ? Math.max(...nextBeams.map((b) => norm(b.logp, generated))) : -Infinity;
      const worst = finished[s].length >= k ? finished[s][finished[s].length - 1].score : -Infinity;
      if (nextBeams.length === 0 || (finished[s].length >= k && best <= worst)) done[s] = true;
    }
  }
  const out: GenerateResult = { sequences: [], tokens: [], scores: [] };
  prompts.forEach((p, s) => {
    const pool = [...finished[s]];
    if (!done[s]) for (const b of beams[s]) pool.push({ seq: b.seq, score: norm(b.logp, b.seq.length - p.length) });
    pool.sort((a, b) => b.score - a.score);
    const best = pool[0] ?? { seq: [...p], score: 0 };
    out.sequences.push(best.seq);
    out.tokens.push(best.seq.slice(p.length));
    out.scores.push(best.score);
  });
  return out;
}

/** Inserts a finished hypothesis into a list kept sorted best first and at most `k` long. */
function addFinished(list: { seq: number[]; score: number }[], hyp: { seq: number[]; score: number }, k: number): void {
  let i = 0;
  while (i < list.length && list[i].score >= hyp.score) i++;
  list.splice(i, 0, hyp);
  if (list.length > k) list.pop();
}
