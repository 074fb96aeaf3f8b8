import { CausalLM, CausalLmOutput, HFTokenizer, KVCache, Tensor, tf } from '@mmzoo/core';
import {
  CHAT_TEMPLATES, Definition, Dialogue, DialogueData, answerLogProbs, chatMetrics, chatPieces, chatTemplateJinja, chatText, chatTokenizerConfig,
  heldOutQuestions, majorityAnswer, normaliseAnswer,
  pieceIds, trainByteLevelBpe, yesNoMetrics,
} from '@mmzoo/train';

const V = 6;

/**
 * A stub causal LM with known log-probabilities: `next(prefix)` gives the logits after each prefix of a row. Its
 * cache is only a count of positions seen, so a bigram `next` (reading the last id alone) works with greedyGenerate's
 * cache too.
 */
class StubLM implements CausalLM {
  readonly maxSeqLen = 256;
  readonly embedDim = 1;
  constructor(private readonly vocab: number, private readonly next: (prefix: number[]) => number[]) {}
  embedTokens(ids: Tensor): Tensor {
    return ids.toFloat().expandDims(-1);
  }
  forward(ids: Tensor): CausalLmOutput {
    const rows = ids.arraySync() as number[][];
    const logits = rows.map((r) => r.map((_, t) => this.next(r.slice(0, t + 1))));
    return tf.tidy(() => {
      const l = tf.tensor3d(logits, [rows.length, rows[0].length, this.vocab]);
      return { logits: l, hidden: tf.zerosLike(l) };
    });
  }
  newCache(): KVCache {
    return new KVCache(0);
  }
}

function logSoftmax(v: number[]): number[] {
  const m = Math.max(...v);
  const lse = m + Math.log(v.reduce((s, x) => s + Math.exp(x - m), 0));
  return v.map((x) => x - lse);
}

describe('the chat task (session/chat-task)', () => {
  test('answerLogProbs: log p(answer | prompt) of a bigram stub, padded rows in several batches, no leaks', () => {
    // logits after id a: W[a]
    const W = Array.from({ length: V }, (_, a) => Array.from({ length: V }, (_, b) => Math.sin(1 + a * V + b) * 2));
    const model = new StubLM(V, (p) => W[p[p.length - 1]]);
    const rows = [{ prompt: [0, 3, 2], answer: [5] }, { prompt: [1], answer: [4, 4, 0] }, { prompt: [2, 2], answer: [1, 3] }];
    const expected = rows.map((r) => {
      const ids = [...r.prompt, ...r.answer];
      return r.answer.reduce((s, id, j) => s + logSoftmax(W[ids[r.prompt.length - 1 + j]])[id], 0);
    });
    const before = tf.memory().numTensors;
    const got = answerLogProbs(model, rows, 2);
    expect(tf.memory().numTensors).toBe(before);
    got.forEach((g, i) => expect(g).toBeCloseTo(expected[i], 5));
    expect(() => answerLogProbs(model, [{ prompt: [], answer: [1] }])).toThrow('answerLogProbs: row 0 has an empty prompt or answer');
    expect(() => answerLogProbs(model, [{ prompt: new Array(256).fill(1), answer: [1] }])).toThrow('answerLogProbs: row 0 has 257 ids, more than the context length 256');
  });

  test('yesNoMetrics: accuracy by source, the majority answer, chance and the yes ratio', () => {
    const q = [
      { yes: true, source: 'scene' as const }, { yes: false, source: 'scene' as const }, { yes: true, source: 'scene' as const },
      { yes: false, source: 'wordnet' as const },
    ];
    expect(yesNoMetrics(q, [true, true, true, true], true)).toEqual({
      yesNoAccuracy: 0.5, yesNoMajorityAccuracy: 0.5, yesNoChanceAccuracy: 0.5, yesNoYesRatio: 1, yesNoQuestions: 4,
      yesNoSceneAccuracy: 2 / 3, yesNoDefinitionAccuracy: 0,
    });
    expect(yesNoMetrics(q, [true, false, false, false], false).yesNoAccuracy).toBe(0.75);
    expect(normaliseAnswer(' Top left. ')).toBe('top left');
  });

  // a small dialogue dataset: hand-made definitions, fixed held-out questions, llava_v1
  const DEFS: Definition[] = ['a domestic animal', 'a large body of water', 'move fast', 'a tall plant', 'not wet'].map((definition, i) => ({
    id: `wordnet:n:${i}`, word: ['dog', 'sea', 'run', 'tree', 'dry'][i], definition,
  }));
  const heldOut = heldOutQuestions(DEFS, { yesNo: 16, sceneYesNo: 12, shortAnswers: 12 });
  const train: Dialogue[] = [
    ...heldOut.shortAnswers.slice(0, 5).map((d): Dialogue => ({ ...d, turns: [{ ...d.turns[0], assistant: 'Nothing' }] })),
    ...['Yes', 'No', 'No'].map((a): Dialogue => ({ kind: 'yesNo', source: 'scene', turns: [{ user: 'Is there a bag?', assistant: a }] })),
  ];
  const data: DialogueData = { kind: 'dialogue', train, heldOut, templates: [CHAT_TEMPLATES.llava_v1], root: 'test' };
  const texts = [...heldOut.yesNo, ...heldOut.shortAnswers].map((d) => chatText(chatPieces(CHAT_TEMPLATES.llava_v1, d.turns), { bos: '', eos: '' }));
  // the stub's short answer: the most frequent held-out one
  const said = majorityAnswer(heldOut.shortAnswers)!;
  // ' Yes', ' No' and the short answer frequent enough to be one token or few
  const bpe = trainByteLevelBpe([...texts, ...new Array<string>(20).fill(` Yes No ${said}`)], { vocabSize: 400, specials: ['<|endoftext|>', '<pad>'], end: '<|endoftext|>', pad: '<pad>' });
  const tokenizer = HFTokenizer.fromJSON(bpe.toTokenizerJson(), bpe.tokenizerConfig());
  const vocab = tokenizer.vocabSize;
  const encode = (t: string) => tokenizer.inner.encode(t, { add_special_tokens: false }).ids;
  const promptOf = (d: Dialogue) => Array.from(pieceIds(tokenizer, chatPieces(CHAT_TEMPLATES.llava_v1, d.turns, true)).ids);

  test('chatMetrics: a stub right on the scene yes/no questions and wrong on the definition ones; greedy short answers', () => {
    // the stub answers after each held-out yes/no prompt: right for a scene, wrong for a definition
    const answers = new Map(heldOut.yesNo.map((d) => [promptOf(d).join(','), (d.turns[0].assistant === 'Yes') === (d.source === 'scene')]));
    const [yesFirst, noFirst] = [encode(' Yes')[0], encode(' No')[0]];
    expect(yesFirst).not.toBe(noFirst);
    // after any other prefix: a bigram chain spelling the short answer then the end id (ids that do not repeat)
    const nothing = encode(` ${said}`);
    expect(new Set(nothing).size).toBe(nothing.length);
    const lastOfPrompt = promptOf(heldOut.shortAnswers[0]).at(-1)!;
    const chain = new Map<number, number>([[lastOfPrompt, nothing[0]], ...nothing.map((id, j): [number, number] => [id, nothing[j + 1] ?? tokenizer.endId!])]);
    const model = new StubLM(vocab, (p) => {
      const logits = new Array<number>(vocab).fill(0);
      const answer = answers.get(p.join(','));
      if (answer !== undefined) logits[answer ? yesFirst : noFirst] = 50;
      else if (chain.has(p[p.length - 1])) logits[chain.get(p[p.length - 1])!] = 50;
      return logits;
    });
    const before = tf.memory().numTensors;
    const m = chatMetrics(model, { data, tokenizer });
    expect(tf.memory().numTensors).toBe(before);
    // 12 scene questions right, 4 definition questions wrong; Yes said for the scene Yes ones and the definition No ones
    const sceneYes = heldOut.yesNo.filter((d) => d.source === 'scene' && d.turns[0].assistant === 'Yes').length;
    const defNo = heldOut.yesNo.filter((d) => d.source === 'wordnet' && d.turns[0].assistant === 'No').length;
    // the training yes/no answers: No twice, Yes once, so the majority says No
    const noShare = heldOut.yesNo.filter((d) => d.turns[0].assistant === 'No').length / 16;
    // the stub's short answer is right where the held-out answer is that one; the training scene answers are all
    // 'Nothing', their majority, which no held-out answer is
    const saidShare = heldOut.shortAnswers.filter((d) => d.turns[0].assistant === said).length / 12;
    expect(said).not.toBe('Nothing');
    expect(m).toEqual({
      yesNoAccuracy: 12 / 16, yesNoMajorityAccuracy: noShare, yesNoChanceAccuracy: 0.5, yesNoYesRatio: (sceneYes + defNo) / 16, yesNoQuestions: 16,
      yesNoSceneAccuracy: 1, yesNoDefinitionAccuracy: 0,
      shortAnswerExactMatch: saidShare, shortAnswerMajorityExactMatch: 0, shortAnswerQuestions: 12,
    });
    expect(noShare).toBe(0.5);
    expect(saidShare).toBeGreaterThan(0);
    // the run folder's tokenizer_config.json: one template as a string, a mix as Hugging Face's named list
    expect(chatTokenizerConfig({ data, tokenizer })).toEqual({ ...bpe.tokenizerConfig(), bos_token: '<|endoftext|>', chat_template: chatTemplateJinja(CHAT_TEMPLATES.llava_v1) });
    const mixed = { ...data, templates: [CHAT_TEMPLATES.llava_v1, CHAT_TEMPLATES.minigpt4] };
    expect(chatTokenizerConfig({ data: mixed, tokenizer })?.chat_template).toEqual([
      { name: 'default', template: chatTemplateJinja(CHAT_TEMPLATES.llava_v1) }, { name: 'minigpt4', template: chatTemplateJinja(CHAT_TEMPLATES.minigpt4) },
    ]);
    // other data: no metrics (n/a), no chat template
    expect(chatTokenizerConfig({ data: { kind: 'text', corpus: { train: [], heldOut: [] }, root: '' }, tokenizer })).toBeUndefined();
    expect(chatMetrics(model, { data: { kind: 'text', corpus: { train: [], heldOut: [] }, root: '' }, tokenizer })).toEqual({});
  });
});
