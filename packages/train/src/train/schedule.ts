/**
 * Learning rate at optimizer step `step` (0-based): linear warmup from 0 to `lr` over `warmupSteps`, then
 * cosine decay to `minLr` at `totalSteps` (SGDR, Loshchilov & Hutter 2017; open_clip `cosine_lr`).
 * @param step 0-based step; @returns the learning rate (same unit as `lr`)
 */
export function cosineLr(step: number, lr: number, totalSteps: number, warmupSteps = 0, minLr = 0): number {
  if (step < warmupSteps) return (lr * (step + 1)) / warmupSteps;
  const span = Math.max(1, totalSteps - warmupSteps);
  const progress = Math.min(1, (step - warmupSteps) / span);
  return minLr + 0.5 * (lr - minLr) * (1 + Math.cos(Math.PI * progress));
}
