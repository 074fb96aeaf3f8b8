/**
 * Captioning metrics (browser-safe): corpus BLEU-1..4 (Papineni et al. 2002) and CIDEr-D (Vedantam et al. 2015),
 * on captions split into words. Inputs are token lists: `candidates[i]` is the caption generated for image i and
 * `references[i]` the human (here: generated-data) captions of image i. Use {@link captionTokens} to split text the
 * way the word tokenizer does (lower case, punctuation dropped).
 */
import { splitWords } from '@mmzoo/core';

/** Words of a caption, as compared by the metrics: NFC, lower case, split on anything but letters and digits. */
export function captionTokens(text: string): string[] {
  return splitWords(text);
}

/** Counts of the n-grams of `tokens` (n-gram = its words joined by a space). */
export function ngramCounts(tokens: readonly string[], n: number): Map<string, number> {
  const out = new Map<string, number>();
  for (let i = 0; i + n <= tokens.length; i++) {
    const g = tokens.slice(i, i + n).join(' ');
    out.set(g, (out.get(g) ?? 0) + 1);
  }
  return out;
}

/** Corpus BLEU: every order's modified precision, the brevity penalty and BLEU-1..maxN. */
export interface BleuResult {
  /** BLEU-n for n = 1..maxN (index n - 1), each in [0, 1] */
  bleu: number[];
  /** modified n-gram precisions p_n (clipped matches / candidate n-grams, summed over the corpus) */
  precisions: number[];
  /** BP = 1 if c > r, else exp(1 - r / c) (0 when c = 0) */
  brevityPenalty: number;
  /** c: total candidate length in words */
  candidateLength: number;
  /** r: effective reference length, the sum over candidates of the closest reference length (ties: the shorter) */
  referenceLength: number;
}

function checkCorpus(candidates: readonly (readonly string[])[], references: readonly (readonly (readonly string[])[])[]): void {
  if (candidates.length !== references.length) throw new Error(`caption metrics: ${candidates.length} candidates but ${references.length} reference sets`);
  references.forEach((refs, i) => {
    if (refs.length === 0) throw new Error(`caption metrics: image ${i} has no reference caption`);
  });
}

/** The closest reference length to `c`; on a tie the shorter (Papineni et al. 2002, section 2.2.2; coco-caption). */
function closestLength(c: number, refLengths: readonly number[]): number {
  let best = refLengths[0];
  for (const r of refLengths) if (Math.abs(r - c) < Math.abs(best - c) || (Math.abs(r - c) === Math.abs(best - c) && r < best)) best = r;
  return best;
}

/**
 * Corpus-level BLEU (Papineni et al. 2002, "BLEU: a Method for Automatic Evaluation of Machine Translation",
 * section 2): modified n-gram precision p_n (eq. in section 2.1.1: each candidate n-gram count clipped by its
 * largest count in any one reference, summed over the corpus before dividing), the brevity penalty of section
 * 2.2.2 (`BP = 1` if c > r else `exp(1 - r/c)`, with r the sum of best-match reference lengths) and
 * `BLEU-N = BP * exp(sum_{n<=N} (1/N) log p_n)` (uniform weights). A zero precision makes that and every
 * higher-order BLEU 0 (no smoothing).
 * @param candidates one token list per image
 * @param references one or more token lists per image
 * @param maxN highest order (default 4)
 * @throws Error when the lengths differ or an image has no reference
 */
export function corpusBleu(
  candidates: readonly (readonly string[])[], references: readonly (readonly (readonly string[])[])[], maxN = 4,
): BleuResult {
  checkCorpus(candidates, references);
  const matches = new Array<number>(maxN).fill(0);
  const totals = new Array<number>(maxN).fill(0);
  let c = 0;
  let r = 0;
  candidates.forEach((cand, i) => {
    const refs = references[i];
    c += cand.length;
    r += closestLength(cand.length, refs.map((x) => x.length));
    for (let n = 1; n <= maxN; n++) {
      const maxRef = new Map<string, number>();
      for (const ref of refs) for (const [g, k] of ngramCounts(ref, n)) maxRef.set(g, Math.max(maxRef.get(g) ?? 0, k));
      for (const [g, k] of ngramCounts(cand, n)) {
        matches[n - 1] += Math.min(k, maxRef.get(g) ?? 0);
        totals[n - 1] += k;
      }
    }
  });
  return bleuFromCounts(matches, totals, c, r);
}

function bleuFromCounts(matches: number[], totals: number[], c: number, r: number): BleuResult {
  const precisions = matches.map((m, i) => (totals[i] > 0 ? m / totals[i] : 0));
  const brevityPenalty = c === 0 ? 0 : c > r ? 1 : Math.exp(1 - r / c);
  const bleu: number[] = [];
  let logSum = 0;
  for (let n = 1; n <= precisions.length; n++) {
    logSum += precisions[n - 1] > 0 ? Math.log(precisions[n - 1]) : -Infinity;
    bleu.push(logSum === -Infinity ? 0 : brevityPenalty * Math.exp(logSum / n));
  }
  return { bleu, precisions, brevityPenalty, candidateLength: c, referenceLength: r };
}

/** Options of {@link ciderD}. */
export interface CiderOptions {
  /** highest n-gram order (default 4, uniform weights 1/N) */
  maxN?: number;
  /** std of the Gaussian length penalty in words (default 6) */
  sigma?: number;
}

/** CIDEr-D of a corpus and of each image. */
export interface CiderResult {
  /** mean over images of {@link CiderResult.perImage} */
  score: number;
  perImage: number[];
}

/** Document frequencies and idf over a corpus' reference sets (one document = all references of one image). */
class CiderIdf {
  readonly logN: number;
  private readonly df = new Map<string, number>();
  constructor(references: readonly (readonly (readonly string[])[])[], maxN: number) {
    this.logN = Math.log(references.length);
    for (const refs of references) {
      const seen = new Set<string>();
      for (const ref of refs) for (let n = 1; n <= maxN; n++) for (const g of ngramCounts(ref, n).keys()) seen.add(g);
      for (const g of seen) this.df.set(g, (this.df.get(g) ?? 0) + 1);
    }
  }
  /** log(N / max(1, df(g))) */
  idf(g: string): number {
    return this.logN - Math.log(Math.max(1, this.df.get(g) ?? 0));
  }
}

/** The tf-idf vector g^n of one sentence for one order, and its norm. */
function tfidf(tokens: readonly string[], n: number, idf: CiderIdf): { vec: Map<string, number>; norm: number } {
  const vec = new Map<string, number>();
  let sq = 0;
  for (const [g, k] of ngramCounts(tokens, n)) {
    const x = k * idf.idf(g);
    vec.set(g, x);
    sq += x * x;
  }
  return { vec, norm: Math.sqrt(sq) };
}

/**
 * CIDEr-D (Vedantam et al. 2015, "CIDEr: Consensus-based Image Description Evaluation", section 4 eq. 1-4 and
 * the CIDEr-D modifications of section 8/supplement, as in the authors' coco-caption `CiderScorer`):
 * per order n, tf-idf vectors `g^n` (n-gram count times `log(N / max(1, df))`, df = number of images whose
 * references contain the n-gram, N = number of images), and
 * `CIDEr-D_n(c, S) = (10 / m) sum_j exp(-(l(c) - l(s_j))^2 / (2 sigma^2)) * sum_g min(g_c, g_sj) g_sj / (|g_c| |g_sj|)`
 * (clipped candidate weights, Gaussian length penalty with sigma = 6 on word lengths, x10 scaling), then
 * `CIDEr-D = (1/N_orders) sum_n CIDEr-D_n`; the corpus score is the mean over images. Term frequencies are raw
 * counts as in the reference code (eq. 1's normalisation by the sentence's n-gram count cancels in the cosine).
 * A zero-norm vector contributes 0. The idf comes from the corpus itself, so scores depend on the whole test set.
 * @param candidates one token list per image
 * @param references one or more token lists per image
 * @throws Error when the lengths differ or an image has no reference
 */
export function ciderD(
  candidates: readonly (readonly string[])[], references: readonly (readonly (readonly string[])[])[], opts: CiderOptions = {},
): CiderResult {
  checkCorpus(candidates, references);
  const maxN = opts.maxN ?? 4;
  const sigma = opts.sigma ?? 6;
  const idf = new CiderIdf(references, maxN);
  const perImage = candidates.map((cand, i) => {
    const refs = references[i];
    let total = 0;
    for (let n = 1; n <= maxN; n++) {
      const c = tfidf(cand, n, idf);
      let sum = 0;
      for (const ref of refs) {
        const r = tfidf(ref, n, idf);
        let dot = 0;
        for (const [g, x] of c.vec) {
          const y = r.vec.get(g) ?? 0;
          dot += Math.min(x, y) * y;
        }
        if (c.norm > 0 && r.norm > 0) dot /= c.norm * r.norm;
        const delta = cand.length - ref.length;
        sum += dot * Math.exp(-(delta * delta) / (2 * sigma * sigma));
      }
      total += sum / refs.length;
    }
    return (10 * total) / maxN;
  });
  return { score: perImage.reduce((a, b) => a + b, 0) / Math.max(1, perImage.length), perImage };
}

/** BLEU-1..4 and CIDEr-D of generated captions against reference captions, on text. */
export interface CaptionScores {
  bleu1: number;
  bleu2: number;
  bleu3: number;
  bleu4: number;
  cider: number;
}

/**
 * {@link corpusBleu} and {@link ciderD} on caption strings split with {@link captionTokens}.
 * @param candidates one generated caption per image
 * @param references the reference captions of each image
 * @throws Error when the lengths differ or an image has no reference
 */
export function captionScores(candidates: readonly string[], references: readonly (readonly string[])[]): CaptionScores {
  const cands = candidates.map(captionTokens);
  const refs = references.map((rs) => rs.map(captionTokens));
  const b = corpusBleu(cands, refs).bleu;
  return { bleu1: b[0], bleu2: b[1], bleu3: b[2], bleu4: b[3], cider: ciderD(cands, refs).score };
}

/** The best constant caption for one metric. */
export interface ConstantCaption {
  /** the caption (as given in `pool`) */
  caption: string;
  /** its score when every image gets it: corpus BLEU-4 or CIDEr-D, computed by {@link corpusBleu} / {@link ciderD} */
  score: number;
}

/**
 * The constant-caption baselines: of the captions in `pool` (e.g. every training caption), the one that scores
 * best on the test corpus when given as the caption of every image, separately for BLEU-4 and CIDEr-D. A
 * captioner that does not look at its image cannot beat these. The search scores each distinct caption with an
 * exact shortcut (posting lists of the references' n-grams; equal to the plain functions up to float rounding);
 * the winners are rescored with {@link corpusBleu} and {@link ciderD} themselves, so the reported scores come from
 * the same code as the model's.
 * @param pool candidate captions (text; duplicates are scored once)
 * @param references the reference captions of each test image (text)
 * @throws Error when `pool` is empty or an image has no reference
 */
export function bestConstantCaptions(pool: readonly string[], references: readonly (readonly string[])[]): { bleu4: ConstantCaption; cider: ConstantCaption } {
  const distinct = [...new Set(pool)];
  if (distinct.length === 0) throw new Error('bestConstantCaptions: the caption pool is empty');
  const refs = references.map((rs) => rs.map(captionTokens));
  refs.forEach((rs, i) => {
    if (rs.length === 0) throw new Error(`caption metrics: image ${i} has no reference caption`);
  });
  const scorer = new ConstantScorer(refs);
  let bestBleu = { caption: distinct[0], score: -1 };
  let bestCider = { caption: distinct[0], score: -1 };
  for (const caption of distinct) {
    const tokens = captionTokens(caption);
    const b = scorer.bleu4(tokens);
    const c = scorer.cider(tokens);
    if (b > bestBleu.score) bestBleu = { caption, score: b };
    if (c > bestCider.score) bestCider = { caption, score: c };
  }
  const n = refs.length;
  const rescore = (caption: string) => Array.from({ length: n }, () => captionTokens(caption));
  return {
    bleu4: { caption: bestBleu.caption, score: corpusBleu(rescore(bestBleu.caption), refs).bleu[3] },
    cider: { caption: bestCider.caption, score: ciderD(rescore(bestCider.caption), refs).score },
  };
}

/**
 * Scores one caption given to every image of a corpus, fast: each n-gram's contribution is summed over the
 * references that contain it (posting lists) and cached per (n-gram, count, length).
 */
export class ConstantScorer {
  private readonly maxN = 4;
  private readonly sigma = 6;
  private readonly idf: CiderIdf;
  /** BLEU: per n-gram, the largest count in each image's references (one entry per image that has it) */
  private readonly maxRefCounts = new Map<string, number[]>();
  /** CIDEr: per n-gram, (reference index, count) of every reference holding it */
  private readonly postings = new Map<string, { ref: number; count: number }[]>();
  /** per reference: its image's reference count m, its length, and its tf-idf norm per order */
  private readonly refInfo: { m: number; length: number; norms: number[] }[] = [];
  private readonly refLengths: number[][];
  private readonly bleuCache = new Map<string, number>();
  private readonly ciderCache = new Map<string, number>();
  private readonly lengthCache = new Map<number, number>();

  /** @param references token lists of each image's references (each image at least one) */
  constructor(private readonly references: readonly (readonly (readonly string[])[])[]) {
    this.idf = new CiderIdf(references, this.maxN);
    this.refLengths = references.map((rs) => rs.map((r) => r.length));
    references.forEach((refs) => {
      const maxRef = new Map<string, number>();
      for (const ref of refs) {
        const index = this.refInfo.length;
        const norms: number[] = [];
        for (let n = 1; n <= this.maxN; n++) {
          const counts = ngramCounts(ref, n);
          norms.push(tfidf(ref, n, this.idf).norm);
          for (const [g, k] of counts) {
            maxRef.set(g, Math.max(maxRef.get(g) ?? 0, k));
            const list = this.postings.get(g) ?? [];
            list.push({ ref: index, count: k });
            this.postings.set(g, list);
          }
        }
        this.refInfo.push({ m: refs.length, length: ref.length, norms });
      }
      for (const [g, k] of maxRef) {
        const list = this.maxRefCounts.get(g) ?? [];
        list.push(k);
        this.maxRefCounts.set(g, list);
      }
    });
  }

  /** Corpus BLEU-4 of `tokens` as the caption of every image. */
  bleu4(tokens: readonly string[]): number {
    const n = this.references.length;
    const matches: number[] = [];
    const totals: number[] = [];
    for (let order = 1; order <= this.maxN; order++) {
      let m = 0;
      let t = 0;
      for (const [g, k] of ngramCounts(tokens, order)) {
        t += k * n;
        const key = `${k}|${g}`;
        let s = this.bleuCache.get(key);
        if (s === undefined) {
          s = 0;
          for (const r of this.maxRefCounts.get(g) ?? []) s += Math.min(k, r);
          this.bleuCache.set(key, s);
        }
        m += s;
      }
      matches.push(m);
      totals.push(t);
    }
    let r = this.lengthCache.get(tokens.length);
    if (r === undefined) {
      r = 0;
      for (const lengths of this.refLengths) r += closestLength(tokens.length, lengths);
      this.lengthCache.set(tokens.length, r);
    }
    return bleuFromCounts(matches, totals, tokens.length * n, r).bleu[3];
  }

  /** Corpus CIDEr-D of `tokens` as the caption of every image. */
  cider(tokens: readonly string[]): number {
    const lc = tokens.length;
    const twoSigma2 = 2 * this.sigma * this.sigma;
    let total = 0;
    for (let order = 1; order <= this.maxN; order++) {
      const c = tfidf(tokens, order, this.idf);
      if (c.norm === 0) continue;
      let sum = 0;
      for (const [g, k] of ngramCounts(tokens, order)) {
        const key = `${k}|${lc}|${g}`;
        let s = this.ciderCache.get(key);
        if (s === undefined) {
          s = 0;
          const w = this.idf.idf(g);
          for (const { ref, count } of this.postings.get(g) ?? []) {
            const info = this.refInfo[ref];
            const norm = info.norms[order - 1];
            if (norm === 0) continue;
            const delta = lc - info.length;
            s += (Math.min(k, count) * count * w * w * Math.exp(-(delta * delta) / twoSigma2)) / (info.m * norm);
          }
          this.ciderCache.set(key, s);
        }
        sum += s;
      }
      total += sum / c.norm;
    }
    return (10 * total) / this.maxN / this.references.length;
  }
}
