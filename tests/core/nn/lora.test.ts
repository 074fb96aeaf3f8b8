import {
  tf, Linear, Module, Rng, addLora, loraAdapters, mergeLora, setLoraDropout, withShapesOnly, manualSeed, CausalSelfAttention,
} from '@mmzoo/core';
import { BACKENDS, useBackend } from '../../helpers/fixtures';
import { expectAllClose, seededUniform, tensorOf } from '../../helpers/finite-diff';

/** Two attention layers under `layers.N.attention` and a head: Linear paths like a decoder's */
class Toy extends Module {
  readonly layers: CausalSelfAttention[] = [];
  readonly head: Linear;
  constructor() {
    super();
    for (let i = 0; i < 2; i++) this.layers.push(this.module(`layers.${i}.attention`, new CausalSelfAttention({ width: 4, numHeads: 2 })));
    this.head = this.module('head', new Linear(4, 3));
  }
}

const rand = seededUniform(77);

describe.each(BACKENDS)('nn/lora on %s', (backend) => {
  beforeAll(() => useBackend(backend));

  test('targets pick Linears by path suffix or whole-path RegExp; adapters are saved under PEFT names', () => {
    const toy = new Toy();
    expect(addLora(toy, { rank: 2, targets: ['wq', 'wv'] })).toEqual(['layers.0.attention.wq', 'layers.0.attention.wv', 'layers.1.attention.wq', 'layers.1.attention.wv']);
    const names = [...toy.namedParameters()].filter(([n]) => n.includes('lora')).map(([n, v]) => `${n} [${v.shape}]`);
    expect(names.slice(0, 2)).toEqual(['layers.0.attention.wq.lora_A.weight [2,4]', 'layers.0.attention.wq.lora_B.weight [4,2]']);
    expect(names).toHaveLength(8);
    expect(addLora(toy, { rank: 1, targets: /layers\.1\.attention\.w[ko]/ })).toEqual(['layers.1.attention.wk', 'layers.1.attention.wo']);
    expect(() => addLora(toy, { rank: 1, targets: ['wq'] })).toThrow('LoRA: layers.0.attention.wq already has an adapter');
    expect(() => addLora(toy, { rank: 1, targets: ['q_proj'] })).toThrow('LoRA target q_proj matches no module; the Linear layers here are named wq, wk, wv, wo, head');
    expect(() => addLora(toy, { rank: 1, targets: ['attention'] })).toThrow('LoRA target attention names layers.0.attention, a CausalSelfAttention, not a Linear');
    expect(() => addLora(toy, { rank: 0, targets: ['head'] })).toThrow('LoRA rank must be an integer >= 1, got 0');
    toy.dispose();
  });

  test('a fresh adapter leaves the output unchanged (B = 0); A ~ U(-1/sqrt(in), 1/sqrt(in)) as PEFT', () => {
    manualSeed(3);
    const lin = new Linear(16, 5);
    const x = tensorOf(rand(2 * 16), [2, 16]);
    const before = lin.apply(x);
    expect(() => addLora(lin, { rank: 4, targets: /.*/ })).toThrow(/matches no module/); // a module is never its own target
    const wrapper = new (class extends Module { readonly fc = this.module('fc', lin); })();
    addLora(wrapper, { rank: 4, alpha: 8, targets: ['fc'] });
    const adapter = loraAdapters(wrapper).get('fc')!;
    expect(adapter.scale).toBe(2);
    const a = adapter.a.dataSync();
    expect(Math.max(...Array.from(a).map(Math.abs))).toBeLessThanOrEqual(0.25);
    expect(Math.max(...Array.from(a).map(Math.abs))).toBeGreaterThan(0.15);
    expect(Array.from(adapter.b.dataSync()).every((v) => v === 0)).toBe(true);
    tf.tidy(() => expectAllClose(lin.apply(x), before.dataSync(), 'unchanged'));
    tf.dispose([x, before]);
    wrapper.dispose();
  });

  test('with set weights the output is W x + b + (alpha / r) B A x, gradients reach A and B, and merge() folds it into W', () => {
    const lin = new Linear(3, 2);
    lin.weight.assign(tf.tensor2d([[1, 0, 0], [0, 1, 0]]));
    lin.bias!.assign(tf.tensor1d([0, 10]));
    const host = new (class extends Module { readonly proj = this.module('proj', lin); })();
    addLora(host, { rank: 1, alpha: 2, targets: ['proj'] });
    const adapter = loraAdapters(host).get('proj')!;
    adapter.a.assign(tf.tensor2d([[1, 1, 1]]));
    adapter.b.assign(tf.tensor2d([[1], [-1]]));
    const x = tf.tensor2d([[1, 2, 3]]);
    // W x + b = [1, 12]; A x = 6; (2 / 1) B A x = [12, -12]
    tf.tidy(() => expectAllClose(lin.apply(x), [13, 0], 'W x + b + scale B A x'));
    tf.tidy(() => {
      const { grads } = tf.variableGrads(() => lin.apply(x).sum() as tf.Scalar, [adapter.a, adapter.b]);
      // d/dA = scale * (B^T 1) x^T = 2 * 0 * x = 0; d/dB = scale * 1 (A x)^T = 2 * 6
      expectAllClose(grads[adapter.a.name], [0, 0, 0], 'dA');
      expectAllClose(grads[adapter.b.name], [12, 12], 'dB');
    });
    const count = host.namedParameters().size;
    const before = tf.memory().numTensors;
    expect(mergeLora(host)).toEqual(['proj']);
    expect(host.namedParameters().size).toBe(count - 2);
    expect(lin.adapter).toBeUndefined();
    expect(tf.memory().numTensors).toBe(before - 2);
    expectAllClose(lin.weight, [3, 2, 2, -2, -1, -2], 'merged weight W + 2 B A');
    tf.tidy(() => expectAllClose(lin.apply(x), [13, 0], 'same output after merge'));
    tf.dispose(x);
    host.dispose();
  });

  test('dropout is off by default; on, its masks come from the Rng given (same Rng, same output) and it scales by 1 / (1 - p)', () => {
    const host = new (class extends Module { readonly fc = this.module('fc', new Linear(64, 1, { bias: false })); })();
    host.fc.weight.assign(tf.zeros([1, 64]));
    addLora(host, { rank: 1, dropout: 0.5, targets: ['fc'] });
    const adapter = loraAdapters(host).get('fc')!;
    adapter.a.assign(tf.ones([1, 64]));
    adapter.b.assign(tf.ones([1, 1]));
    const x = tf.ones([1, 64]);
    const run = () => tf.tidy(() => host.fc.apply(x).dataSync()[0]);
    expect(run()).toBe(64);
    setLoraDropout(host, new Rng(5));
    const first = run();
    setLoraDropout(host, new Rng(5));
    expect(run()).toBe(first);
    // each kept input counts 2: the sum is 2 x (kept of 64), even, and not every input is kept
    expect(first % 2).toBe(0);
    expect(first).not.toBe(64);
    expect(Math.abs(first - 64)).toBeLessThan(40);
    setLoraDropout(host, undefined);
    expect(run()).toBe(64);
    expect(() => addLora(new Linear(2, 2), { rank: 1, dropout: 1, targets: /x/ })).toThrow();
    tf.dispose(x);
    host.dispose();
  });

  test('adapters join a shape-only build (counted, nothing allocated)', () => {
    const before = tf.memory().numTensors;
    const n = withShapesOnly(() => {
      const toy = new Toy();
      addLora(toy, { rank: 2, targets: ['wq', 'wv'] });
      return toy.numParams();
    });
    // 2 layers x 4 projections [4, 4], the head 4 x 3 + 3, 4 adapters of A [2, 4] and B [4, 2]
    expect(n).toBe(2 * 4 * 16 + 15 + 4 * (8 + 8));
    expect(tf.memory().numTensors).toBe(before);
  });
});
