import * as fs from 'fs';
import * as path from 'path';
import { ConfigError } from '@mmzoo/core';
import { CHAT_TEMPLATES, chatPieces, chatTemplateJinja, loadSavedTokenizer, pieceIds } from '@mmzoo/train';
import { loadExperiment } from '../../packages/cli/src/experiment';
import { runMmzoo } from '../helpers/cli';
import { tempDirs } from '../helpers/temp';

const temps = tempDirs('mmzoo-train-chat-');
afterAll(() => temps.cleanUp());

const MODEL = `model:
  name: llama
  dim: 32
  layers: 1
  numHeads: 4
  numKvHeads: 2
  multipleOf: 16
  maxSeqLen: 96
`;

/** Two steps of 8, no evaluation during training (both runs). */
const STEPS = `train:
  batchSize: 8
  steps: 2
  lr: 1.0e-3
eval:
  every: 0
`;

/** A 2-step tiny base LLaMA on a few WordNet glosses with a 600-token BPE. */
const BASE_YAML = `${MODEL}tokenizers:
  text:
    kind: bpe
    vocabSize: 600
data:
  dataset: text
  trainLimit: 300
  text:
    brown: false
    heldOutLimit: 10
${STEPS}`;

/** The chat LM on it: weights and tokenizer from the base config's run, a few dialogues, a small held-out set. */
const CHAT_YAML = `${MODEL}init:
  model:
    config: base.yaml
tokenizers:
  text:
    kind: init
data:
  dataset: dialogue
  dialogue:
    template: minigpt4
    train: 64
    heldOutYesNo: 8
    heldOutShortAnswers: 4
${STEPS}`;

/** The ConfigError message loading a config of `yaml` throws. */
function configError(dir: string, yaml: string): string {
  const file = path.join(dir, 'bad.yaml');
  fs.writeFileSync(file, yaml);
  try {
    loadExperiment(file);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('no error');
}

describe('mmzoo train of a chat LM on dialogues (issue 16, "A chat LM")', () => {
  test("the base run is trained first, its tokenizer reused, only answers scored, the template saved; results report the chat task", async () => {
    const dir = temps.make();
    fs.writeFileSync(path.join(dir, 'base.yaml'), BASE_YAML);
    fs.writeFileSync(path.join(dir, 'chat.yaml'), CHAT_YAML);
    const out = path.join(dir, 'runs', 'chat');
    const { code, stdout, stderr } = await runMmzoo(['train', path.join(dir, 'chat.yaml'), '--out', out]);
    expect({ code, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, stderr: '' });
    // the base run was built beside it, and the chat run's tokenizer is the base run's, not a new one
    const [base] = fs.readdirSync(path.join(dir, 'runs', '.init'));
    expect(base).toMatch(/base-[0-9a-f]{12}$/);
    const baseTok = JSON.parse(fs.readFileSync(path.join(dir, 'runs', '.init', base, 'tokenizer.json'), 'utf8'));
    const chatTok = JSON.parse(fs.readFileSync(path.join(out, 'tokenizer.json'), 'utf8'));
    expect(chatTok).toEqual(baseTok);
    expect(chatTok.kind).toBe('hf');
    // tokenizer_config.json: the tokenizer's config and the template the run trained in
    const tc = JSON.parse(fs.readFileSync(path.join(out, 'tokenizer_config.json'), 'utf8'));
    expect(tc.eos_token).toBe('<|endoftext|>');
    expect(tc.bos_token).toBe('<|endoftext|>');
    expect(tc.chat_template).toBe(chatTemplateJinja(CHAT_TEMPLATES.minigpt4));
    const results = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8'));
    const m = results.metrics;
    expect(Object.keys(m).sort()).toEqual([
      'shortAnswerExactMatch', 'shortAnswerMajorityExactMatch', 'shortAnswerQuestions', 'yesNoAccuracy', 'yesNoChanceAccuracy',
      'yesNoDefinitionAccuracy', 'yesNoMajorityAccuracy', 'yesNoQuestions', 'yesNoSceneAccuracy', 'yesNoYesRatio',
    ]);
    expect(m.yesNoQuestions).toBeGreaterThan(0);
    expect(m.yesNoQuestions).toBeLessThanOrEqual(8);
    expect(m.yesNoChanceAccuracy).toBe(0.5);
    expect(m.shortAnswerQuestions).toBe(4);
    expect(stdout).toMatch(/held-out yes\/no accuracy \(\d questions\)\s+\d\.\d+ {2}\(majority \d\.\d{3}, chance 0\.500\)/);
    const log = fs.readFileSync(path.join(out, 'train.log'), 'utf8');
    expect(log).toMatch(/init model: \d+ tensors from/);
    expect(log).toMatch(/\d+ training dialogues/);
    // mmzoo generate --chat renders a question in the run's template: the prompt ids are the training prompt's
    const question = 'Top left: a bag.\nIs there a bag?';
    const gen = await runMmzoo(['generate', out, '--chat', '--prompt', question, '--max-new-tokens', '2', '--json']);
    expect({ code: gen.code, stderr: gen.code === 0 ? '' : gen.stderr }).toEqual({ code: 0, stderr: '' });
    const [row] = JSON.parse(gen.stdout);
    const tok = loadSavedTokenizer(chatTok, 'tokenizer.json');
    expect(row.promptIds).toEqual(Array.from(pieceIds(tok, chatPieces(CHAT_TEMPLATES.minigpt4, [{ user: question, assistant: '' }], true)).ids));
    // mmzoo info counts the chat config with the base run's tokenizer once that run exists (looked for in ./runs)
    const cwd = process.cwd();
    try {
      process.chdir(dir);
      const info = await runMmzoo(['info', 'chat.yaml']);
      expect({ code: info.code, stderr: info.code === 0 ? '' : info.stderr }).toEqual({ code: 0, stderr: '' });
      const vocab = Object.keys(chatTok.tokenizer.model.vocab).length;
      // LLaMA with an untied output: embeddings and output are vocab x 32 each
      expect(info.stdout).toMatch(new RegExp(`embeddings\\s+${(vocab * 32).toLocaleString('en-US')}`));
      fs.renameSync(path.join(dir, 'runs'), path.join(dir, 'moved'));
      const none = await runMmzoo(['info', 'chat.yaml']);
      expect(none.code).not.toBe(0);
      expect(none.stderr).toContain("tokenizers.text: kind init takes the tokenizer of init.model's run, which has no finished run yet (mmzoo train trains it first; a run stopped before train.steps does not count)");
    } finally {
      process.chdir(cwd);
    }
  }, 300_000);

  test('a tokenizer of kind init needs an init: entry with a run (one-line ConfigErrors)', () => {
    const dir = temps.make();
    const chat = (init: string) => CHAT_YAML.replace(/init:\n {2}model:\n {4}config: base.yaml\n/, init);
    expect(configError(dir, chat(''))).toMatch(/bad\.yaml:\d+:\d+: tokenizers\.text\.entry: kind init takes the tokenizer of init\.model's run, and init: has no entry 'model'/);
    expect(configError(dir, chat('init:\n  model:\n    safetensors: w.safetensors\n'))).toMatch(/tokenizers\.text\.entry: init\.model is a safetensors file, which holds no tokenizer/);
  });
});
