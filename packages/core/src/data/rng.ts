/**
 * Seeded deterministic pseudo-random numbers (browser-safe).
 *
 * The generator is SFC32 (Chris Doty-Humphrey's "small fast chaotic" generator from PractRand):
 * 128 bits of state as four uint32 words, period at least 2^32, passes PractRand and BigCrush.
 * Everything random on mmzoo's JS side (data order, captions, scenes, masking) draws from an `Rng`,
 * so that a run is reproducible from its seed and resumable from a saved {@link Rng.state}.
 */

/** The four uint32 words of an {@link Rng}'s state; plain numbers so that it serialises as JSON. */
export type RngState = [number, number, number, number];

/** Mixes a uint32 (the finaliser of MurmurHash3): a bijection with good avalanche. */
function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/** FNV-1a hash of a string's UTF-16 code units, as a uint32. */
function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Absorbs a list of uint32 words into a well-mixed 4-word state. */
function stateFromWords(words: number[]): RngState {
  let h = 0x9e3779b9;
  const out: number[] = [];
  for (let k = 0; k < 4; k++) {
    h = mix32(h + 0x6d2b79f5 * (k + 1));
    for (const w of words) h = mix32((h ^ w) + 0x9e3779b9);
    out.push(h);
  }
  return out as RngState;
}

/**
 * A seeded pseudo-random generator (SFC32).
 *
 * Same seed, same sequence, on every platform. `state` / `setState` save and restore the exact position
 * (e.g. a trainer's data order in a checkpoint). `fork(label)` derives an independent labelled stream.
 */
export class Rng {
  private a = 0;
  private b = 0;
  private c = 0;
  private d = 0;

  /**
   * @param seed any finite number; integers are used exactly (up to 2^53), other values through their
   *   decimal string. Different seeds give unrelated sequences.
   * @throws RangeError when `seed` is not finite
   */
  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new RangeError(`Rng seed must be a finite number, got ${seed}`);
    const words = Number.isInteger(seed)
      ? [seed >>> 0, Math.floor(seed / 4294967296) >>> 0]
      : [hashString(String(seed)), 0x51ed270b];
    this.setState(stateFromWords(words));
    for (let i = 0; i < 12; i++) this.nextUint32(); // warm-up, as recommended for SFC32
  }

  /** Creates an Rng positioned exactly at a saved state. @throws RangeError on an invalid state */
  static fromState(state: readonly number[]): Rng {
    const rng = new Rng(0);
    rng.setState(state);
    return rng;
  }

  /** A copy of the current state: four uint32 words. Restoring it with {@link setState} repeats the sequence. */
  get state(): RngState {
    return [this.a, this.b, this.c, this.d];
  }

  /**
   * Moves the generator to a state previously read from {@link state}.
   * @throws RangeError unless `state` holds exactly four integers in [0, 2^32)
   */
  setState(state: readonly number[]): void {
    if (state.length !== 4 || !state.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffffffff)) {
      throw new RangeError(`Rng state must be four uint32 words, got [${state.join(', ')}]`);
    }
    [this.a, this.b, this.c, this.d] = state;
  }

  /** The next raw output: a uniform integer in [0, 2^32). */
  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    this.a >>>= 0;
    this.b >>>= 0;
    this.c >>>= 0;
    this.d >>>= 0;
    return t >>> 0;
  }

  /** A uniform float in [0, 1) with 32 random bits. */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** A uniform float in [low, high). */
  uniform(low: number, high: number): number {
    return low + (high - low) * this.next();
  }

  /**
   * A uniform integer in [0, n) (one draw; bias below 2^-32 * n, negligible for data-sized n).
   * @throws RangeError unless n is an integer in [1, 2^32]
   */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 4294967296) throw new RangeError(`Rng.int(n) needs an integer n >= 1, got ${n}`);
    return Math.floor(this.next() * n);
  }

  /** True with probability p (one draw). */
  bool(p = 0.5): boolean {
    return this.next() < p;
  }

  /** A normal (Gaussian) sample with the given mean and standard deviation (Box-Muller, two draws, no caching). */
  normal(mean = 0, std = 1): number {
    const u1 = 1 - this.next(); // (0, 1]: log is finite
    const u2 = this.next();
    return mean + std * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  /** Shuffles `array` in place (Fisher-Yates, array.length - 1 draws) and returns it. */
  shuffle<A extends { length: number; [i: number]: unknown }>(array: A): A {
    for (let i = array.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = array[i];
      array[i] = array[j];
      array[j] = tmp;
    }
    return array;
  }

  /** A random permutation of 0..n-1 as an Int32Array. */
  permutation(n: number): Int32Array {
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = i;
    return this.shuffle(out);
  }

  /** A uniformly chosen element (one draw). @throws RangeError when `array` is empty */
  choice<T>(array: readonly T[]): T {
    if (array.length === 0) throw new RangeError('Rng.choice of an empty array');
    return array[this.int(array.length)];
  }

  /**
   * An independent generator derived from this one's current state and `label`, without advancing this one.
   * Forking with the same label at the same state gives the same stream; different labels give unrelated
   * streams. Use it to give each consumer its own stream: `rng.fork('captions')`, `rng.fork(sceneIndex)`.
   */
  fork(label: string | number): Rng {
    const child = new Rng(0);
    child.setState(stateFromWords([this.a, this.b, this.c, this.d, hashString(String(label))]));
    for (let i = 0; i < 12; i++) child.nextUint32();
    return child;
  }
}
