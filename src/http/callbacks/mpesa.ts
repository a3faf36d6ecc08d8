/**
 * Daraja's callbacks: /callbacks/pay/<token>/{stk, c2b/validation, c2b/confirmation}.
 *
 * The body is read here, not by a parser: any content type, at most `maxBytes` kept (a larger
 * body is kept cut and read no further), and stored with its headers and source address before
 * anything is made of it (PaymentsService.storeCallback). Then it is decoded (UTF-8, JSON),
 * parsed (src/mpesa/callbacks.ts) and handled; whatever the body was, Daraja gets the answer it
 * expects (a refusal for validation when the body is unreadable). A token that names no account
 * gets 404; a source outside LANGO_MPESA_CALLBACK_NETWORKS (when set) gets 403; both are stored.
 */
import net from 'node:net';
import { Router, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import {
  parseC2bNotification,
  parseStkCallback,
  STK_CALLBACK_ACK,
  C2B_CONFIRMATION_ACK,
  C2B_VALIDATION_ACCEPT,
  c2bValidationReject,
} from '../../mpesa/callbacks';
import type { PaymentsService } from '../../modules/payments/payments.service';

export interface MpesaCallbackOptions {
  maxBytes: number;
  /** CIDR networks callbacks may come from; empty: any. */
  networks: readonly string[];
}

/** Headers kept with a callback (not cookies or credentials), each cut to 500 characters. */
function keptHeaders(req: Request): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (k === 'cookie' || k === 'authorization' || k === 'proxy-authorization') continue;
    out[k] = (Array.isArray(v) ? v.join(', ') : String(v ?? '')).slice(0, 500);
    if (Object.keys(out).length >= 40) break;
  }
  return out;
}

/** Reads the body: at most `max` bytes kept, the rest counted and dropped. */
function readBody(req: Request, max: number): Promise<{ body: Buffer; bytes: number; truncated: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let kept = 0;
    let bytes = 0;
    req.on('data', (c: Buffer) => {
      bytes += c.length;
      if (kept < max) {
        const part = c.subarray(0, max - kept);
        chunks.push(part);
        kept += part.length;
      }
      // Far too large: stop reading (what was kept is stored; the answer still goes out).
      if (bytes > max * 16) {
        req.pause();
        resolve({ body: Buffer.concat(chunks), bytes, truncated: true });
      }
    });
    req.on('end', () => resolve({ body: Buffer.concat(chunks), bytes, truncated: bytes > max }));
    req.on('error', reject);
  });
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** The body as JSON, or why it is not (the parsers then see undefined and refuse it). */
export function decodeJson(
  body: Buffer,
  contentType: string | undefined,
  truncated: boolean,
): { ok: true; value: unknown } | { ok: false; reason: string } {
  if (truncated) return { ok: false, reason: 'body too large' };
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json' && !type.endsWith('+json') && type !== 'text/plain' && type !== '')
    return { ok: false, reason: `content type ${type.slice(0, 60)} is not JSON` };
  let text: string;
  try {
    text = UTF8.decode(body);
  } catch {
    return { ok: false, reason: 'body is not UTF-8' };
  }
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false, reason: 'body is not JSON' };
  }
}

function allowList(networks: readonly string[]): net.BlockList | null {
  if (networks.length === 0) return null;
  const list = new net.BlockList();
  for (const cidr of networks) {
    const [address, prefix] = cidr.split('/');
    list.addSubnet(address!, Number(prefix), net.isIPv6(address!) ? 'ipv6' : 'ipv4');
  }
  return list;
}

export function mpesaCallbacks(o: { payments: PaymentsService; log: Logger; options: MpesaCallbackOptions }): Router {
  const router = Router();
  const allowed = allowList(o.options.networks);
  const log = o.log.child({ callbacks: 'mpesa' });

  const refusedSource = (addr: string | undefined): boolean => {
    if (!allowed) return false;
    if (!addr) return true;
    const a = addr.startsWith('::ffff:') && net.isIPv4(addr.slice(7)) ? addr.slice(7) : addr;
    return !allowed.check(a, net.isIPv6(a) ? 'ipv6' : 'ipv4');
  };

  type Kind = 'stk' | 'c2b_validation' | 'c2b_confirmation';
  const handle = (kind: Kind) => async (req: Request, res: Response) => {
    const source = req.ip ?? req.socket.remoteAddress;
    let stored: Awaited<ReturnType<PaymentsService['storeCallback']>>;
    let decoded: ReturnType<typeof decodeJson>;
    try {
      const { body, bytes, truncated } = await readBody(req, o.options.maxBytes);
      const contentType = req.get('content-type');
      stored = await o.payments.storeCallback({
        token: String(req.params.token ?? ''),
        kind,
        sourceAddress: source,
        contentType,
        headers: keptHeaders(req),
        body,
        bodyBytes: bytes,
        truncated,
        refused: refusedSource(source),
      });
      decoded = decodeJson(body, contentType, truncated);
    } catch (err) {
      log.error({ err, kind }, 'callback could not be stored');
      res.status(500).json({ ResultCode: 1, ResultDesc: 'Temporarily unavailable' });
      return;
    }
    if (!stored.account) {
      // Bad token or refused source: kept for review, nothing else.
      const refused = refusedSource(source);
      res
        .status(refused ? 403 : 404)
        .json(
          kind === 'c2b_validation'
            ? c2bValidationReject('other')
            : { ResultCode: 1, ResultDesc: refused ? 'Forbidden' : 'Unknown' },
        );
      return;
    }
    const value = decoded.ok ? decoded.value : undefined;
    const invalid = decoded.ok ? undefined : { ok: false as const, reason: decoded.reason };
    try {
      if (kind === 'stk') {
        const outcome = await o.payments.handleStkCallback(
          stored.account,
          stored.id,
          invalid ?? parseStkCallback(value),
        );
        if (outcome !== 'credited' && outcome !== 'settled')
          log.info({ callbackId: stored.id, outcome }, 'STK callback not applied');
        res.json(STK_CALLBACK_ACK);
      } else if (kind === 'c2b_validation') {
        const d = await o.payments.validateC2b(stored.account, stored.id, invalid ?? parseC2bNotification(value));
        res.json(d.accept ? C2B_VALIDATION_ACCEPT : c2bValidationReject(d.reason ?? 'other'));
      } else {
        const outcome = await o.payments.confirmC2b(stored.account, stored.id, invalid ?? parseC2bNotification(value));
        if (outcome !== 'credited') log.info({ callbackId: stored.id, outcome }, 'C2B confirmation not credited');
        res.json(C2B_CONFIRMATION_ACK);
      }
    } catch (err) {
      // Stored, not handled: the row says so; Daraja may try again.
      log.error({ err, callbackId: stored.id, kind }, 'callback handling failed');
      await o.payments
        .callbackFailed(stored.id, (err as Error)?.message?.slice(0, 200) ?? 'error')
        .catch(() => undefined);
      res.status(500).json({ ResultCode: 1, ResultDesc: 'Temporarily unavailable' });
    }
  };

  router.post('/pay/:token/stk', handle('stk'));
  router.post('/pay/:token/c2b/validation', handle('c2b_validation'));
  router.post('/pay/:token/c2b/confirmation', handle('c2b_confirmation'));
  return router;
}
