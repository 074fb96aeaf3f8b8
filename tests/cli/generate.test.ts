import * as fs from 'fs';
import * as path from 'path';
import { HFTokenizer } from '@mmzoo/core';
import { loadRun } from '../../packages/cli/src/specs';
import { TextStream } from '../../packages/cli/src/text-stream';
import { runMmzoo } from '../helpers/cli';
import { FIXTURES, readCase, readWeights } from '../helpers/fixtures';
import { llama2cBin } from '../helpers/llama2c-bin';
import { tempDirs } from '../helpers/temp';
import { tinyLmYaml } from '../helpers/configs';

// `mmzoo generate` (issue 16): a Hugging Face folder written here from the llama-hf-tiny golden gives its greedy ids;
// a tiny LLaMA run trained here continues a prompt with text; --chat renders the model's chat template; bad input is
// one line. Everything on wasm.
const temps = tempDirs('mmzoo-generate-');
afterAll(() => temps.cleanUp());
const golden = readCase('llama-hf-tiny');

/** A word-level tokenizer over llama-hf-tiny's 96 ids: `t<i>` for id i, and LLaMA-2's specials at 0, 1, 2, 94, 95. */
const SPECIALS: Record<number, string> = { 0: '<unk>', 1: '<s>', 2: '</s>', 94: '[INST]', 95: '[/INST]' };
const TOKENIZER = {
  version: '1.0', truncation: null, padding: null, normalizer: null, pre_tokenizer: { type: 'Whitespace' }, decoder: null,
  added_tokens: Object.entries(SPECIALS).map(([id, content]) => ({ id: Number(id), content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
  model: { type: 'WordLevel', unk_token: '<unk>', vocab: Object.fromEntries(Array.from({ length: 96 }, (_, i) => [SPECIALS[i] ?? `t${i}`, i])) },
  // like LLaMA's tokenizer.json: <s> before every text
  post_processor: { type: 'TemplateProcessing', single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }], pair: [], special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } } },
};
/** LLaMA-2-chat's template as published in its tokenizer_config.json */
const LLAMA2_TEMPLATE = "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}";

/**
 * A Hugging Face folder: llama-hf-tiny's config.json and weights (or those `files` names), the tokenizer above, the
 * given tokenizer_config.json, and `extra` files.
 */
function hfFolder(tokenizerConfig: object, extra: Record<string, string> = {}, files = { config: 'llama-hf-tiny/config.json', weights: 'llama-hf-tiny/weights.safetensors' }): string {
  const dir = temps.make();
  fs.copyFileSync(path.join(FIXTURES, files.config), path.join(dir, 'config.json'));
  fs.copyFileSync(path.join(FIXTURES, files.weights), path.join(dir, 'model.safetensors'));
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(TOKENIZER));
  fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>', ...tokenizerConfig }));
  for (const [f, text] of Object.entries(extra)) fs.writeFileSync(path.join(dir, f), text);
  return dir;
}

const generate = (source: string, ...args: string[]) => runMmzoo(['generate', source, '--backend', 'wasm', ...args]);
/** `--json` output, after checking the command succeeded */
async function generateJson(source: string, ...args: string[]): Promise<{ prompt: string; input: string; promptIds: number[]; ids: number[]; text: string }[]> {
  const r = await generate(source, '--json', ...args);
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
  return JSON.parse(r.stdout);
}

describe('mmzoo generate on a Hugging Face folder (llama-hf-tiny)', () => {
  const prompt = golden.inputs.prompt[0].map((id: number) => `t${id}`).join(' ');

  test("greedy: the golden's ids, with and without the cache; the prompt is its ids alone when add_bos_token is false", async () => {
    const dir = hfFolder({ add_bos_token: false });
    for (const cache of [[], ['--no-cache']]) {
      const [row] = await generateJson(dir, '--prompt', prompt, '--max-new-tokens', '8', ...cache);
      expect([...row.promptIds, ...row.ids]).toEqual(golden.outputs.greedy_ids[0]);
      expect(row.text.trim()).toBe(row.ids.map((id) => `t${id}`).join(' '));
    }
    // streamed: the prompt, then the continuation
    const r = await generate(dir, '--prompt', prompt, '--max-new-tokens', '8');
    expect(r.stdout).toBe(`${prompt} ${golden.outputs.greedy_ids[0].slice(4).map((id: number) => `t${id}`).join(' ')}\n`);
    // a stop string: the greedy continuation is t33 x 6, t78, t78; the row ends at the first t78, the text before it
    const [stopped] = await generateJson(dir, '--prompt', prompt, '--max-new-tokens', '8', '--stop', 't78', '--stop', 'never');
    expect({ ids: stopped.ids, text: stopped.text }).toEqual({ ids: [33, 33, 33, 33, 33, 33, 78], text: ' t33 t33 t33 t33 t33 t33 ' });
    expect((await generate(dir, '--prompt', prompt, '--stop', 't78')).stdout).toBe(`${prompt} t33 t33 t33 t33 t33 t33 \n`);
  });

  test("GPT-2 (gpt2-tiny's HF files, learned positions): a left-padded batch row gives the golden's greedy ids", async () => {
    const gpt2 = readCase('gpt2-tiny');
    const dir = hfFolder({ add_bos_token: false }, {}, { config: 'gpt2-tiny/config-hf.json', weights: 'gpt2-tiny/weights-hf.safetensors' });
    const rows = await generateJson(dir, '--prompt', 't9', '--prompt', prompt, '--max-new-tokens', '8');
    expect([...rows[1].promptIds, ...rows[1].ids]).toEqual(gpt2.outputs.generated_ids[0]);
    const [alone] = await generateJson(dir, '--prompt', 't9', '--max-new-tokens', '8');
    expect(rows[0]).toEqual(alone);
  });

  test("bos: the tokenizer's start id when tokenizer_config.json does not say (LLaMA's <s>); a batch of prompts; the stop id ends a row", async () => {
    const dir = hfFolder({});
    const rows = await generateJson(dir, '--prompt', prompt, '--prompt', 't7 t90', '--max-new-tokens', '4', '--strategy', 'beam', '--num-beams', '2');
    expect(rows.map((r) => r.promptIds)).toEqual([[1, 11, 61, 5, 33], [1, 7, 90]]);
    expect(rows.every((r) => r.ids.length >= 1 && r.ids.length <= 4)).toBe(true);
    // sampling at a high temperature from a seed: reproducible; with eos_token_id 2 as a stop id, 2 can only be last
    const a = await generateJson(dir, '--prompt', prompt, '--max-new-tokens', '6', '--strategy', 'sample', '--temperature', '3', '--seed', '4');
    const b = await generateJson(dir, '--prompt', prompt, '--max-new-tokens', '6', '--strategy', 'sample', '--temperature', '3', '--seed', '4');
    expect(a).toEqual(b);
    expect(a[0].ids.slice(0, -1)).not.toContain(2);
  });

  test('--chat renders the LLaMA-2 template of tokenizer_config.json (bos from the template, none added)', async () => {
    const dir = hfFolder({ add_bos_token: true, chat_template: LLAMA2_TEMPLATE });
    const [row] = await generateJson(dir, '--chat', '--prompt', ' t11 t61 ', '--max-new-tokens', '2');
    expect(row.input).toBe('<s>[INST] t11 t61 [/INST]');
    expect(row.promptIds).toEqual([1, 94, 11, 61, 95]);
    // the list form of newer files, with a Vicuna-style template
    const vicuna = "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'user' %}USER: {{ m['content'] }} {% endif %}{% endfor %}{% if add_generation_prompt %}ASSISTANT:{% endif %}";
    const listed = hfFolder({ chat_template: [{ name: 'tool_use', template: 'x' }, { name: 'default', template: vicuna }] });
    expect((await generateJson(listed, '--chat', '--prompt', 'hi', '--max-new-tokens', '1'))[0].input).toBe('<s>USER: hi ASSISTANT:');
  });

  test('one-line errors: context, missing config.json, unknown architecture, not a language model, no chat template, a .bin without tokenizer, bad options', async () => {
    const dir = hfFolder({ add_bos_token: false });
    const long = Array.from({ length: 12 }, (_, i) => `t${i + 10}`).join(' ');
    const empty = temps.make();
    const mamba = hfFolder({}, { 'config.json': JSON.stringify({ model_type: 'mamba' }) });
    const bin = path.join(empty, 'model.bin');
    const legacy = path.join(FIXTURES, 'run-legacy'); // a CLIP run
    fs.writeFileSync(bin, new Uint8Array(28));
    const cases: [string[], number, string][] = [
      [[dir, '--prompt', long, '--max-new-tokens', '8'], 1, "mmzoo: the prompt is 12 tokens; with 8 new tokens (--max-new-tokens) it exceeds the model's context of 16 tokens"],
      [[dir, '--prompt', `${long} t1 t2 t3 t4`], 1, "mmzoo: the prompt is 16 tokens: it leaves no room for a new token in the model's context of 16 tokens"],
      [[dir, '--prompt', 't1', '--prompt', long, '--max-new-tokens', '5'], 1, "mmzoo: the prompt 2 of 2 is 12 tokens; with 5 new tokens (--max-new-tokens) it exceeds the model's context of 16 tokens"],
      [[empty, '--prompt', 'x'], 1, `mmzoo: ${path.join(empty, 'config.json')} is missing: ${empty} is neither a Hugging Face model folder nor an mmzoo run folder (config.yaml, checkpoints/)`],
      [[mamba, '--prompt', 'x'], 1, `mmzoo: loadHfFolder: ${path.join(mamba, 'config.json')}: model_type "mamba" is not supported (llama, gpt2, opt)`],
      [[dir, '--prompt', 'x', '--chat'], 1, `mmzoo: --chat: ${dir} has no chat template (chat_template in tokenizer_config.json)`],
      [[bin, '--prompt', 'x'], 1, `mmzoo: ${bin}: a llama2.c .bin has no tokenizer; give its tokenizer.json with --tokenizer`],
      [[dir], 1, 'mmzoo: --prompt is required (repeat it for a batch of prompts)'],
      [[legacy, '--prompt', 'x'], 1, `mmzoo: ${legacy}: model 'clip' is not a causal language model; it cannot generate text`],
      [[legacy, '--prompt', 'x', '--tokenizer', 't.json'], 1, `mmzoo: --tokenizer is for Hugging Face folders and llama2.c .bin files; the run ${legacy} has its own`],
      [[dir, '--prompt', 'x', '--checkpoint', '3'], 1, `mmzoo: --checkpoint is for run folders; ${dir} is not one`],
      [[dir, '--prompt', 'x', '--top-p', '2'], 2, "mmzoo: option '--top-p <p>' argument '2' is invalid. expected a number in (0, 1]"],
      [[dir, '--prompt', 'x', '--max-new-tokens', '0'], 2, "mmzoo: option '--max-new-tokens <n>' argument '0' is invalid. expected an integer >= 1"],
      [[dir, '--prompt', 'x', '--temperature', 'hot'], 2, "mmzoo: option '--temperature <t>' argument 'hot' is invalid. expected a number > 0"],
      [[dir, '--prompt', 'x', '--strategy', 'top'], 2, "mmzoo: option '--strategy <name>' argument 'top' is invalid. Allowed choices are greedy, beam, sample."],
    ];
    for (const [args, code, line] of cases) {
      const r = await generate(args[0], ...args.slice(1));
      expect({ args, code: r.code, first: r.stderr.split('\n')[0] }).toEqual({ args, code, first: line });
      if (code === 1) expect(r.stderr).toBe(`${line}\n`);
    }
  });
});

describe('mmzoo generate on a llama2.c .bin', () => {
  test("llama-tiny's weights and --tokenizer (its tokenizer_config.json beside it) give llama-tiny's greedy ids", async () => {
    const dir = temps.make();
    const bin = path.join(dir, 'llama-tiny.bin');
    fs.writeFileSync(bin, llama2cBin(readWeights('llama-tiny'), true));
    fs.mkdirSync(path.join(dir, 'tok'));
    fs.writeFileSync(path.join(dir, 'tok', 'tokenizer.json'), JSON.stringify(TOKENIZER));
    fs.writeFileSync(path.join(dir, 'tok', 'tokenizer_config.json'), JSON.stringify({ add_bos_token: false, eos_token: '</s>' }));
    const tiny = readCase('llama-tiny');
    const [row] = await generateJson(bin, '--tokenizer', path.join(dir, 'tok', 'tokenizer.json'), '--prompt', tiny.inputs.prompt[0].map((id: number) => `t${id}`).join(' '), '--max-new-tokens', '8');
    expect([...row.promptIds, ...row.ids]).toEqual(tiny.outputs.generated_ids[0]);
  });
});

describe('mmzoo generate on a run folder (a tiny LLaMA trained here)', () => {
  let run: string;
  beforeAll(async () => {
    const dir = temps.make();
    const cfg = path.join(dir, 'llama.yaml');
    fs.writeFileSync(cfg, tinyLmYaml('name: llama\n  dim: 32\n  layers: 2\n  numHeads: 4\n  numKvHeads: 2\n  multipleOf: 16\n  maxSeqLen: 64'));
    run = path.join(dir, 'run');
    const r = await runMmzoo(['train', cfg, '--out', run, '--backend', 'wasm']);
    expect({ code: r.code, errors: r.stderr.split('\n').filter((l) => l.startsWith('mmzoo:')) }).toEqual({ code: 0, errors: [] });
  }, 120_000);

  test('continues a prompt with text: <|endoftext|> first, as the training documents start; streamed text = the ids decoded', async () => {
    const [row] = await generateJson(run, '--prompt', 'The dog', '--max-new-tokens', '6', '--checkpoint', '2');
    const loaded = await loadRun(run);
    const tokenizer = loaded.tokenizer as HFTokenizer;
    loaded.model.dispose();
    expect(row.promptIds).toEqual([tokenizer.endId, ...tokenizer.inner.encode('The dog', { add_special_tokens: false }).ids]);
    expect(row.ids.length).toBeGreaterThan(0);
    expect(row.ids.length).toBeLessThanOrEqual(6);
    const r = await generate(run, '--prompt', 'The dog', '--max-new-tokens', '6');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`The dog${row.text}\n`);
    expect(row.text).toBe(tokenizer.decode([...row.promptIds, ...row.ids]).slice(tokenizer.decode(row.promptIds).length));
  });

  test("--chat reads the template from the run folder's tokenizer_config.json; the run's <|endoftext|> is its bos_token", async () => {
    fs.writeFileSync(path.join(run, 'tokenizer_config.json'), JSON.stringify({ chat_template: "{{ bos_token }}###Human: {{ messages[0]['content'] }}###Assistant:" }));
    try {
      const [row] = await generateJson(run, '--chat', '--prompt', 'What is a dog?', '--max-new-tokens', '2');
      expect(row.input).toBe('<|endoftext|>###Human: What is a dog?###Assistant:');
      expect(row.promptIds[0]).toBe(0);
    } finally {
      fs.rmSync(path.join(run, 'tokenizer_config.json'));
    }
  });

  test('TextStream: multi-byte characters split over byte tokens print whole; a stop string ends the text before it', async () => {
    const loaded = await loadRun(run);
    const tokenizer = loaded.tokenizer as HFTokenizer;
    loaded.model.dispose();
    const text = ' naïve café ✓ done';
    const ids = tokenizer.inner.encode(text, { add_special_tokens: false }).ids;
    const prompt = [tokenizer.endId!];
    const plain = new TextStream(tokenizer, prompt, []);
    const pieces = ids.map((id) => plain.push(id).text);
    expect(pieces.join('') + plain.finish()).toBe(text);
    expect(pieces.some((p) => p.includes('\uFFFD'))).toBe(false);
    const stopped = new TextStream(tokenizer, prompt, ['café', 'zzz']);
    let out = '';
    let stop = false;
    for (const id of ids) {
      const step = stopped.push(id);
      out += step.text;
      if ((stop = step.stop)) break;
    }
    expect({ stop, out: out + stopped.finish() }).toEqual({ stop: true, out: ' naïve ' });
  });
});
