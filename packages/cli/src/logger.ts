import * as path from 'path';
import pino from 'pino';
import pretty from 'pino-pretty';

/**
 * A pino logger writing JSON lines to `<runDir>/train.log` and a human-readable rendering (pino-pretty) to
 * stderr. Without a run folder only the terminal stream is used; with `terminal: false` only the file.
 */
export function createLogger(runDir?: string, opts: { terminal?: boolean } = {}): pino.Logger {
  const streams: pino.StreamEntry[] = [];
  if (opts.terminal !== false) {
    streams.push({ level: 'info', stream: pretty({ destination: 2, colorize: process.stderr.isTTY, ignore: 'pid,hostname', translateTime: 'HH:MM:ss', hideObject: true, sync: true }) });
  }
  if (runDir) streams.push({ level: 'debug', stream: pino.destination({ dest: path.join(runDir, 'train.log'), mkdir: true, sync: true }) });
  return pino({ level: 'debug', base: undefined }, pino.multistream(streams));
}

/** A log line kept in memory until the run folder exists (what a command logs before it may write there). */
export interface PendingLine {
  level: 'info' | 'warn';
  msg: string;
}

/**
 * A terminal logger that also remembers its lines, so that they can be written to train.log once the run folder
 * is known to be safe to write (see {@link flushPending}).
 */
export function createPendingLogger(): { logger: pino.Logger; pending: PendingLine[]; info: (msg: string) => void; warn: (msg: string) => void } {
  const logger = createLogger();
  const pending: PendingLine[] = [];
  return {
    logger,
    pending,
    info: (msg) => {
      pending.push({ level: 'info', msg });
      logger.info(msg);
    },
    warn: (msg) => {
      pending.push({ level: 'warn', msg });
      logger.warn(msg);
    },
  };
}

/** Writes remembered lines into `<runDir>/train.log` only (they were already shown on the terminal). */
export function flushPending(runDir: string, pending: PendingLine[]): void {
  if (!pending.length) return;
  const file = createLogger(runDir, { terminal: false });
  for (const l of pending) file[l.level](l.msg);
}
