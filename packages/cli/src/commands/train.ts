import { existsSync, mkdirSync, writeFileSync } from 'fs';
import * as path from 'path';
import { stringify } from 'yaml';
import { SingleBar } from 'cli-progress';
import { ConfigError, componentCounts, tf } from '@mmzoo/core';
import type { Batch } from '@mmzoo/core';
import {
  initBackend, acquireRunLock, loadCheckpoint, cleanUpAside, cleanUpCheckpointTemps, discardAside, ensureRunFolder, killPoint,
  latestCheckpoint, moveAside, readCheckpointMeta, refuseForeign, resolveLatestCheckpoint,
  restoreAside, runFolderState, runTraining, checkRunFolderPath, sessionTraining, savedTokenizers, tokenizersOfMeta,
  writeTokenizerFiles,
  verifyCheckpoint, CheckpointMeta, trainingSize, evaluateSession, openSession, prepareSession,
  applyInit, configPlace, initTokenizers, writeChatTokenizerConfig, SAMPLE_NAMES,
} from '@mmzoo/train';
import type { RunLock, SavedTokenizers, StageSummary } from '@mmzoo/train';
import { configWarnings, loadExperiment, parseMaxSeconds } from '../experiment';
import { resumeDifferences } from '../resume-check';
import { createLogger, createPendingLogger, flushPending } from '../logger';
import { writeResults } from '../results';
import { PrerequisiteTrainer, resolveInit } from '../init';

/** Options of `mmzoo train`. */
export interface TrainOptions {
  out?: string;
  resume?: boolean;
  overwrite?: boolean;
  /** with --resume: accept a config that differs from the checkpoint's (the differences go to train.log) */
  force?: boolean;
  backend?: string;
  set?: string[];
  /** wall-time budget for training in seconds (mmzoo compare's wallSeconds budget) */
  maxSeconds?: string;
}

/**
 * `mmzoo train CONFIG`: trains and evaluates a model from an experiment file, writing into the run folder
 * (default `runs/<config name>/`): train.log (JSON lines), config.yaml, tokenizer.json, checkpoints/,
 * results.json and curves.svg. Returns the process exit code (0 done, 130 interrupted and saved).
 *
 * Run-folder safety (issue 14): the folder must be missing, empty, or an mmzoo run folder (marker `.mmzoo-run`;
 * an unmarked run from before markers is accepted by `--resume`, which marks it); the lock
 * `<parent>/.<name>.lock` is held throughout. Nothing is written into the folder until the config is valid,
 * the data open and the model built (and, for `--resume`, the checkpoint verified and the config compared with
 * it). `--overwrite` then moves the old run aside and deletes it once the new run has written its first
 * checkpoint; if the new run fails before that, the old run is put back.
 *
 * Weights from elsewhere (`init:`) are loaded into the built model of a fresh run before `prepare` (a `config:`
 * source's run is trained first when missing, in this process, through this function; see `prerequisiteRun`);
 * `--resume` takes the checkpoint's weights instead. `frozen:` parameters get no gradient and no optimizer state.
 * @param internal what a run that needs this one as its `init:` prerequisite passes: the run folder's lock, already
 *   held, and the chain of config files that led here
 * @throws ConfigError (exit 2) / Error (exit 1) with a one-line message for bad input
 */
export async function trainCommand(configFile: string, opts: TrainOptions, internal: { lock?: RunLock; chain?: string[] } = {}): Promise<number> {
  if (opts.resume && opts.overwrite) throw new ConfigError('--resume and --overwrite together: --resume continues the run in the folder, --overwrite replaces it; pass one');
  if (opts.force && !opts.resume) throw new ConfigError('--force only applies with --resume (it accepts a config that differs from the checkpoint\'s)');
  const loaded = loadExperiment(configFile, opts.set ?? []);
  const cfg = loaded.config;
  const maxSeconds = parseMaxSeconds(opts.maxSeconds);
  const runDir = checkRunFolderPath(opts.out ?? path.join('runs', loaded.name));
  if (runFolderState(runDir) === 'foreign') refuseForeign(runDir);
  const early = createPendingLogger();
  for (const w of configWarnings(cfg)) early.warn(w);
  mkdirSync(path.dirname(runDir), { recursive: true });
  const lock = internal.lock ?? acquireRunLock(runDir, `mmzoo train ${configFile}`, early.warn);
  let aside: string | undefined;
  let checkpointed = false;
  try {
    for (const n of cleanUpAside(runDir, (d) => latestCheckpoint(d) !== undefined)) early.warn(n);
    const state = runFolderState(runDir);
    if (state === 'foreign') refuseForeign(runDir);
    const existing = state === 'marked' || state === 'legacy' ? latestCheckpoint(runDir) : undefined;
    if (!opts.resume && !opts.overwrite && (existing || state === 'legacy')) {
      throw new Error(`${runDir} already holds a run; pass --resume to continue it, --overwrite to replace it, or --out DIR`);
    }

    let resumeDir: string | undefined;
    let resumeMeta: CheckpointMeta | undefined;
    let resumeTokenizers: SavedTokenizers | undefined;
    if (opts.resume) {
      if (state === 'missing' || state === 'empty') throw new Error(`--resume: ${runDir} has no run to resume (${state === 'missing' ? 'no such folder' : 'the folder is empty'})`);
      const found = resolveLatestCheckpoint(runDir);
      if (!found.dir) throw new Error(`--resume: ${runDir} has no checkpoint to resume from (no ${path.join('checkpoints', 'latest')})`);
      if (found.warning) early.warn(found.warning);
      resumeDir = found.dir;
      resumeMeta = readCheckpointMeta(resumeDir);
      if (!resumeMeta.config || typeof resumeMeta.config !== 'object') throw new Error(`${path.join(resumeDir, 'meta.json')}: has no config; cannot check that --resume continues the same experiment`);
      resumeTokenizers = tokenizersOfMeta(resumeMeta, path.join(resumeDir, 'meta.json'));
      const note = verifyCheckpoint(resumeDir, resumeMeta);
      if (note) early.warn(note);
      const diffs = resumeDifferences(resumeMeta.config, cfg);
      if (diffs.length && !opts.force) {
        throw new ConfigError(`--resume: the config differs from the checkpoint's (${diffs.join('; ')}); pass --force to continue with the new values`);
      }
      if (diffs.length) early.warn(`--force: resuming with a config that differs from the checkpoint's: ${diffs.join('; ')}`);
      // a finished run has nothing to resume: re-running its evaluation here would replace the training figures of
      // results.json (throughput, memory) with those of a process that trained nothing
      if (resumeMeta.step >= cfg.train.steps && existsSync(path.join(runDir, 'results.json'))) {
        throw new Error(`--resume: ${runDir} has finished (step ${resumeMeta.step} of ${cfg.train.steps}) and holds its results.json; to evaluate it again run npx mmzoo eval ${runDir}, to train further raise train.steps (--set train.steps=N --force)`);
      }
    }

    const backend = await initBackend(opts.backend ?? cfg.runtime.backend, early.info);
    // init sources are read (a missing prerequisite run trained, on this backend) before this run's seeded build
    const chain = [...(internal.chain ?? []), path.resolve(configFile)];
    const init = !resumeDir && cfg.init ? await resolveInit(loaded, runDir, { train: prerequisiteTrainer(backend.name), chain, log: early.info }) : [];
    const session = await openSession(loaded.spec, cfg, resumeTokenizers, resumeDir && path.join(resumeDir, 'meta.json'), initTokenizers(init));
    const { model, tokenizer, data } = session;
    const components = loaded.spec.components(cfg.model);
    const placeOf = (p: (string | number)[]) => configPlace(cfg, p);
    const training = sessionTraining(session);
    if (!resumeDir) {
      for (const l of applyInit(model, components, init, placeOf)) {
        early.info(`init ${l.target}: ${l.tensors} tensors from ${l.file}${l.skipped ? ` (${l.skipped} left as built)` : ''}`);
      }
      await prepareSession(session);
    }
    // the checkpoint's tensors must fit the model built from this config (a --force'd model change may not): checked
    // by loading them now, before anything is written
    else await loadCheckpoint(resumeDir, model.namedParameters());

    // the new run is known to start: only now is the folder written
    if (opts.overwrite && (existing || state === 'legacy')) {
      aside = moveAside(runDir);
      early.warn(`--overwrite: moved the old run aside to ${aside}; it is deleted once this run writes its first checkpoint`);
    }
    ensureRunFolder(runDir, 'mmzoo train');
    killPoint('overwrite-aside');
    flushPending(runDir, early.pending);
    const logger = createLogger(runDir);
    for (const t of await cleanUpCheckpointTemps(runDir)) logger.warn(`removed ${t}, an incomplete checkpoint left by a process that died`);
    writeFileSync(path.join(runDir, 'config.yaml'), stringify(cfg));
    writeTokenizerFiles(runDir, savedTokenizers(session));
    writeChatTokenizerConfig(runDir, session);
    const towers = componentCounts(model, components);
    const params = model.trainableParameters();
    const frozenParams = training.frozen.reduce((n, name) => n + params.get(name)!.size, 0);
    const held = training.frozen.length ? `, ${frozenParams.toLocaleString('en-US')} of them frozen (${cfg.frozen!.join(', ')})` : '';
    const trainSize = trainingSize(data, session.tokens, session.dialogueTokens, session.instructionTokens);
    const samples = `training ${SAMPLE_NAMES[cfg.data.dataset] ?? 'pairs'}`;
    if (session.dialogueTokens?.dropped) logger.warn(`${session.dialogueTokens.dropped} training dialogues longer than the context (${session.contextLength} tokens) left out`);
    if (session.instructionTokens?.dropped) logger.warn(`${session.instructionTokens.dropped} training examples longer than the lm context (${session.inputs.lm?.contextLength} tokens) left out`);
    logger.info({ params: model.numParams(), towers, frozenParams, trainPairs: trainSize, vocab: tokenizer.vocabSize }, `model ${cfg.model.name}: ${model.numParams().toLocaleString('en-US')} parameters${held}; ${trainSize} ${samples}`);

    let stop = false;
    const onSigint = (signal: NodeJS.Signals) => {
      if (stop) {
        logger.warn(`${signal} again: aborting without saving; ${checkpointed || resumeDir ? 'the last checkpoint stays resumable' : 'no checkpoint was written, so there is nothing to resume: run the command again'}`);
        process.exit(130);
      }
      stop = true;
      logger.warn(`${signal === 'SIGTERM' ? 'SIGTERM' : 'interrupt'}: saving a checkpoint after this step (Ctrl-C again to abort without saving)`);
    };
    // SIGTERM (timeout, docker stop, Slurm) stops as Ctrl-C does: a checkpoint first
    process.on('SIGINT', onSigint);
    process.on('SIGTERM', onSigint);
    const t = cfg.train;
    const seed = cfg.data.seed ?? t.seed;
    const bar = process.stderr.isTTY ? new SingleBar({ format: 'train |{bar}| {value}/{total} steps | loss {loss} | {sps} samples/s | ETA {eta_formatted}', hideCursor: true }) : undefined;
    const startStep = resumeMeta ? resumeMeta.step : 0;
    bar?.start(t.steps, startStep, { loss: '-', sps: '-' });
    let lastTime = Date.now();
    let lastStep = startStep;
    let summary;
    try {
      summary = await runTraining<Batch>({
        runDir, model, train: t, resume: opts.resume, resumeFrom: resumeDir, stages: cfg.stages, ...training,
        evaluate: cfg.eval.every > 0 ? { every: cfg.eval.every, run: async () => flatMetrics(await evaluateSession(session)) } : undefined,
        shouldStop: () => stop,
        maxSeconds,
        log: (msg, fields) => logger.info(fields ?? {}, msg),
        onCheckpoint: () => {
          checkpointed = true;
          // the checkpoint an interrupt saves does not make an --overwrite final: the old run comes back below
          if (aside && !stop) {
            discardAside(aside);
            logger.info(`--overwrite: deleted the old run (${aside})`);
            aside = undefined;
          }
        },
        onStep: (step, r) => {
          if (bar || step % t.logEvery === 0) {
            const now = Date.now();
            const sps = ((step - lastStep) * t.batchSize * t.accumSteps) / Math.max(1e-3, (now - lastTime) / 1000);
            if (step % t.logEvery === 0) {
              logger.debug({ step, loss: r.loss, ...r.parts, lr: r.lr, gradNorm: r.gradNorm }, 'step');
              if (!bar) logger.info(`step ${step}/${t.steps} loss ${r.loss.toFixed(4)} lr ${r.lr.toExponential(2)} ${sps.toFixed(0)} samples/s`);
              lastTime = now;
              lastStep = step;
            }
            bar?.update(step, { loss: r.loss.toFixed(4), sps: sps.toFixed(0) });
          }
        },
      });
    } finally {
      bar?.stop();
      process.off('SIGINT', onSigint);
      process.off('SIGTERM', onSigint);
    }
    logger.info({ tensorsBefore: summary.tensorsBefore, tensorsAfter: summary.tensorsAfter }, `trained ${summary.stepsThisRun} steps in this process; tf tensors before/after: ${summary.tensorsBefore}/${summary.tensorsAfter}`);
    if (summary.interrupted && aside) {
      // Ctrl-C of an --overwrite before its first scheduled checkpoint: the replacement is abandoned, the old run kept
      restoreAside(aside, runDir);
      aside = undefined;
      process.stderr.write(`--overwrite: interrupted before the new run's first checkpoint; restored the old run in ${runDir}\n`);
      model.dispose();
      return 130;
    }
    if (summary.interrupted) {
      const again = [configFile, '--resume', ...(opts.out ? ['--out', opts.out] : []), ...(opts.set ?? []).flatMap((x) => ['--set', x])];
      logger.warn(`interrupted at step ${summary.steps}; checkpoint saved. Continue with: npx mmzoo train ${again.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ')}`);
      model.dispose();
      return 130;
    }
    logger.info('evaluating on the test split');
    const metrics = await evaluateSession(session);
    const last = summary.history[summary.history.length - 1];
    if (last) last.metrics = { ...last.metrics, ...flatMetrics(metrics) };
    const results = await writeResults(runDir, {
      model: cfg.model.name, config: loaded.file, backend: backend.name, params: model.numParams(), towers,
      summary, metrics, history: summary.history, samplesPerStep: t.batchSize * t.accumSteps, stages: summary.stages,
    });
    logger.info({ metrics: results.metrics }, 'results written to ' + path.join(runDir, 'results.json'));
    process.stdout.write(renderTable(results) + '\n');
    model.dispose();
    return 0;
  } catch (e) {
    // the replacement failed before its first checkpoint: put the old run back
    if (aside && !checkpointed) {
      try {
        restoreAside(aside, runDir);
        process.stderr.write(`--overwrite: the new run failed before its first checkpoint; restored the old run in ${runDir}\n`);
      } catch (r) {
        process.stderr.write(`--overwrite: could not restore the old run from ${aside}: ${(r as Error).message}\n`);
      }
    }
    throw e;
  } finally {
    // a lock passed in belongs to the caller
    if (!internal.lock) lock.release();
  }
}

/**
 * Trains a run that another run's `init:` needs (`prerequisiteRun`) as `mmzoo train FILE --out DIR [--resume]`
 * does, in this process, on backend `backend`, with the folder's lock the caller holds.
 * @throws Error when the run ends with a non-zero exit code (e.g. 130: interrupted)
 */
export function prerequisiteTrainer(backend: string): PrerequisiteTrainer {
  return async (file, dir, ctx) => {
    const code = await trainCommand(file, { out: dir, resume: latestCheckpoint(dir) !== undefined, backend }, ctx);
    if (code !== 0) throw new Error(`training ${file} into ${dir} ended with exit code ${code}`);
  };
}

/** Flattens metrics to name -> number for curves (e.g. `retrieval.imageToText.r1`). */
export function flatMetrics(m: object, prefix = ''): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(m)) {
    if (k === 'chance' || k === 'gallery') continue;
    if (typeof v === 'number') out[prefix + k] = v;
    else if (v && typeof v === 'object') Object.assign(out, flatMetrics(v, `${prefix}${k}.`));
  }
  return out;
}

/** A plain-text table of the headline results: training facts, per-stage loss, and each metric the run has (zero-shot, retrieval, ITM, linear probe, captioning, perplexity, chat). */
export function renderTable(r: { model: string; backend: string; params: number; train: Record<string, number>; metrics: Record<string, any>; stages?: StageSummary[] }): string {
  const rows: [string, string][] = [
    ['model', r.model], ['backend', r.backend], ['parameters', r.params.toLocaleString('en-US')],
    ['steps', String(r.train.steps)], ['samples/s', r.train.samplesPerSecond.toFixed(1)],
    ['wall time (s)', r.train.wallSeconds.toFixed(1)], ['peak RSS (MB)', r.train.peakRssMB.toFixed(0)],
    ['loss (initial -> final)', `${r.train.initialLoss.toFixed(4)} -> ${r.train.finalLoss.toFixed(4)}`],
  ];
  for (const st of r.stages ?? []) rows.push([`stage ${st.name} loss`, `${st.initialLoss.toFixed(4)} -> ${st.finalLoss.toFixed(4)} (x${st.lossRatio.toFixed(2)})`]);
  return formatRows([...rows, ...metricRows(r.metrics)]);
}

/** The table rows of each metric a results record has: zero-shot, retrieval, ITM, linear probe, captioning, perplexity, chat. */
export function metricRows(m: Record<string, any>): [string, string][] {
  const rows: [string, string][] = [];
  if (m.zeroShotTop1 !== undefined) rows.push(['zero-shot top-1 / top-5', `${m.zeroShotTop1.toFixed(4)} / ${m.zeroShotTop5.toFixed(4)}`]);
  if (m.retrieval) {
    for (const dir of ['imageToText', 'textToImage']) {
      const d = m.retrieval[dir];
      rows.push([`${dir} R@1/5/10 (chance)`, `${d.r1.toFixed(3)} / ${d.r5.toFixed(3)} / ${d.r10.toFixed(3)}  (${d.chance.r1.toFixed(3)} / ${d.chance.r5.toFixed(3)} / ${d.chance.r10.toFixed(3)})`]);
    }
  }
  const num = (v: unknown, digits: number) => (typeof v === 'number' ? v.toFixed(digits) : 'n/a');
  if (m.retrievalItmRerank) rows.push([`ITM re-ranked R@1 i2t / t2i (k ${m.retrievalItmRerank.k})`, `${num(m.retrievalItmRerank.imageToText?.r1, 3)} / ${num(m.retrievalItmRerank.textToImage?.r1, 3)}`]);
  if (m.itmAccuracy !== undefined) {
    const d = m.itmAccuracyDetail;
    // itmAccuracy: balanced accuracy at log-odds 0; pairwiseAccuracy: positive scored above its negative (ItmMetrics)
    rows.push(['ITM accuracy / pairwise (negatives)', `${num(m.itmAccuracy, 4)} / ${num(d?.pairwiseAccuracy, 4)}  (${d?.negatives ?? 'n/a'})`]);
  }
  if (m.linearProbeTop1 !== undefined) rows.push(['linear probe top-1', num(m.linearProbeTop1, 4)]);
  if (m.bleu4 !== undefined) rows.push(['BLEU-4 / CIDEr (constant)', `${num(m.bleu4, 3)} / ${num(m.cider, 3)}  (${num(m.bleu4ConstantBaseline, 3)} / ${num(m.ciderConstantBaseline, 3)})`]);
  if (m.perplexity !== undefined) {
    rows.push([`held-out perplexity (${m.perplexityTokens} tokens)`, num(m.perplexity, 2)]);
    rows.push(['  KN bigram / trigram (chance)', `${num(m.knBigramPerplexity, 2)} / ${num(m.knTrigramPerplexity, 2)}  (${m.chancePerplexity})`]);
  }
  if (m.yesNoAccuracy !== undefined) {
    rows.push([`held-out yes/no accuracy (${m.yesNoQuestions} questions)`, `${num(m.yesNoAccuracy, 3)}  (majority ${num(m.yesNoMajorityAccuracy, 3)}, chance ${num(m.yesNoChanceAccuracy, 3)})`]);
    rows.push(['  scene / definition (says yes)', `${num(m.yesNoSceneAccuracy, 3)} / ${num(m.yesNoDefinitionAccuracy, 3)}  (${num(m.yesNoYesRatio, 3)})`]);
  }
  if (m.shortAnswerExactMatch !== undefined) {
    rows.push([`short-answer exact match (${m.shortAnswerQuestions} questions)`, `${num(m.shortAnswerExactMatch, 3)}  (majority ${num(m.shortAnswerMajorityExactMatch, 3)})`]);
  }
  if (m.vqaAccuracy !== undefined) {
    // sceneVqa: ranked answers first (the primary figures), generated ones beside
    const withBaselines = (acc: unknown, majority: unknown, questionOnly: unknown, generated: unknown) => (
      `${num(acc, 3)}  (majority ${num(majority, 3)}, question only ${num(questionOnly, 3)}; generated ${num(generated, 3)})`
    );
    rows.push(['scene VQA held-in, ranked', withBaselines(m.vqaAccuracy, m.vqaMajorityAccuracy, m.vqaQuestionOnlyAccuracy, m.vqaGeneratedAccuracy)]);
    rows.push(['scene VQA held-out, ranked', withBaselines(m.heldOutAccuracy, m.heldOutMajorityAccuracy, m.heldOutQuestionOnlyAccuracy, m.heldOutGeneratedAccuracy)]);
    rows.push(['  yes/no questions, ranked', num(m.yesNoVqaAccuracy, 3)]);
    rows.push(['caption / description BLEU-4 (CIDEr)', `${num(m.captionBleu4, 3)} / ${num(m.descriptionBleu4, 3)}  (${num(m.captionCider, 3)} / ${num(m.descriptionCider, 3)})`]);
  }
  return rows;
}

/** Label-value rows as plain text, the labels padded to the longest. */
export function formatRows(rows: [string, string][]): string {
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n');
}
