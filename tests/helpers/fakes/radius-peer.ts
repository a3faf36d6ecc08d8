/**
 * One scriptable fake RADIUS peer on loopback UDP, for tests of anything that sends RADIUS
 * (RadiusClient, DynAuthClient, the NAS simulator's auth/accounting side, the enforcement
 * worker, the gateway). A script decides per datagram: answer (signed with the codec for that
 * request, optionally with another secret), ignore, delay, or garble (bytes that must be dropped);
 * everything received is recorded, decoded when it decodes and marked verified when its
 * authenticators check with the peer's secret.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import {
  decodePacket,
  encodeResponse,
  verifyRequest,
  type RadiusAttribute,
  type RadiusPacket,
  type Secret,
} from '../../../src/radius/codec';

export interface Received {
  /** 1-based arrival number. */
  readonly n: number;
  readonly bytes: Buffer;
  readonly from: { readonly address: string; readonly port: number };
  /** Decoded with the peer's secret (User-Password revealed); undefined if it does not decode. */
  readonly packet: RadiusPacket | undefined;
  /** Request Authenticator / Message-Authenticator verify with the peer's secret. */
  readonly verified: boolean;
}

export type PeerAction =
  | {
      readonly kind: 'answer';
      readonly code: number;
      readonly attributes?: readonly RadiusAttribute[];
      readonly secret?: Secret;
      readonly messageAuthenticator?: boolean;
      readonly delayMs?: number;
    }
  | { readonly kind: 'ignore' }
  | { readonly kind: 'raw'; readonly bytes: Buffer; readonly delayMs?: number };

/** What to do with a datagram: one action, several (sent in order), or nothing. */
export type Script = (req: Received, peer: RadiusPeer) => PeerAction | readonly PeerAction[] | undefined;

export interface RadiusPeer {
  readonly host: string;
  readonly port: number;
  readonly secret: Secret;
  readonly received: Received[];
  /** Verified requests' packets, in arrival order. */
  readonly packets: RadiusPacket[];
  /** Replace the script from now on. */
  script: Script;
  /** Send bytes from the peer's socket (e.g. an answer to someone else's request). */
  send(bytes: Buffer, port: number, address: string): void;
  /** Resolves when `n` datagrams have been received in total. */
  waitFor(n: number): Promise<Received[]>;
  close(): Promise<void>;
}

export const ignore: PeerAction = { kind: 'ignore' };

export function answer(
  code: number,
  attributes: readonly RadiusAttribute[] = [],
  extra: { secret?: Secret; messageAuthenticator?: boolean; delayMs?: number } = {},
): PeerAction {
  return { kind: 'answer', code, attributes, ...extra };
}

export function raw(bytes: Buffer, delayMs?: number): PeerAction {
  return delayMs === undefined ? { kind: 'raw', bytes } : { kind: 'raw', bytes, delayMs };
}

/** The matching ACK/NAK/Response code for a request code. */
export function ackCode(requestCode: number): number {
  return ({ 1: 2, 4: 5, 12: 2, 40: 41, 43: 44 } as Record<number, number>)[requestCode] ?? 0;
}

export function nakCode(requestCode: number): number {
  return ({ 1: 3, 40: 42, 43: 45 } as Record<number, number>)[requestCode] ?? 0;
}

/** Answers every verified request with its ACK code (Access-Accept, Accounting-Response, ...). */
export const acking: Script = (r) => (r.verified && r.packet ? answer(ackCode(r.packet.code)) : ignore);

/** Bytes the receiver must drop: the request's Identifier and an ACK code but a wrong authenticator. */
export function forgedAck(req: Received): Buffer {
  const forged = Buffer.from(req.bytes.subarray(0, 20));
  forged[0] = ackCode(req.bytes[0] ?? 0);
  forged.writeUInt16BE(20, 2);
  forged.fill(0xab, 4, 20);
  return forged;
}

/** Sign a reply for a received request with the codec. */
export function signedReply(
  req: Received,
  code: number,
  attributes: readonly RadiusAttribute[],
  secret: Secret,
  messageAuthenticator?: boolean,
): Buffer {
  return encodeResponse({
    code,
    request: decodePacket(req.bytes),
    secret,
    attributes,
    ...(messageAuthenticator === undefined ? {} : { addMessageAuthenticator: messageAuthenticator }),
  }).buffer;
}

export async function startRadiusPeer(opts: {
  secret: Secret;
  script?: Script;
  host?: string;
  requireMessageAuthenticator?: boolean;
}): Promise<RadiusPeer> {
  const host = opts.host ?? '127.0.0.1';
  const socket: Socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  const received: Received[] = [];
  const packets: RadiusPacket[] = [];
  const waiters: { n: number; resolve: (r: Received[]) => void }[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let closed = false;
  const sendLater = (bytes: Buffer, rinfo: RemoteInfo, delayMs = 0): void => {
    const go = (): void => {
      if (!closed) socket.send(bytes, rinfo.port, rinfo.address);
    };
    if (delayMs <= 0) return go();
    const t = setTimeout(() => {
      timers.delete(t);
      go();
    }, delayMs);
    timers.add(t);
  };
  await new Promise<void>((resolve) => socket.bind(0, host, resolve));
  const peer: RadiusPeer = {
    host,
    port: socket.address().port,
    secret: opts.secret,
    received,
    packets,
    script: opts.script ?? acking,
    send: (bytes, port, address) => socket.send(bytes, port, address),
    waitFor: (n) =>
      received.length >= n ? Promise.resolve([...received]) : new Promise((resolve) => waiters.push({ n, resolve })),
    close: async () => {
      closed = true;
      for (const t of timers) clearTimeout(t);
      await new Promise<void>((resolve) => socket.close(() => resolve()));
    },
  };
  socket.on('message', (msg, rinfo) => {
    const bytes = Buffer.from(msg);
    let packet: RadiusPacket | undefined;
    try {
      packet = decodePacket(bytes, { secret: opts.secret });
    } catch {
      packet = undefined;
    }
    const verified =
      packet !== undefined &&
      verifyRequest(bytes, opts.secret, opts.requireMessageAuthenticator ? { requireMessageAuthenticator: true } : {})
        .ok;
    const req: Received = {
      n: received.length + 1,
      bytes,
      from: { address: rinfo.address, port: rinfo.port },
      packet,
      verified,
    };
    received.push(req);
    if (verified && packet) packets.push(packet);
    for (const w of waiters.filter((x) => received.length >= x.n)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve([...received]);
    }
    const out = peer.script(req, peer);
    const actions: readonly PeerAction[] = out === undefined ? [] : Array.isArray(out) ? out : [out as PeerAction];
    for (const a of actions) {
      if (a.kind === 'ignore') continue;
      if (a.kind === 'raw') {
        sendLater(a.bytes, rinfo, a.delayMs);
        continue;
      }
      if (!packet) continue;
      sendLater(
        signedReply(req, a.code, a.attributes ?? [], a.secret ?? opts.secret, a.messageAuthenticator),
        rinfo,
        a.delayMs,
      );
    }
  });
  return peer;
}
