import * as path from 'path';
import pino from 'pino';
import pretty from 'pino-pretty';

/**
 * A pino logger writing JSON lines to `<runDir>/train.log` and a human-readable rendering (pino-pretty) to
 * stderr. Without a run folder only the terminal stream is used.
 */
export function createLogger(runDir?: string): pino.Logger {
  const streams: pino.StreamEntry[] = [
    { level: 'info', stream: pretty({ destination: 2, colorize: process.stderr.isTTY, ignore: 'pid,hostname', translateTime: 'HH:MM:ss', hideObject: true, sync: true }) },
  ];
  if (runDir) streams.push({ level: 'debug', stream: pino.destination({ dest: path.join(runDir, 'train.log'), mkdir: true, sync: true }) });
  return pino({ level: 'debug', base: undefined }, pino.multistream(streams));
}
