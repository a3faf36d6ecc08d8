/**
 * `lango simulate sms`: Africa's Talking's SMS endpoint (src/simulate/sms-simulator.ts) on the
 * command line; point LANGO_SMS_BASE_URL at it. Prints every message it is sent.
 */
import { startSmsSimulator } from '../simulate/sms-simulator';
import { UsageError, type Parsed } from './args';

export async function simulateSms(p: Parsed, until: Promise<void>): Promise<number> {
  const rawPort = typeof p.options.port === 'string' ? p.options.port : '8091';
  const port = Number(rawPort);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError('--port must be an integer from 0 to 65535');
  const apiKey = typeof p.options['api-key'] === 'string' ? p.options['api-key'] : undefined;
  const sim = await startSmsSimulator({
    port,
    host: typeof p.options.host === 'string' ? p.options.host : '127.0.0.1',
    ...(apiKey ? { apiKey } : {}),
  });
  const out = (line: string): void => void process.stdout.write(`${new Date().toISOString()} ${line}\n`);
  out(`Africa's Talking SMS simulator on ${sim.url}: POST /version1/messaging, messages at GET /simulator/messages`);
  let shown = 0;
  const timer = setInterval(() => {
    for (; shown < sim.messages.length; shown++) {
      const m = sim.messages[shown]!;
      out(`SMS to ${m.to}${m.from ? ` from ${m.from}` : ''}: ${m.message}`);
    }
  }, 200);
  await until;
  clearInterval(timer);
  await sim.close();
  return 0;
}
