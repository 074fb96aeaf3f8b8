import * as fs from 'fs';
import * as path from 'path';
import { parseSafetensors, RawTensor } from '@mmzoo/core/io';
import { configHash, latestCheckpoint, PREREQUISITE_FOLDER } from '@mmzoo/train';
import { trainCommand, prerequisiteTrainer } from '../../packages/cli/src/commands/train';
import { experimentName, loadExperiment } from '../../packages/cli/src/experiment';
import { prerequisiteRun, PrerequisiteTrainer } from '../../packages/cli/src/init';
import { TINY_CLIP_YAML } from '../helpers/configs';
import { tempDirs } from '../helpers/temp';

// Issue 15: ALBEF initialised from a tiny CLIP run's vision tower, the tower frozen, through `mmzoo train` in this
// process: the CLIP run is the config route's prerequisite (trained first, once, beside the ALBEF run), and after
// training ALBEF's vision weights (and their momentum copies) are CLIP's exactly. Then the prerequisite itself: two
// concurrent resolutions train it once; a finished run in the config's default folder is reused.

const temp = tempDirs('mmzoo-init-frozen-');
afterAll(() => temp.cleanUp());
const quiet = () => jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
afterEach(() => jest.restoreAllMocks());

/** The tiny CLIP of the CLI tests, 2 steps, evaluation cut to a 16-caption gallery. */
const CLIP_YAML = TINY_CLIP_YAML.replace('steps: 6', 'steps: 2').replace('checkpointEvery: 3', 'checkpointEvery: 2').replace('retrievalGallery: 50', 'retrievalGallery: 16\n  zeroShot: false');

/** A tiny ALBEF whose vision tower has the tiny CLIP's shapes and block names; from CLIP's, frozen. */
const ALBEF_YAML = `model:
  name: albef
  embedDim: 16
  queueSize: 32
  itmRerankK: 4
  vision: { imageSize: 28, patchSize: 7, channels: 1, width: 16, layers: 1, numHeads: 2 }
  text: { contextLength: 16, width: 16, textLayers: 1, fusionLayers: 1, numHeads: 2, mlpRatio: 2 }
init:
  vision:
    config: clip.yaml
    map: { visual: visual_encoder, visual.proj: null, visual.ln_pre: null }
    skip: [visual_encoder.conv1.bias]
frozen: [vision]
data:
  trainLimit: 256
  scenes: { train: 32 }
train:
  batchSize: 16
  steps: 2
  lr: 1.0e-3
  checkpointEvery: 2
  logEvery: 1
eval:
  zeroShot: false
  retrievalGallery: 16
  batchSize: 1000
`;

function weightsOf(runDir: string, file = 'model.safetensors'): Map<string, RawTensor> {
  return parseSafetensors(new Uint8Array(fs.readFileSync(path.join(latestCheckpoint(runDir)!, file))));
}

const floats = (t: RawTensor | undefined) => Array.from((t?.data ?? []) as Float32Array);

/** The folder of `clip.yaml`'s prerequisite run under `parent`. */
function ownRunDir(clipFile: string, parent: string): string {
  const hash = configHash(loadExperiment(clipFile).config);
  return path.join(parent, PREREQUISITE_FOLDER, `${experimentName(clipFile)}-${hash.slice(0, 12)}`);
}

describe('init from a CLIP run, vision frozen', () => {
  test("ALBEF trained on a tiny CLIP's frozen vision tower ends with CLIP's vision weights exactly", async () => {
    quiet();
    const dir = temp.make();
    const clip = path.join(dir, 'clip.yaml');
    const albef = path.join(dir, 'albef.yaml');
    fs.writeFileSync(clip, CLIP_YAML);
    fs.writeFileSync(albef, ALBEF_YAML);
    const runs = path.join(dir, 'runs');
    const out = path.join(runs, 'albef');
    expect(await trainCommand(albef, { out, backend: 'wasm' })).toBe(0);
    // the prerequisite was trained beside the run, to its last step
    const clipRun = ownRunDir(clip, runs);
    expect(fs.readdirSync(path.join(runs, PREREQUISITE_FOLDER))).toEqual([path.basename(clipRun)]);
    const c = weightsOf(clipRun);
    const a = weightsOf(out);
    const visual = [...c.keys()].filter((n) => n.startsWith('visual.') && n !== 'visual.proj' && !n.startsWith('visual.ln_pre.'));
    expect(visual.length).toBe(17);
    for (const n of visual) {
      const mine = n.replace(/^visual\./, 'visual_encoder.');
      expect([mine, floats(a.get(mine))]).toEqual([mine, floats(c.get(n))]);
      // the momentum copy was set equal to the loaded tower, and the EMA of a frozen tower keeps it there
      const momentum = n.replace(/^visual\./, 'visual_encoder_m.');
      expect([momentum, floats(a.get(momentum))]).toEqual([momentum, floats(c.get(n))]);
    }
    // the patch bias CLIP lacks was left as built (zeros) and frozen
    expect(floats(a.get('visual_encoder.conv1.bias'))).toEqual(new Array(16).fill(0));
    // no optimizer state for the frozen tower; state for the rest
    const opt = [...weightsOf(out, 'optimizer.safetensors').keys()];
    expect(opt.filter((k) => k.includes('visual_encoder'))).toEqual([]);
    expect(opt).toContain('exp_avg.vision_proj.weight');
    const log = fs.readFileSync(path.join(out, 'train.log'), 'utf8');
    expect(log).toContain(`init vision: 17 tensors from ${path.join(latestCheckpoint(clipRun)!, 'model.safetensors')} (1 left as built)`);

    // --resume takes the checkpoint: init is not applied again, so the missing prerequisite is not rebuilt
    fs.rmSync(clipRun, { recursive: true });
    expect(await trainCommand(albef, { out, backend: 'wasm', resume: true, force: true, set: ['train.steps=3'] })).toBe(0);
    expect(fs.existsSync(clipRun)).toBe(false);
    const resumed = weightsOf(out);
    for (const n of visual) expect(floats(resumed.get(n.replace(/^visual\./, 'visual_encoder.')))).toEqual(floats(c.get(n)));
    expect(floats(resumed.get('text_proj.weight'))).not.toEqual(floats(a.get('text_proj.weight')));
  });

  test('two concurrent resolutions of a missing prerequisite train it once; a finished run in its default folder is reused', async () => {
    quiet();
    const dir = temp.make();
    const clip = path.join(dir, 'clip.yaml');
    fs.writeFileSync(clip, CLIP_YAML);
    const runs = path.join(dir, 'runs');
    const base = prerequisiteTrainer('wasm');
    const built: string[] = [];
    const train: PrerequisiteTrainer = async (file, runDir, ctx) => {
      built.push(runDir);
      await base(file, runDir, ctx);
    };
    const said: string[] = [];
    const opts = { train, log: (m: string) => void said.push(m) };
    const [first, second] = await Promise.all([prerequisiteRun(clip, runs, opts), prerequisiteRun(clip, runs, opts)]);
    const own = ownRunDir(clip, runs);
    expect([first, second]).toEqual([own, own]);
    expect(built).toEqual([own]);
    expect(said.some((m) => /is in use by mmzoo train .*clip\.yaml \(a prerequisite run\).*: waiting for it to finish$/.test(m))).toBe(true);
    expect(await prerequisiteRun(clip, runs, opts)).toBe(own);
    expect(built).toHaveLength(1);

    // a run of the same config in its default folder (`mmzoo train clip.yaml` beside it) is taken as it is ...
    const named = path.join(runs, experimentName(clip));
    expect(await trainCommand(clip, { out: named, backend: 'wasm' })).toBe(0);
    expect(await prerequisiteRun(clip, runs, opts)).toBe(named);
    // ... but not one trained with other values
    fs.rmSync(named, { recursive: true });
    expect(await trainCommand(clip, { out: named, backend: 'wasm', set: ['train.lr=0.002'] })).toBe(0);
    expect(await prerequisiteRun(clip, runs, opts)).toBe(own);
    expect(built).toHaveLength(1);
  });
});
