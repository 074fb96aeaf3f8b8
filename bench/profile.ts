import { tf } from '@mmzoo/core';

/** What tf.profile resolves to (tfjs exports no name for it). */
export type ProfileInfo = Awaited<ReturnType<typeof tf.profile>>;

/** One kernel's share of a profiled step: calls and total milliseconds. */
export interface KernelTime {
  kernel: string;
  calls: number;
  ms: number;
}

/**
 * The kernels of a tf.profile'd function summed by name and by name plus input shapes, largest total first (what
 * `--profile` prints for the CLIP step and the LM section for a LLaMA training step). customGrad ops appear in the
 * profile as scopes whose time includes their kernels ('unnamed scope' or the op's name with `__op`, e.g.
 * `fusedMatMul__op` around `_FusedMatMul`, and 'backward'): they are left out so that nothing counts twice. A kernel
 * without a time (async backends) counts 0 ms.
 */
export function kernelTimes(info: ProfileInfo): { byKernel: KernelTime[]; byShape: KernelTime[] } {
  const byKernel = new Map<string, KernelTime>();
  const byShape = new Map<string, KernelTime>();
  const add = (map: Map<string, KernelTime>, key: string, ms: number) => {
    const e = map.get(key) ?? { kernel: key, calls: 0, ms: 0 };
    e.calls++;
    e.ms += ms;
    map.set(key, e);
  };
  const scope = (name: string) => name === 'unnamed scope' || name === 'backward' || name.endsWith('__op');
  for (const k of info.kernels.filter((e) => !scope(e.name))) {
    const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    add(byKernel, k.name, ms);
    const shapes = k.inputShapes.map((sh) => `[${sh}]`);
    // a fused multi-tensor kernel (MmzooAdamW) has hundreds of inputs: keep the key short
    add(byShape, `${k.name} ${shapes.slice(0, 4).join(' ')}${shapes.length > 4 ? ` +${shapes.length - 4} inputs` : ''}`, ms);
  }
  const sorted = (m: Map<string, KernelTime>) => [...m.values()].sort((a, b) => b.ms - a.ms);
  return { byKernel: sorted(byKernel), byShape: sorted(byShape) };
}
