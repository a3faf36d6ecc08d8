/**
 * The worker loops' delay before trying the database (or a connection) again after `failures`
 * consecutive failures: base doubled per failure, capped. One formula for every loop.
 */
export function retryDelay(failures: number, o: { capMs: number; baseMs?: number }): number {
  return Math.min(o.capMs, (o.baseMs ?? 100) * 2 ** Math.min(Math.max(failures, 0), 7));
}
