/**
 * The SMS outbox's sending side: Africa's Talking's bulk SMS API (POST /version1/messaging,
 * `apiKey` header, form body username/to/message[/from], JSON answer
 * {SMSMessageData:{Message, Recipients:[{statusCode, number, status, cost, messageId}]}}).
 * Rows are claimed (SKIP LOCKED, a lease) and sent after the transaction that queued them
 * committed; each outcome is written: sent (with the provider's message id), retried later
 * with backoff, or failed after maxAttempts. A worker that dies mid-send leaves its rows to
 * the next claim when the lease runs out (a message may then go twice; never zero times).
 * Each tenant's messages go through its own account and sender ID when it set them
 * (SmsSettingsService), else the install's; a tenant that turned SMS off gets its messages
 * marked failed ("SMS turned off"), not sent.
 */
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { Clock } from '../../lib/clock';
import { retryDelay } from '../../lib/retry-delay';
import { parsePhone } from '../../mpesa/phone';
import { claimDueSms, enqueueSms, smsOutcome, tenantLocale } from './payments.repo';
import { reminderMessage } from './messages';
import type { SmsSettingsService, TenantSmsProvider } from './sms-settings.service';

export interface SmsProviderOptions {
  apiKey: string | undefined;
  username: string;
  baseUrl: string;
  senderId: string | undefined;
  maxAttempts: number;
  timeoutMs?: number;
}

export type SmsResult = { ok: true; messageId: string } | { ok: false; retryable: boolean; error: string };

/** Sends one message with Africa's Talking. */
export async function sendAfricasTalking(
  o: SmsProviderOptions,
  to: string,
  message: string,
  fetchImpl: typeof fetch = fetch,
): Promise<SmsResult> {
  if (!o.apiKey) return { ok: false, retryable: true, error: 'LANGO_SMS_API_KEY is not set' };
  const form = new URLSearchParams({ username: o.username, to, message });
  if (o.senderId) form.set('from', o.senderId);
  let res: Response;
  try {
    res = await fetchImpl(`${o.baseUrl}/version1/messaging`, {
      method: 'POST',
      headers: { apiKey: o.apiKey, Accept: 'application/json', 'Content-Type': 'application/x-www-form-urlencoded' },
      body: form.toString(),
      signal: AbortSignal.timeout(o.timeoutMs ?? 15_000),
    });
  } catch (err) {
    return { ok: false, retryable: true, error: `no answer: ${(err as Error).name}` };
  }
  const text = await res.text().catch(() => '');
  if (res.status >= 500 || res.status === 429) return { ok: false, retryable: true, error: `HTTP ${res.status}` };
  if (res.status === 401) return { ok: false, retryable: true, error: 'HTTP 401: the API key or username was refused' };
  if (res.status >= 400) return { ok: false, retryable: false, error: `HTTP ${res.status}: ${text.slice(0, 200)}` };
  let body: {
    SMSMessageData?: {
      Message?: string;
      Recipients?: Array<{ statusCode?: number; status?: string; messageId?: string }>;
    };
  };
  try {
    body = JSON.parse(text);
  } catch {
    return { ok: false, retryable: true, error: 'answer is not JSON' };
  }
  const r = body.SMSMessageData?.Recipients?.[0];
  if (!r)
    return {
      ok: false,
      retryable: false,
      error: `no recipient accepted: ${String(body.SMSMessageData?.Message ?? '').slice(0, 200)}`,
    };
  // 100 Processed, 101 Sent, 102 Queued; 401-409 risk/invalid/blacklist (final); 500 internal (retry).
  if (r.statusCode === 100 || r.statusCode === 101 || r.statusCode === 102)
    return { ok: true, messageId: String(r.messageId ?? '') };
  return {
    ok: false,
    retryable: r.statusCode === 500 || r.statusCode === 405,
    error: `${r.statusCode ?? '?'} ${String(r.status ?? '').slice(0, 100)}`,
  };
}

export class SmsSender {
  constructor(
    private readonly deps: {
      db: Knex;
      clock: Clock;
      options: SmsProviderOptions;
      /** Per-tenant settings; without it every message goes through `options`. */
      settings?: SmsSettingsService;
      logger?: Logger;
      fetch?: typeof fetch;
    },
  ) {}

  /** One pass: claim due messages, send each, record outcomes. Returns how many were sent. */
  async sendDue(limit = 50): Promise<{ claimed: number; sent: number; failed: number }> {
    const { db, clock, options } = this.deps;
    const rows = await claimDueSms(db, clock.date(), limit, 120);
    let sent = 0;
    let failed = 0;
    const providers = new Map<string, TenantSmsProvider>();
    for (const m of rows) {
      let provider = providers.get(m.tenant_id);
      if (!provider) {
        provider = this.deps.settings
          ? await this.deps.settings.providerFor(m.tenant_id, options)
          : { off: false, options };
        providers.set(m.tenant_id, provider);
      }
      const phone = parsePhone(m.phone);
      const r: SmsResult = provider.off
        ? { ok: false, retryable: false, error: 'SMS turned off for this tenant' }
        : phone.ok
          ? await sendAfricasTalking(provider.options, `+${phone.msisdn}`, m.body, this.deps.fetch)
          : { ok: false, retryable: false, error: 'not a Kenyan mobile number' };
      if (r.ok) {
        sent++;
        await smsOutcome(db, m.id, { status: 'sent', providerMessageId: r.messageId, sentAt: clock.date() });
      } else if (r.retryable && m.attempts < options.maxAttempts) {
        await smsOutcome(db, m.id, {
          status: 'pending',
          error: r.error,
          nextAttemptAt: new Date(clock.now() + retryDelay(m.attempts, { baseMs: 30_000, capMs: 3_600_000 })),
        });
      } else {
        failed++;
        await smsOutcome(db, m.id, { status: 'failed', error: r.error });
        this.deps.logger?.warn({ smsId: m.id, error: r.error }, 'SMS not sent');
      }
    }
    return { claimed: rows.length, sent, failed };
  }

  /**
   * Expiry reminders: a subscription whose plan has a reminder lead time and that ends within it
   * (and is the subscriber's last) gets one message (deduplicated by subscription).
   */
  async queueReminders(limit = 500): Promise<number> {
    const { db, clock } = this.deps;
    const now = clock.date();
    const rows: Array<{
      id: string;
      tenant_id: string;
      phone: string;
      plan_name: string;
      ends_at: Date;
      account_number: string;
    }> = (
      await db.raw(
        `SELECT sb.id, sb.tenant_id, s.phone, sb.plan_name, sb.ends_at, s.account_number
           FROM subscriptions sb
           JOIN plans p ON p.id = sb.plan_id
           JOIN subscribers s ON s.id = sb.subscriber_id AND s.tenant_id = sb.tenant_id
          WHERE sb.status = 'active' AND p.reminder_lead_seconds IS NOT NULL AND s.phone IS NOT NULL AND s.status = 'active'
            AND sb.ends_at > ? AND sb.ends_at <= ?::timestamptz + make_interval(secs => p.reminder_lead_seconds)
            AND NOT EXISTS (SELECT 1 FROM subscriptions later WHERE later.subscriber_id = sb.subscriber_id AND later.status = 'active' AND later.ends_at > sb.ends_at)
            AND NOT EXISTS (SELECT 1 FROM sms_outbox o WHERE o.tenant_id = sb.tenant_id AND o.dedupe_key = 'reminder:' || sb.id::text)
          LIMIT ?`,
        [now, now, limit],
      )
    ).rows;
    for (const r of rows) {
      const t = await tenantLocale(db, r.tenant_id);
      const body = reminderMessage(
        { language: t.language, timeZone: t.time_zone, currency: t.currency.trim(), tenantName: t.name },
        { planName: r.plan_name, endsAt: new Date(r.ends_at), accountNumber: r.account_number },
      );
      await enqueueSms(db, {
        tenant_id: r.tenant_id,
        kind: 'reminder',
        dedupe_key: `reminder:${r.id}`,
        phone: r.phone,
        body,
      });
    }
    return rows.length;
  }
}
