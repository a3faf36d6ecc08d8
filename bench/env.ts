/**
 * A benchmark setting from the environment: a positive integer, `dflt` when unset or empty.
 * Anything else stops the benchmark with the variable's name, before it measures anything.
 */
export function positiveIntEnv(name: string, dflt: number): number {
  const v = process.env[name];
  const n = v ? Number(v) : dflt;
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer`);
  return n;
}
