import { tf, Tensor, SwiGLU, llamaHiddenDim } from '@mmzoo/core';
import { BACKENDS, useBackend } from '../../helpers/fixtures';
import { centralDiff, dot, expectAllClose, expectGradMatch, seededUniform, tensorOf } from '../../helpers/finite-diff';

const rand = seededUniform(41);
const DIM = 4;
const HID = 6;
const W1 = rand(HID * DIM);
const W2 = rand(DIM * HID);
const W3 = rand(HID * DIM);

/** float64 w2(silu(w1 x) * w3 x) for rows x [n, DIM] */
function swigluRef(x: ArrayLike<number>, n: number): Float64Array {
  const y = new Float64Array(n * DIM);
  for (let r = 0; r < n; r++) {
    const h = Array.from({ length: HID }, (_, j) => {
      let a = 0;
      let b = 0;
      for (let i = 0; i < DIM; i++) {
        a += W1[j * DIM + i] * x[r * DIM + i];
        b += W3[j * DIM + i] * x[r * DIM + i];
      }
      return (a / (1 + Math.exp(-a))) * b;
    });
    for (let o = 0; o < DIM; o++) for (let j = 0; j < HID; j++) y[r * DIM + o] += W2[o * HID + j] * h[j];
  }
  return y;
}

test("llamaHiddenDim follows LLaMA's rule: 7B 11008, TinyLlama 5632, stories15M 768, 70B (x1.3) 28672, llama-tiny 176", () => {
  expect(llamaHiddenDim(4096, 256)).toBe(11008);
  expect(llamaHiddenDim(2048, 256)).toBe(5632);
  expect(llamaHiddenDim(288, 32)).toBe(768);
  expect(llamaHiddenDim(8192, 4096, 1.3)).toBe(28672);
  expect(llamaHiddenDim(64, 16)).toBe(176);
  expect(() => llamaHiddenDim(64, 0)).toThrow('llamaHiddenDim: dim and multipleOf must be positive integers, got 64 and 0');
});

describe.each(BACKENDS)('nn/swiglu on %s', (backend) => {
  let ffn: SwiGLU;
  beforeAll(async () => {
    await useBackend(backend);
    ffn = new SwiGLU(DIM, HID);
    ffn.gate.weight.assign(tensorOf(W1, [HID, DIM]));
    ffn.down.weight.assign(tensorOf(W2, [DIM, HID]));
    ffn.up.weight.assign(tensorOf(W3, [HID, DIM]));
  });
  afterAll(() => ffn.dispose());

  test("parameters w1, w2, w3 without biases (llama2.c), or HF's names", () => {
    expect([...ffn.namedParameters()].map(([n, v]) => `${n} [${v.shape}]`)).toEqual(['w1.weight [6,4]', 'w2.weight [4,6]', 'w3.weight [6,4]']);
    const hf = new SwiGLU(4, 6, { names: { gate: 'gate_proj', down: 'down_proj', up: 'up_proj' } });
    expect([...hf.namedParameters().keys()]).toEqual(['gate_proj.weight', 'down_proj.weight', 'up_proj.weight']);
    hf.dispose();
  });

  test('w2(silu(w1 x) * w3 x) equals the float64 reference, and its input gradient finite differences', () => {
    const X = rand(3 * DIM, -2, 2);
    const R = rand(3 * DIM);
    const expected = centralDiff((x) => dot(R, swigluRef(x, 3)), Float64Array.from(X));
    tf.tidy(() => {
      expectAllClose(ffn.apply(tensorOf(X, [1, 3, DIM])), swigluRef(X, 3), 'SwiGLU');
      expectGradMatch(tf.grad((x: Tensor) => ffn.apply(x))(tensorOf(X, [3, DIM]), tensorOf(R, [3, DIM])), expected, 'd/dx');
    });
  });
});
