/**
 * `lango simulate daraja`: the Daraja simulator (src/simulate/daraja-simulator.ts) on the
 * command line, for demos: one app (consumer key/secret), the sandbox paybill 174379 (or the
 * paybill/till given), and the control API at /simulator to script outcomes and make C2B
 * payments. Prints one line per STK Push and callback.
 */
import type { Logger } from 'pino';
import { SANDBOX_PASSKEY, SANDBOX_SHORTCODE } from '../mpesa/daraja-client';
import { SIMULATOR_APP, startDarajaSimulator, type SimulatorShortcode } from '../simulate/daraja-simulator';
import { UsageError, type Parsed } from './args';

function opt(p: Parsed, name: string): string | undefined {
  const v = p.options[name];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function int(p: Parsed, name: string, dflt: number, max: number): number {
  const raw = opt(p, name);
  const n = raw === undefined ? dflt : Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > max) throw new UsageError(`--${name} must be an integer from 0 to ${max}`);
  return n;
}

const digits = (p: Parsed, name: string): string | undefined => {
  const v = opt(p, name);
  if (v !== undefined && !/^\d{5,10}$/.test(v)) throw new UsageError(`--${name} must be a shortcode (5 to 10 digits)`);
  return v;
};

export async function simulateDaraja(p: Parsed, logger: Logger, until: Promise<void>): Promise<number> {
  const passkey = opt(p, 'passkey') ?? SANDBOX_PASSKEY;
  const shortcodes: SimulatorShortcode[] = [
    {
      type: 'paybill',
      shortcode: digits(p, 'shortcode') ?? SANDBOX_SHORTCODE,
      passkey,
      validation: p.options.validation === true,
    },
  ];
  const till = digits(p, 'till');
  const store = digits(p, 'store');
  if ((till === undefined) !== (store === undefined))
    throw new UsageError('--till and --store go together (a till and its store number)');
  if (till && store)
    shortcodes.push({ type: 'till', till, storeNumber: store, passkey, validation: p.options.validation === true });
  const app = {
    consumerKey: opt(p, 'consumer-key') ?? SIMULATOR_APP.consumerKey,
    consumerSecret: opt(p, 'consumer-secret') ?? SIMULATOR_APP.consumerSecret,
  };

  const sim = await startDarajaSimulator({
    port: int(p, 'port', 8090, 65535),
    host: opt(p, 'host') ?? '127.0.0.1',
    apps: [app],
    shortcodes,
    answerDelayMs: int(p, 'answer-delay-ms', 3000, 3_600_000),
    logger: logger.child({ module: 'daraja-simulator' }),
  });
  const out = (line: string): void => void process.stdout.write(`${new Date().toISOString()} ${line}\n`);
  out(
    `Daraja simulator on ${sim.url} (consumer key ${app.consumerKey}); paybill ${shortcodes[0]!.type === 'paybill' ? shortcodes[0]!.shortcode : ''}${till ? `, till ${till} (store ${store})` : ''}`,
  );
  out(
    `control API: GET/POST/DELETE ${sim.url}/simulator/scenarios, GET ${sim.url}/simulator/stk, POST ${sim.url}/simulator/stk/<CheckoutRequestID>/callback, POST ${sim.url}/simulator/c2b`,
  );

  const seen = new Map<string, number>();
  const events = setInterval(() => {
    for (const stk of sim.transactions.values()) {
      const shown = seen.get(stk.checkoutRequestId);
      if (shown === undefined) {
        out(
          `STK ${stk.checkoutRequestId}: KES ${stk.amount} from ${stk.phone} to ${stk.partyB} (${stk.accountReference})`,
        );
        seen.set(stk.checkoutRequestId, 0);
      }
      for (let i = seen.get(stk.checkoutRequestId) ?? 0; i < stk.deliveries.length; i++) {
        const d = stk.deliveries[i]!;
        out(
          `callback ${stk.checkoutRequestId}: ResultCode ${String(stk.resultCode)} -> ${d.status !== undefined ? `HTTP ${d.status}` : d.error}`,
        );
      }
      seen.set(stk.checkoutRequestId, stk.deliveries.length);
    }
  }, 200);
  await until;
  clearInterval(events);
  await sim.close();
  return 0;
}
