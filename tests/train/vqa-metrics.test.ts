import { HFTokenizer } from '@mmzoo/core';
import { accuracyByTask, answerStop, constantAnswerAccuracy, cutAnswer, normalizeVqaAnswer, trainByteLevelBpe, vqaAccuracy, vqaExactMatch } from '@mmzoo/train';

describe('VQA answer normalisation and accuracy (eval/vqa-metrics)', () => {
  // cases worked through the steps of the official vqaEval.py by hand
  test.each([
    ['Two.', '2'], // full stop not before a digit dropped; number word to digit
    ['3.5', '3.5'], // a decimal point stays
    ['1,000', '1000'], // a comma between digits: every listed punctuation mark deleted
    ['A Bag!', 'bag'], // lowercase, article dropped, '!' (touching no space) becomes a space
    ['the top-left', 'top left'], // '-' between letters becomes a space
    ['left , right', 'left right'], // ' ,' touches a space: deleted
    ['\tyes\n', 'yes'], // tabs and newlines
    ['none', '0'],
    ['an ankle boot', 'ankle boot'],
    ['dont know', "don't know"], // the apostrophe of a contraction restored
    ['T-shirt', 't shirt'],
    ['what?', 'what'],
    ['Top   Right', 'top right'],
  ])('%j -> %j', (raw, normalised) => {
    expect(normalizeVqaAnswer(raw)).toBe(normalised);
  });

  test('exact match after normalisation; accuracy, the constant-answer baseline and accuracy per task', () => {
    expect(vqaExactMatch('Two', '2')).toBe(true);
    expect(vqaExactMatch('the t-shirt.', 't-shirt')).toBe(true);
    expect(vqaExactMatch('top left', 'top right')).toBe(false);
    expect(vqaAccuracy(['Two', 'a bag', 'no', 'Yes.'], ['2', 'bag', 'yes', 'yes'])).toBe(0.75);
    expect(constantAnswerAccuracy('Yes', ['yes', 'no', 'no', 'yes', 'no'])).toBe(0.4);
    expect(() => vqaAccuracy(['a'], ['a', 'b'])).toThrow('vqaAccuracy: 1 predictions for 2 references');
    expect(() => vqaAccuracy([], [])).toThrow('vqaAccuracy: no questions to score');
    const got = accuracyByTask(
      { count: ['2', 'three', '4', '2'], relation: ['yes', 'yes'] },
      { count: ['2', '3', '3', '4'], relation: ['yes', 'no'] },
      { count: '3', relation: 'yes' },
    );
    expect(got).toEqual({ count: { accuracy: 0.5, majorityAccuracy: 0.5, questions: 4 }, relation: { accuracy: 0.5, majorityAccuracy: 0.5, questions: 2 } });
    expect(accuracyByTask({ caption: ['a'] }, { caption: ['a'] })).toEqual({ caption: { accuracy: 1, questions: 1 } });
    expect(() => accuracyByTask({ cell: ['a'] }, {})).toThrow("accuracyByTask: no references for task 'cell'");
  });

  test("a generated answer is cut at its layout's end text", () => {
    expect(cutAnswer('blip2_opt', ' top left\nQuestion: where')).toBe('top left');
    expect(cutAnswer('minigpt4', ' Top left###Human: hi')).toBe('Top left');
    expect(cutAnswer('instructblip', ' bag ')).toBe('bag');
    expect(cutAnswer('llava_v1', ' Yes')).toBe('Yes');
  });

  test('answerStop ends a row at the end id or once its text holds the end text, and reads the answer as scored', () => {
    const bpe = trainByteLevelBpe(['top left\nQuestion: where is the bag###', 'Top right###Human'], { vocabSize: 300, specials: ['<|endoftext|>', '<pad>'], end: '<|endoftext|>', pad: '<pad>' });
    const tok = HFTokenizer.fromJSON(bpe.toTokenizerJson(), bpe.tokenizerConfig());
    const encode = (text: string) => [...tok.inner.encode(text, { add_special_tokens: false }).ids];
    const end = tok.endId!;
    const nl = answerStop('blip2_opt', tok, 2);
    const ids = encode(' top left\nQuestion');
    const stops = ids.map((t) => nl.onToken(0, t));
    const at = stops.indexOf(true);
    expect(tok.decode(ids.slice(0, at + 1))).toContain('\n');
    expect(tok.decode(ids.slice(0, at))).not.toContain('\n');
    expect(nl.onToken(1, ids[0])).toBe(false); // rows are apart
    expect(nl.stopIds).toEqual([end]);
    expect(nl.answer([...ids, end])).toBe('top left');
    const eos = answerStop('instructblip', tok, 1);
    expect(encode(' top left###').map((t) => eos.onToken(0, t))).not.toContain(true); // eos layouts end on the id only
    expect(eos.answer([...encode(' bag '), end])).toBe('bag');
    // a user's stop strings end a row and cut its answer, in any layout
    const user = answerStop('instructblip', tok, 1, ['where']);
    const q = encode(' top left where is');
    const hits = q.map((t) => user.onToken(0, t));
    expect(hits[hits.length - 1]).toBe(true);
    expect(user.answer(q)).toBe('top left');
  });
});
