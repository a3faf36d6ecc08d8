/**
 * The payments loops of the worker:
 *   settle     pending STK payments without a callback: STK Query when due, expiry after
 *              LANGO_STK_EXPIRY_SECONDS (modules/payments/stk.service.ts settleDue)
 *   sms        the SMS outbox, sent after commit, retried with backoff (payments/sms.ts)
 *   reminders  expiry reminders queued by each plan's lead time
 * All state is in the database (claims with leases, SKIP LOCKED): a worker restarted mid-way
 * loses nothing, and several workers share the work.
 */
import type { Logger } from 'pino';
import type { Clock } from '../lib/clock';
import type { SmsSender } from '../modules/payments/sms';
import type { StkService } from '../modules/payments/stk.service';
import { Periodic } from './periodic';

export interface PaymentLoopsOptions {
  stk: StkService;
  sms?: SmsSender;
  /** Default 5 s. */
  settleMs?: number;
  /** Default 5 s. */
  smsMs?: number;
  /** Default 60 s; 0 turns reminders off. */
  remindersMs?: number;
}

export function startPaymentLoops(o: PaymentLoopsOptions, log: Logger, clock: Clock): { stop(): Promise<void> } {
  const loops: Periodic[] = [];
  const settle = new Periodic(
    'payments-settle',
    o.settleMs ?? 5000,
    async () => {
      // Drain: a full batch means more are due.
      for (let i = 0; i < 20; i++) {
        const r = await o.stk.settleDue(50);
        if (r.settled || r.expired) log.info(r, 'pending payments settled by query or expired');
        if (r.claimed < 50) break;
      }
    },
    log,
    clock,
  );
  settle.start(500);
  loops.push(settle);
  if (o.sms) {
    const sms = o.sms;
    const send = new Periodic(
      'payments-sms',
      o.smsMs ?? 5000,
      async () => {
        for (let i = 0; i < 20; i++) {
          const r = await sms.sendDue(50);
          if (r.claimed < 50) break;
        }
      },
      log,
      clock,
    );
    send.start(700);
    loops.push(send);
    if (o.remindersMs !== 0) {
      const reminders = new Periodic(
        'payments-reminders',
        o.remindersMs ?? 60_000,
        async () => {
          const n = await sms.queueReminders();
          if (n > 0) log.info({ count: n }, 'expiry reminders queued');
        },
        log,
        clock,
      );
      reminders.start(1500);
      loops.push(reminders);
    }
  }
  return { stop: async () => void (await Promise.all(loops.map((l) => l.stop()))) };
}
