import { randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import net from 'node:net';

/** The address to bind a probe socket to for a FreeRADIUS `ipaddr` ("*" is every IPv4 address). */
function probeAddress(listenAddress: string): { type: 'udp4' | 'udp6'; address: string } {
  if (listenAddress === '*') return { type: 'udp4', address: '0.0.0.0' };
  return { type: net.isIPv6(listenAddress) ? 'udp6' : 'udp4', address: listenAddress };
}

/**
 * Where ports the kernel hands out by itself (bind to port 0, and every client socket) come
 * from: Linux's ip_local_port_range, else IANA's dynamic range.
 */
function ephemeralRange(): { low: number; high: number } {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (Number.isInteger(low) && Number.isInteger(high) && (low as number) > 1024) return { low: low as number, high: high as number };
  } catch {
    // not Linux
  }
  return { low: 49152, high: 65535 };
}

/** Binds a probe socket; resolves false when the port is taken. */
function tryBind(socket: dgram.Socket, port: number, address: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      if (err.code === 'EADDRINUSE' || err.code === 'EACCES') resolve(false);
      else reject(err);
    };
    socket.once('error', onError);
    socket.bind({ port, address, exclusive: true }, () => {
      socket.off('error', onError);
      resolve(true);
    });
  });
}

/**
 * Distinct free UDP ports on `listenAddress`. They are chosen at random below the kernel's
 * ephemeral range (from 10000), where no client socket is given a port by the kernel: a port
 * found by binding to port 0 is one that any UDP client opened before the caller binds it (the
 * tests' RADIUS clients, FreeRADIUS's own sockets) can be handed, and `lango up` then failed with
 * "Address already in use". All probe sockets stay open until every port is known, so the ports
 * differ from each other. Another process may still bind a port explicitly first; callers retry
 * on that. Falls back to port 0 when no port below the range is free after some tries.
 */
export async function pickFreeUdpPorts(listenAddress: string, count: number): Promise<number[]> {
  const { type, address } = probeAddress(listenAddress);
  const { low } = ephemeralRange();
  const floor = 10000;
  const tries = low > floor ? 50 : 0;
  const sockets: dgram.Socket[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < count; i++) {
      // `tries` random ports below the range, then port 0 (the kernel's choice) as the last.
      for (let attempt = 0; ; attempt++) {
        const port = attempt < tries ? floor + randomInt(low - floor) : 0;
        const socket = dgram.createSocket({ type, reuseAddr: false });
        sockets.push(socket);
        if (await tryBind(socket, port, address)) {
          ports.push(socket.address().port);
          break;
        }
        if (port === 0) throw new Error(`no free UDP port on ${address}`);
      }
    }
    return ports;
  } finally {
    await Promise.all(
      sockets.map(
        (s) =>
          new Promise<void>((resolve) => {
            try {
              s.close(() => resolve());
            } catch {
              resolve(); // never bound
            }
          }),
      ),
    );
  }
}

export async function pickFreeUdpPort(listenAddress = '127.0.0.1'): Promise<number> {
  const [port] = await pickFreeUdpPorts(listenAddress, 1);
  return port as number;
}
