import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { ConfigError } from '@mmzoo/core';
import { parseBackendName } from '@mmzoo/train';
import { describeFsError } from './errors';
import { MODELS } from './specs';
import { trainCommand } from './commands/train';
import { evalCommand } from './commands/eval';
import { infoCommand } from './commands/info';
import { configsCommand } from './commands/configs';
import { compareCommand } from './commands/compare';
import { captionCommand } from './commands/caption';
import { capfiltCommand } from './commands/capfilt';
import { generateCommand } from './commands/generate';

const collect = (v: string, prev: string[]) => [...prev, v];
/** `--backend NAME`, checked when parsed: an unknown name is a usage error (exit 2) before anything runs. */
const backendName = (v: string) => parseBackendName(v, '--backend');
/**
 * A numeric option's parser: the value as a number when `ok` accepts it, else a usage error (exit 2) saying what was
 * expected, e.g. `option '--top-p <p>' argument '2' is invalid. expected a number in (0, 1]`.
 */
const numberArg = (ok: (n: number) => boolean, expected: string) => (v: string) => {
  const n = Number(v);
  if (v.trim() === '' || !ok(n)) throw new InvalidArgumentError(`expected ${expected}`);
  return n;
};
const intArg = (min: number) => numberArg((n) => Number.isInteger(n) && n >= min, `an integer >= ${min}`);
const positiveArg = numberArg((n) => n > 0 && Number.isFinite(n), 'a number > 0');

/**
 * Runs the `mmzoo` command line and resolves to the exit code: 0 success, 1 runtime error, 2 usage or config
 * error (unknown command or flag, malformed YAML, unknown key, wrong type), 130 interrupted (checkpoint saved).
 * Errors print as one line `mmzoo: <message>`; file-system errors as `mmzoo: cannot write <path>: <reason> (<CODE>)`.
 */
export async function main(argv: string[]): Promise<number> {
  let code = 0;
  const program = new Command('mmzoo')
    .description(`vision-language architectures side by side (${Object.values(MODELS).map((spec) => spec.describe.split(' (')[0]).join(', ')})`)
    .exitOverride()
    .showHelpAfterError(true)
    // usage errors are one `mmzoo: ...` line like every other error (the help that follows is not)
    .configureOutput({ writeErr: (s) => process.stderr.write(s), outputError: (s, write) => write(`mmzoo: ${s.replace(/^error: /, '')}`) });
  program
    .command('train')
    .description('train and evaluate a model from an experiment YAML')
    .argument('<config>', 'experiment file, e.g. configs/clip/fmnist-tiny.yaml')
    .option('--out <dir>', 'run folder (default runs/<config folder>-<config name>, e.g. runs/clip-fmnist-tiny)')
    .option('--resume', 'continue the run folder from its latest checkpoint')
    .option('--overwrite', 'replace an existing run folder (the old run is deleted once the new one has written its first checkpoint)')
    .option('--force', 'with --resume: continue even though the config differs from the checkpoint\'s (the differences are logged)')
    .option('--backend <name>', 'tfjs backend: tensorflow, native, wasm or cpu', backendName)
    .option('--set <key=value>', 'override a config value (repeatable), e.g. --set train.lr=3e-4', collect, [])
    .option('--max-seconds <s>', 'stop training after this many seconds, then evaluate (a wall-time budget)')
    .action(async (config, opts) => {
      code = await trainCommand(config, opts);
    });
  program
    .command('compare')
    .description('train and evaluate several model configs under one budget and write a side-by-side report')
    .argument('<compare>', 'comparison file, e.g. configs/compare/smoke.yaml')
    .option('--out <dir>', 'report folder (default runs/compare-<name>)')
    .option('--backend <name>', 'tfjs backend for every model', backendName)
    .action(async (file, opts) => {
      code = await compareCommand(file, opts);
    });
  program
    .command('eval')
    .description("evaluate a run's checkpoint (the latest unless --checkpoint) on its test data or --data; writes RUN/evals/NNN-<checkpoint>-<data>.json, never results.json")
    .argument('<runDir>')
    .option('--checkpoint <which>', 'a checkpoint folder or .safetensors file, a folder name under RUN/checkpoints (step-000002) or a step number (default: the latest)')
    .option('--data <file>', "a config whose data: and eval: sections are used, or a caption file (.csv, .jsonl, COCO .json) to evaluate on (default: the run's own data)")
    .option('--backend <name>', 'tfjs backend', backendName)
    .action(async (runDir, opts) => {
      code = await evalCommand(runDir, opts);
    });
  program
    .command('info')
    .description('validate a config and print parameter counts per tower and in total (--all: every paper-size preset beside its published count)')
    .argument('[config]')
    .option('--all', 'every preset with a reference: section, beside the published figure')
    .option('--set <key=value>', 'override a config value (repeatable)', collect, [])
    .action(async (config, opts) => {
      code = await infoCommand(config, opts);
    });
  program
    .command('caption')
    .description("caption image files with a run's latest checkpoint (models with a text decoder)")
    .argument('<runDir>')
    .argument('<images...>', 'image files (PNG, JPEG, ...)')
    .option('--checkpoint <which>', 'a checkpoint folder or .safetensors file, a folder name under RUN/checkpoints or a step number (default: the latest)')
    .option('--backend <name>', 'tfjs backend', backendName)
    .option('--set <key=value>', 'override a model.caption setting (repeatable), e.g. --set caption.strategy=greedy', collect, [])
    .action(async (runDir, images, opts) => {
      code = await captionCommand(runDir, images, opts);
    });
  program
    .command('generate')
    .description('continue prompts with a causal language model: a run folder, a Hugging Face model folder or a llama2.c .bin (streams the text); with --image, answer questions about images with a bridge run (BLIP-2, InstructBLIP, MiniGPT-4)')
    .argument('<source>', 'run folder, Hugging Face model folder (config.json, safetensors, tokenizer.json) or llama2.c .bin (with --tokenizer)')
    .option('--prompt <text>', 'the text to continue (repeat for a batch)', collect, [])
    .option('--chat', "render each prompt as a user turn with the model's chat template (tokenizer_config.json chat_template)")
    .option('--image <file>', 'a bridge run: the image each prompt asks about (one for all prompts, or repeat once per prompt); the prompt is laid out as the run was trained', collect, [])
    .option('--max-new-tokens <n>', 'tokens to generate at most (default: what the context leaves, at most 128)', intArg(1))
    .option('--min-new-tokens <n>', 'no end-of-text before this many tokens', intArg(0))
    .addOption(new Option('--strategy <name>', 'how tokens are chosen').choices(['greedy', 'beam', 'sample']).default('greedy'))
    .option('--temperature <t>', 'sample: logits are divided by t (default 1)', positiveArg)
    .option('--top-k <k>', 'sample: draw among the k most probable tokens (default 0: all)', intArg(0))
    .option('--top-p <p>', 'sample: draw within the nucleus of mass p (default 1: all)', numberArg((n) => n > 0 && n <= 1, 'a number in (0, 1]'))
    .option('--seed <n>', 'sample: seed; prompt i draws from its own stream (default 0)', numberArg(Number.isInteger, 'an integer'))
    .option('--repetition-penalty <r>', 'CTRL repetition penalty, > 1 discourages repeats (default 1)', positiveArg)
    .option('--num-beams <n>', 'beam: hypotheses kept (default 4)', intArg(1))
    .option('--length-penalty <a>', 'beam: finished hypotheses score sum log p / length^a (default 1)', numberArg(Number.isFinite, 'a number'))
    .option('--stop <text>', 'end the text before this string (repeatable)', collect, [])
    .option('--no-cache', 'recompute the whole sequence every step instead of using the KV cache')
    .option('--json', 'print prompts, ids and texts as JSON instead of streaming text')
    .option('--checkpoint <which>', 'run folder: a checkpoint folder or .safetensors file, a folder name under RUN/checkpoints or a step number (default: the latest)')
    .option('--tokenizer <file>', 'tokenizer.json for a llama2.c .bin, or instead of a Hugging Face folder\'s (tokenizer_config.json beside it is read too)')
    .option('--backend <name>', 'tfjs backend', backendName)
    .action(async (source, opts) => {
      code = await generateCommand(source, opts);
    });
  program
    .command('capfilt')
    .description('CapFilt (BLIP section 3.3): caption and filter a noisy copy of a BLIP run\'s training scenes; writes cleaned.jsonl and a report')
    .argument('<config>', 'CapFilt file, e.g. configs/blip/capfilt-scenes-tiny.yaml')
    .option('--out <dir>', 'output folder (default runs/<config folder>-<config name>)')
    .option('--overwrite', 'replace an existing report in the output folder')
    .option('--backend <name>', 'tfjs backend', backendName)
    .option('--set <key=value>', 'override a CapFilt setting (repeatable), e.g. --set filter.threshold=0.6', collect, [])
    .action(async (config, opts) => {
      code = await capfiltCommand(config, opts);
    });
  program
    .command('configs')
    .description('list the shipped configs')
    .action(() => {
      code = configsCommand();
    });
  try {
    if (argv.length === 0) {
      program.outputHelp({ error: true });
      return 2;
    }
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    if (e instanceof ConfigError) {
      process.stderr.write(`mmzoo: ${e.message}\n`);
      return 2;
    }
    // a file-system error (read-only disk, full disk, a file where a folder belongs, ...) as one plain line
    const fs = describeFsError(e);
    process.stderr.write(`mmzoo: ${fs ?? String((e as Error)?.message ?? e).split('\n')[0]}\n`);
    if (process.env.MMZOO_DEBUG) process.stderr.write(`${(e as Error).stack}\n`);
    return 1;
  }
}
