import { tf, ConfigError } from '@mmzoo/core';

/**
 * Backend names accepted by `--backend`, the config's `runtime.backend` and the environment variable
 * `MMZOO_BACKEND`, in the automatic preference order (DESIGN.md, "Backend facts"):
 * - `tensorflow`: libtensorflow through `@tensorflow/tfjs-node-gpu` (preferred) or `@tensorflow/tfjs-node`;
 * - `native`: `@mmzoo/backend-native` (OpenBLAS addon, issue 8) when installed;
 * - `wasm`: `@tensorflow/tfjs-backend-wasm` (XNNPACK, single thread in Node);
 * - `cpu`: tfjs' pure-JS backend (slow; tiny tests only).
 */
export const BACKEND_NAMES = ['tensorflow', 'native', 'wasm', 'cpu'] as const;
/** One of {@link BACKEND_NAMES}. */
export type BackendName = (typeof BACKEND_NAMES)[number];

/** What {@link initBackend} chose and why. */
export interface BackendInfo {
  /** The active tfjs backend name. */
  name: BackendName;
  /** Where the choice came from: an explicit request (flag or config), `MMZOO_BACKEND`, or automatic. */
  source: 'request' | 'env' | 'auto';
  /** Backends that could not be loaded, each with the reason (e.g. a missing optional package). */
  unavailable: { name: BackendName; reason: string }[];
}

const loaders: Record<BackendName, () => Promise<void>> = {
  tensorflow: async () => {
    const errors: string[] = [];
    for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
      try {
        nodeRequire(pkg);
        return;
      } catch (e) {
        errors.push(`${pkg}: ${firstLine(e)}`);
      }
    }
    throw new Error(errors.join('; '));
  },
  native: async () => {
    nodeRequire('@mmzoo/backend-native');
  },
  wasm: async () => {
    await import('@tensorflow/tfjs-backend-wasm');
  },
  cpu: async () => {
    /* registered by @tensorflow/tfjs */
  },
};

function nodeRequire(pkg: string): unknown {
  if (typeof require !== 'function') throw new Error('not running in Node');
  return require(pkg);
}

function firstLine(e: unknown): string {
  return String(e instanceof Error ? e.message : e).split('\n')[0];
}

/**
 * Checks a backend name; `where` names the source (e.g. `--backend`, `MMZOO_BACKEND`).
 * @throws ConfigError (a usage error: exit code 2) `<where>: unknown backend '<name>'; valid names: ...`
 */
export function parseBackendName(name: string, where: string): BackendName {
  if ((BACKEND_NAMES as readonly string[]).includes(name)) return name as BackendName;
  throw new ConfigError(`${where}: unknown backend '${name}'; valid names: ${BACKEND_NAMES.join(', ')}`);
}

/**
 * Selects and initialises the tfjs backend. Precedence: `requested` (the `--backend` flag or the config's
 * `runtime.backend`), then the environment variable `MMZOO_BACKEND`, then the first backend that loads in
 * the order tensorflow > native > wasm > cpu. The choice is reported through `log` (one line).
 *
 * @throws Error when a backend is requested explicitly (argument or `MMZOO_BACKEND`) but cannot be loaded
 *   or initialised; the message gives the reason. An unknown name throws a ConfigError listing the valid names.
 */
export async function initBackend(
  requested?: string,
  log: (line: string) => void = () => {},
): Promise<BackendInfo> {
  const env = typeof process !== 'undefined' ? process.env.MMZOO_BACKEND : undefined;
  const source: BackendInfo['source'] = requested ? 'request' : env ? 'env' : 'auto';
  const explicit = requested ?? (env || undefined);
  const candidates: BackendName[] = explicit
    ? [parseBackendName(explicit, requested ? '--backend' : 'MMZOO_BACKEND')]
    : [...BACKEND_NAMES];
  const unavailable: BackendInfo['unavailable'] = [];
  for (const name of candidates) {
    try {
      await loaders[name]();
      const tfName = name;
      if (!(await tf.setBackend(tfName))) throw new Error(`tf.setBackend('${tfName}') returned false`);
      await tf.ready();
      // tfjs' cpu backend prints an "install tfjs-node" banner on first use in Node; the line logged below
      // already says which backends are unavailable and why
      const cpu = tf.findBackend('cpu') as { firstUse?: boolean } | null;
      if (cpu) cpu.firstUse = false;
      const info: BackendInfo = { name, source, unavailable };
      const skipped = unavailable.map((u) => `${u.name} (${u.reason})`).join(', ');
      log(`backend: ${name} (${source})${skipped ? `; unavailable: ${skipped}` : ''}`);
      return info;
    } catch (e) {
      if (explicit) throw new Error(`backend '${name}' is not available: ${firstLine(e)}`);
      unavailable.push({ name, reason: firstLine(e) });
    }
  }
  throw new Error(`no tfjs backend could be initialised: ${JSON.stringify(unavailable)}`);
}
