/**
 * `lango simulate daraja` as an operator runs it (bin/lango, compiled by `npm test`'s build
 * step): it prints where it listens, serves Daraja's OAuth and the control API, prints a line
 * per STK Push, and stops cleanly on SIGTERM.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { SANDBOX_PASSKEY, SANDBOX_SHORTCODE } from '../../src/mpesa';
import { darajaTimestamp, stkPassword } from '../../src/mpesa/password';

const REPO_ROOT = path.resolve(__dirname, '../..');

it('serves Daraja and the control API on the port it prints, then stops on SIGTERM', async () => {
  const child = spawn(
    process.execPath,
    [path.join(REPO_ROOT, 'bin/lango'), 'simulate', 'daraja', '--port', '0', '--till', '300200', '--store', '300100'],
    {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const seen = (pattern: RegExp): Promise<RegExpExecArray> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const m = pattern.exec(out);
        if (m) {
          child.stdout!.off('data', onData);
          resolve(m);
        }
      };
      const onData = (d: Buffer): void => {
        out += d.toString();
        check();
      };
      child.stdout!.on('data', onData);
      void exited.then(() => reject(new Error(`exited early:\n${out}`)));
      check();
    });
  try {
    const [, url] = await seen(
      /Daraja simulator on (http:\/\/127\.0\.0\.1:\d+) \(consumer key lango-simulator-key\); paybill 174379, till 300200 \(store 300100\)/,
    );
    const basic = Buffer.from('lango-simulator-key:lango-simulator-secret').toString('base64');
    const tokenRes = await fetch(`${url}/oauth/v1/generate?grant_type=client_credentials`, {
      headers: { authorization: `Basic ${basic}` },
    });
    const { access_token } = (await tokenRes.json()) as { access_token: string };
    const scenario = await fetch(`${url}/simulator/scenarios`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"copies":0}',
    });
    expect(scenario.status).toBe(201);
    const ts = darajaTimestamp(new Date());
    const push = await fetch(`${url}/mpesa/stkpush/v1/processrequest`, {
      method: 'POST',
      headers: { authorization: `Bearer ${access_token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        BusinessShortCode: SANDBOX_SHORTCODE,
        Password: stkPassword(SANDBOX_SHORTCODE, SANDBOX_PASSKEY, ts),
        Timestamp: ts,
        TransactionType: 'CustomerPayBillOnline',
        Amount: 10,
        PartyA: '254708374149',
        PartyB: SANDBOX_SHORTCODE,
        PhoneNumber: '254708374149',
        CallBackURL: 'http://127.0.0.1:9/cb',
        AccountReference: 'demo',
      }),
    });
    const body = (await push.json()) as { ResponseCode: string; CheckoutRequestID: string };
    expect(body.ResponseCode).toBe('0');
    await seen(new RegExp(`STK ${body.CheckoutRequestID}: KES 10 from 254708374149 to 174379 \\(demo\\)`));
  } finally {
    child.kill('SIGTERM');
  }
  expect(await exited).toBe(0);
});
