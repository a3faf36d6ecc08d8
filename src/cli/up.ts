import type { Logger } from 'pino';
import type { Config } from '../config';
import { bringUp } from '../stack';
import { waitForSignal } from './signals';

/** `lango up`: the stack (src/stack.ts) until Ctrl-C. */
export async function up(config: Config, logger: Logger): Promise<number> {
  const say = (line: string) => process.stdout.write(line + '\n');
  const stack = await bringUp(config, logger, say);
  if (!stack) return 1;
  say('Ctrl-C stops everything.');
  await waitForSignal();
  say('Stopping...');
  await stack.stop();
  return 0;
}
