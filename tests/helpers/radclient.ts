import { execFile } from 'node:child_process';

/** Runs FreeRADIUS's own radclient (an independent implementation) and parses its -x output. */
export interface RadclientReply {
  code: string | null;
  attrs: Record<string, string[]>;
  raw: string;
}

/**
 * An Access-Request carries a Message-Authenticator unless `messageAuthenticator: false`, as
 * RouterOS 7.15+ sends it and as Lango requires it of a NAS by default.
 */
export function radclient(opts: {
  port: number;
  secret: string;
  type: 'auth' | 'acct';
  attrs: string[];
  host?: string;
  chap?: boolean;
  messageAuthenticator?: boolean;
}): Promise<RadclientReply> {
  const ma =
    opts.type === 'auth' &&
    opts.messageAuthenticator !== false &&
    !opts.attrs.some((a) => a.startsWith('Message-Authenticator'));
  const input = [...opts.attrs, ...(ma ? ['Message-Authenticator = 0x00'] : [])].join('\n') + '\n';
  return new Promise((resolve, reject) => {
    const child = execFile(
      'radclient',
      ['-x', '-r', '2', '-t', '2', `${opts.host ?? '127.0.0.1'}:${opts.port}`, opts.type, opts.secret],
      { timeout: 15000 },
      (err, stdout, stderr) => {
        const raw = `${stdout}\n${stderr}`;
        if (err && !/Received|No reply/.test(raw)) return reject(new Error(`radclient failed: ${raw}`));
        resolve(parseReply(stdout));
      },
    );
    child.stdin!.end(input);
  });
}

export function parseReply(out: string): RadclientReply {
  const lines = out.split('\n');
  const idx = lines.findIndex((l) => l.startsWith('Received '));
  if (idx < 0) return { code: null, attrs: {}, raw: out };
  const code = /^Received (\S+)/.exec(lines[idx]!)![1]!;
  const attrs: Record<string, string[]> = {};
  for (const l of lines.slice(idx + 1)) {
    const m = /^\s+([A-Za-z0-9-]+) = (.*)$/.exec(l);
    if (!m) break;
    const v = m[2]!.replace(/^"(.*)"$/, '$1');
    (attrs[m[1]!] ??= []).push(v);
  }
  return { code, attrs, raw: out };
}

/** radtest for CHAP / MS-CHAP (radclient cannot compute those from a clear-text password). */
export function radtest(opts: {
  user: string;
  password: string;
  port: number;
  secret: string;
  method: 'pap' | 'chap' | 'mschap';
}): Promise<RadclientReply> {
  return new Promise((resolve, reject) => {
    execFile(
      'radtest',
      ['-x', '-t', opts.method, opts.user, opts.password, `127.0.0.1:${opts.port}`, '0', opts.secret],
      { timeout: 15000 },
      (err, stdout, stderr) => {
        const raw = `${stdout}\n${stderr}`;
        if (err && !/Received|No reply/.test(raw)) return reject(new Error(`radtest failed: ${raw}`));
        resolve(parseReply(stdout));
      },
    );
  });
}

/** radclient attribute-file quoting for string values. */
export function q(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}
