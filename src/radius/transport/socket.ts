/**
 * Opening a UDP socket for RADIUS: one place that creates, binds and sizes the receive buffer,
 * used by the request endpoint (clients) and by the CoA/Disconnect server.
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import { ipv6ToBytes } from '../ip';

export type Family = 4 | 6;

/** SO_RCVBUF set after bind. Default 4 MiB (the kernel caps it at net.core.rmem_max). */
export const DEFAULT_RECV_BUFFER_SIZE = 4 * 1024 * 1024;

export interface BindOptions {
  readonly family: Family;
  readonly address?: string;
  readonly port?: number;
  /** Refuse to share the port with another socket of this process (cluster). */
  readonly exclusive?: boolean;
  readonly recvBufferSize?: number;
}

/** Create and bind a socket; rejects with the bind error (e.g. EADDRNOTAVAIL, EADDRINUSE). */
export async function bindUdpSocket(opts: BindOptions): Promise<Socket> {
  const socket = createSocket({ type: opts.family === 6 ? 'udp6' : 'udp4' });
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => {
      socket.close();
      reject(err);
    };
    socket.once('error', onError);
    socket.bind(
      {
        port: opts.port ?? 0,
        ...(opts.address ? { address: opts.address } : {}),
        ...(opts.exclusive ? { exclusive: true } : {}),
      },
      () => {
        socket.off('error', onError);
        resolve();
      },
    );
  });
  try {
    socket.setRecvBufferSize(opts.recvBufferSize ?? DEFAULT_RECV_BUFFER_SIZE);
  } catch {
    // Not fatal: the kernel default buffer still works, only bursts may overflow it.
  }
  return socket;
}

/** Family of an IP literal (IPv4-mapped IPv6 counts as 6: it is sent from a udp6 socket). */
export function familyOf(address: string): Family | undefined {
  const v = isIP(address);
  return v === 4 ? 4 : v === 6 ? 6 : undefined;
}

/** Stable text for an address as a socket reports it (IPv6 by its bytes, IPv4-mapped unwrapped, scope dropped). */
export function addressKey(address: string): string {
  const bare = address.split('%')[0] ?? address;
  if (bare.toLowerCase().startsWith('::ffff:') && isIP(bare.slice(7)) === 4) return bare.slice(7);
  return isIP(bare) === 6 ? ipv6ToBytes(bare).toString('hex') : bare;
}

/** Close a socket, tolerating one that is already closed. */
export function closeSocket(socket: Socket): Promise<void> {
  return new Promise<void>((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      resolve();
    }
  });
}
