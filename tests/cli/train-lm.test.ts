import * as fs from 'fs';
import * as path from 'path';
import { runMmzoo } from '../helpers/cli';
import { tinyLmYaml } from '../helpers/configs';
import { tempDirs } from '../helpers/temp';

const temps = tempDirs('mmzoo-train-lm-');
afterAll(() => temps.cleanUp());

/** A 2-step tiny LLaMA on a few WordNet glosses with a 300-token BPE. */
const TINY_LLAMA_YAML = tinyLmYaml('name: llama\n  dim: 32\n  layers: 2\n  numHeads: 4\n  numKvHeads: 2\n  multipleOf: 16\n  maxSeqLen: 16');

describe('mmzoo train on the text corpus', () => {
  test('a tiny LLaMA trains, and results.json and the table report held-out perplexity beside the Kneser-Ney baselines', async () => {
    const dir = temps.make();
    const cfg = path.join(dir, 'llama.yaml');
    fs.writeFileSync(cfg, TINY_LLAMA_YAML);
    const out = path.join(dir, 'run');
    const { code, stdout, stderr } = await runMmzoo(['train', cfg, '--out', out, '--backend', 'cpu']);
    expect({ code, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, stderr: '' });
    const results = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8'));
    expect(results.model).toBe('llama');
    expect(Object.keys(results.towers)).toEqual(['embeddings', 'layers', 'head']);
    const m = results.metrics;
    expect(Object.keys(m).sort()).toEqual(['chancePerplexity', 'knBigramPerplexity', 'knTrigramPerplexity', 'perplexity', 'perplexityTokens']);
    expect(m.chancePerplexity).toBe(300);
    // two steps from the init: near chance; the n-gram models, fitted on the training glosses, well below it
    expect(m.perplexity).toBeGreaterThan(150);
    expect(m.perplexity).toBeLessThan(450);
    expect(m.knBigramPerplexity).toBeLessThan(m.perplexity);
    expect(m.knTrigramPerplexity).toBeGreaterThan(1);
    expect(m.perplexityTokens).toBeGreaterThan(100);
    expect(results.history[0].parts).toEqual({ clm: expect.any(Number) });
    expect(stdout).toMatch(/held-out perplexity \(\d+ tokens\)\s+\d+\.\d\d/);
    expect(stdout).toMatch(/KN bigram \/ trigram \(chance\)\s+\d+\.\d\d \/ \d+\.\d\d {2}\(300\)/);
    // the run's tokenizer was saved as a Hugging Face tokenizer
    expect(JSON.parse(fs.readFileSync(path.join(out, 'tokenizer.json'), 'utf8')).kind).toBe('hf');
  }, 120_000);
});
