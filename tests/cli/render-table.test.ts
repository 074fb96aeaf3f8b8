import { renderTable } from '../../packages/cli/src/commands/train';

const base = {
  model: 'vlmo', backend: 'native', params: 416026,
  train: { steps: 2000, samplesPerSecond: 120.45, wallSeconds: 533.5, peakRssMB: 1127.6, initialLoss: 8.2896, finalLoss: 1.6288 },
};

describe('the end-of-run table', () => {
  test('prints the headline metrics a run has: ITM accuracy, re-ranked retrieval, linear probe, captioning', () => {
    const out = renderTable({
      ...base,
      metrics: {
        retrievalItmRerank: { imageToText: { r1: 0.234 }, textToImage: { r1: 0.267 }, k: 8 },
        itmAccuracy: 0.7175, itmAccuracyDetail: { pairwiseAccuracy: 0.758, negatives: 'swapped-positions' },
        linearProbeTop1: 0.7704, bleu4: 0.85, cider: 3.3594, bleu4ConstantBaseline: 0.338, ciderConstantBaseline: 0.8831,
      },
    }).split('\n');
    expect(out[0]).toMatch(/^model +vlmo$/);
    expect(out).toContain('parameters' + ' '.repeat(27) + '416,026'); // padded to the longest label (35) + 2
    expect(out.find((l) => l.startsWith('ITM re-ranked'))).toMatch(/^ITM re-ranked R@1 i2t \/ t2i \(k 8\) +0\.234 \/ 0\.267$/);
    expect(out.find((l) => l.startsWith('ITM accuracy'))).toMatch(/^ITM accuracy \/ pairwise \(negatives\) +0\.7175 \/ 0\.7580  \(swapped-positions\)$/);
    expect(out.find((l) => l.startsWith('linear probe'))).toMatch(/^linear probe top-1 +0\.7704$/);
    expect(out.find((l) => l.startsWith('BLEU-4'))).toMatch(/^BLEU-4 \/ CIDEr \(constant\) +0\.850 \/ 3\.359  \(0\.338 \/ 0\.883\)$/);
  });

  test('the ITM row names each value in its own order: accuracy at log-odds 0, then pairwise, then the negatives (issue 15)', () => {
    // itmAccuracy (threshold) and pairwiseAccuracy (positive above its negative) differ, so a swap would show
    const row = (metrics: Record<string, unknown>) => renderTable({ ...base, metrics }).split('\n').find((l) => l.startsWith('ITM accuracy'));
    expect(row({ itmAccuracy: 0.5, itmAccuracyDetail: { pairwiseAccuracy: 0.9375, negatives: 'other-caption' } }))
      .toBe('ITM accuracy / pairwise (negatives)  0.5000 / 0.9375  (other-caption)');
    expect(row({ itmAccuracy: 0.8125 })).toBe('ITM accuracy / pairwise (negatives)  0.8125 / n/a  (n/a)');
  });

  test("the chat task's rows: yes/no accuracy beside the majority answer and chance, by source, and short-answer exact match", () => {
    const out = renderTable({
      ...base,
      metrics: {
        yesNoAccuracy: 0.6125, yesNoMajorityAccuracy: 0.5, yesNoChanceAccuracy: 0.5, yesNoYesRatio: 0.4475, yesNoQuestions: 400,
        yesNoSceneAccuracy: 0.65, yesNoDefinitionAccuracy: 0.5, shortAnswerExactMatch: 0.31, shortAnswerMajorityExactMatch: 0.08, shortAnswerQuestions: 100,
      },
    }).split('\n');
    expect(out.find((l) => l.startsWith('held-out yes/no'))).toMatch(/^held-out yes\/no accuracy \(400 questions\) +0\.613  \(majority 0\.500, chance 0\.500\)$/);
    expect(out.find((l) => l.startsWith('  scene / definition'))).toMatch(/^ {2}scene \/ definition \(says yes\) +0\.650 \/ 0\.500  \(0\.448\)$/);
    expect(out.find((l) => l.startsWith('short-answer'))).toMatch(/^short-answer exact match \(100 questions\) +0\.310  \(majority 0\.080\)$/);
  });

  test("the sceneVqa rows: ranked accuracy beside the majority answer, the LM without the image and the generated answers", () => {
    const out = renderTable({
      ...base,
      metrics: {
        vqaAccuracy: 0.4617, vqaMajorityAccuracy: 0.3317, vqaQuestionOnlyAccuracy: 0.2667, vqaGeneratedAccuracy: 0.3783,
        heldOutAccuracy: 0.3317, heldOutMajorityAccuracy: 0.2783, heldOutQuestionOnlyAccuracy: 0.3283, heldOutGeneratedAccuracy: 0.0367,
        yesNoVqaAccuracy: 0.495, captionBleu4: 0, captionCider: 0.0021, descriptionBleu4: 0, descriptionCider: 0,
      },
    }).split('\n');
    expect(out.find((l) => l.startsWith('scene VQA held-in'))).toMatch(/^scene VQA held-in, ranked +0\.462  \(majority 0\.332, question only 0\.267; generated 0\.378\)$/);
    expect(out.find((l) => l.startsWith('scene VQA held-out'))).toMatch(/^scene VQA held-out, ranked +0\.332  \(majority 0\.278, question only 0\.328; generated 0\.037\)$/);
    expect(out.find((l) => l.startsWith('  yes/no questions'))).toMatch(/^ {2}yes\/no questions, ranked +0\.495$/);
    expect(out.find((l) => l.startsWith('caption / description'))).toMatch(/^caption \/ description BLEU-4 \(CIDEr\) +0\.000 \/ 0\.000  \(0\.002 \/ 0\.000\)$/);
  });

  test('metrics a run lacks get no row', () => {
    const out = renderTable({ ...base, metrics: {} });
    expect(out).not.toMatch(/ITM|linear probe|BLEU|zero-shot|R@1|yes\/no|short-answer|scene VQA/);
    expect(out.split('\n')).toHaveLength(8);
  });
});
