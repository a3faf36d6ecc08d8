/**
 * `lango simulate sms`: Africa's Talking's bulk SMS endpoint as documented (POST
 * /version1/messaging, `apiKey` header, application/x-www-form-urlencoded username, to,
 * message, optional from; JSON answer with SMSMessageData.Recipients), keeping what it was sent
 * (GET /simulator/messages) so tests and demos can read the messages. Scriptable: numbers in
 * `failNumbers` get statusCode 403 (InvalidPhoneNumber); `failNext(n)` answers the next n
 * requests with HTTP 500.
 */
import http from 'node:http';
import { randomUUID } from 'node:crypto';

export interface SimulatedSms {
  id: string;
  username: string;
  to: string;
  message: string;
  from: string | null;
  receivedAt: string;
}

export interface SmsSimulator {
  readonly url: string;
  readonly messages: SimulatedSms[];
  failNext(n: number): void;
  close(): Promise<void>;
}

export async function startSmsSimulator(
  o: { port?: number; host?: string; apiKey?: string; failNumbers?: string[] } = {},
): Promise<SmsSimulator> {
  const messages: SimulatedSms[] = [];
  let failing = 0;
  const fail = new Set(o.failNumbers ?? []);
  const json = (res: http.ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= 64 * 1024) chunks.push(c);
    });
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (req.method === 'GET' && url.pathname === '/simulator/messages') return json(res, 200, messages);
      if (url.pathname !== '/version1/messaging') return json(res, 404, { error: 'not found' });
      if (req.method !== 'POST') return json(res, 405, { error: 'method not allowed' });
      if (size > 64 * 1024) return json(res, 413, { error: 'too large' });
      const key = req.headers.apikey;
      if (!key || (o.apiKey && key !== o.apiKey)) {
        res.writeHead(401, { 'Content-Type': 'text/plain' }).end('The supplied authentication is invalid');
        return;
      }
      if (!(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded'))
        return json(res, 400, { error: 'form body expected' });
      if (failing > 0) {
        failing--;
        return json(res, 500, { error: 'internal' });
      }
      const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      const username = form.get('username');
      const to = form.get('to');
      const message = form.get('message');
      if (!username || !to || !message)
        return json(res, 400, { SMSMessageData: { Message: 'username, to and message are required', Recipients: [] } });
      const recipients = to
        .split(',')
        .map((n) => n.trim())
        .map((number) => {
          if (!/^\+254[17]\d{8}$/.test(number) || fail.has(number))
            return { statusCode: 403, number, status: 'InvalidPhoneNumber', cost: '0', messageId: 'None' };
          const id = `ATXid_${randomUUID().replace(/-/g, '')}`;
          messages.push({
            id,
            username,
            to: number,
            message,
            from: form.get('from'),
            receivedAt: new Date().toISOString(),
          });
          return { statusCode: 101, number, status: 'Success', cost: 'KES 0.8000', messageId: id };
        });
      const ok = recipients.filter((r) => r.statusCode === 101).length;
      return json(res, 201, {
        SMSMessageData: {
          Message: `Sent to ${ok}/${recipients.length} Total Cost: KES ${(0.8 * ok).toFixed(4)}`,
          Recipients: recipients,
        },
      });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, o.host ?? '127.0.0.1', () => resolve());
  });
  const addr = server.address() as { port: number };
  return {
    url: `http://${o.host ?? '127.0.0.1'}:${addr.port}`,
    messages,
    failNext(n: number) {
      failing = n;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
