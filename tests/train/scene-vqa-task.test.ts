import { HFTokenizer, IMAGE_TOKEN_INDEX, tf } from '@mmzoo/core';
import type { CausalGenerateResult, ImagePromptedLM, Tensor } from '@mmzoo/core';
import {
  DataSchema, EMBEDDED_FASHION_MNIST_ROOT, InstructionData, answerCandidateIds, instructionTexts, loadInstructionData, sceneVqaMetrics, trainByteLevelBpe,
} from '@mmzoo/train';
import { randomLm } from '../helpers/random-lm';
import { useBackend } from '../helpers/fixtures';

// sceneVqa's ranked answers (ImagePromptedLM.scoreAnswers over each task's answer list) with stand-in models whose
// scores are known: one that always prefers the first candidate (the most frequent answer in training) scores exactly
// the majority baseline; one that prefers the last scores the share of references equal to the last candidate.

const TASKS = ['cell', 'location', 'exists', 'count', 'neighbour', 'relation'] as const;

function setUp(): { data: InstructionData; lm: HFTokenizer } {
  const cfg = DataSchema.parse({ dataset: 'sceneInstructions', instructions: { template: 'blip2_opt', train: 60, scenes: 60, testScenes: 40, heldOutPerTask: 52 } });
  const data = loadInstructionData(cfg, [1, 56, 56], 0);
  const bpe = trainByteLevelBpe(instructionTexts(data), { vocabSize: 300, specials: ['<|endoftext|>', '<pad>'], end: '<|endoftext|>', pad: '<pad>' });
  return { data, lm: HFTokenizer.fromJSON(bpe.toTokenizerJson(), bpe.tokenizerConfig()) };
}

/** A stand-in bridge: generation ends at once (empty answers); ranking prefers the candidate `pick` chooses. */
function stub(lm: HFTokenizer, pick: 'first' | 'last', calls: { prompts: number; candidates: number[][] }[]): ImagePromptedLM {
  const model = randomLm({ name: 'llama', dim: 16, layers: 1, numHeads: 2, vocabSize: lm.vocabSize, multipleOf: 16, maxSeqLen: 128 });
  return {
    lm: model, readsInstruction: false, imageTokens: 2,
    generateFromImages: (images: Tensor, prompts: number[][]): CausalGenerateResult => ({ tokens: prompts.map(() => [lm.endId!]) } as CausalGenerateResult),
    scoreAnswers: (images: Tensor, prompts: number[][], candidates: number[][]) => {
      expect(prompts.every((p) => p.filter((t) => t === IMAGE_TOKEN_INDEX).length === 1)).toBe(true);
      expect(images.shape[0]).toBe(prompts.length);
      calls.push({ prompts: prompts.length, candidates });
      return prompts.map(() => candidates.map((_, j) => (pick === 'first' ? -j : j)));
    },
  };
}

describe('sceneVqa: ranked answers', () => {
  beforeAll(() => useBackend('native'));
  const { data, lm } = setUp();
  const session = { data, tokenizers: { lm }, inputs: { image: [1, 56, 56], contextLength: 128 } } as unknown as Parameters<typeof sceneVqaMetrics>[1];

  test('preferring the first candidate (the most frequent in training) scores exactly the majority baseline; candidates are the answer lists', () => {
    const calls: { prompts: number; candidates: number[][] }[] = [];
    const model = stub(lm, 'first', calls);
    const before = tf.memory().numTensors;
    const m = sceneVqaMetrics(model, session) as Record<string, any>;
    expect(tf.memory().numTensors).toBe(before);
    for (const t of TASKS) {
      expect([t, m.vqaByTask[t].accuracy]).toEqual([t, m.vqaByTask[t].majorityAccuracy]);
      expect(m.vqaByTask[t].candidates).toBe(data.answers[t]!.length);
      expect(m.vqaByTask[t].generatedAccuracy).toBe(0);
    }
    expect(m.vqaAccuracy).toBe(m.vqaMajorityAccuracy);
    expect(m.heldOutAccuracy).toBe(m.heldOutMajorityAccuracy);
    // batches of at most 50 questions; every task's candidates as a training example labels them
    expect(calls.map((c) => c.prompts)).toEqual(TASKS.flatMap(() => [50, 2]));
    TASKS.forEach((t, i) => expect(calls[2 * i].candidates).toEqual(answerCandidateIds(data, t, lm).ids));
    expect(m.vqaExamples.find((e: { task: string }) => e.task === 'exists').ranked).toBe(data.answers.exists![0]);
    for (const k of ['vqaQuestionOnlyAccuracy', 'heldOutQuestionOnlyAccuracy']) expect(m[k]).toBeGreaterThanOrEqual(0);
  });

  test('preferring the last candidate scores the share of references equal to it', () => {
    const m = sceneVqaMetrics(stub(lm, 'last', []), session) as Record<string, any>;
    for (const t of TASKS) {
      const last = data.answers[t]![data.answers[t]!.length - 1];
      const refs = data.test.heldOut[t].map((e) => e.turns[0].assistant);
      expect([t, m.vqaByTask[t].accuracy]).toEqual([t, refs.filter((r) => r === last).length / refs.length]);
    }
    // the yes/no tasks are balanced: either answer scores one half
    expect(m.yesNoVqaAccuracy).toBeCloseTo(0.5, 10);
  });
});
