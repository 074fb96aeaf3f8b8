/**
 * The thread settings and OpenBLAS kernel set of @mmzoo/backend-native, e.g. `2 pool threads, 1 BLAS thread(s),
 * OpenBLAS Zen`. Call it once the native backend is loaded (initBackend('native')): it requires the package at run
 * time, so a process without it never loads it.
 */
export function nativeRuntime(): string {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const t = require('@mmzoo/backend-native').nativeThreads() as { threads: number; blasThreads: number; blasCore: string };
  return `${t.threads} pool threads, ${t.blasThreads} BLAS thread(s), OpenBLAS ${t.blasCore}`;
}
