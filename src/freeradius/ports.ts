import dgram from 'node:dgram';
import net from 'node:net';

/** The address to bind a probe socket to for a FreeRADIUS `ipaddr` ("*" is every IPv4 address). */
function probeAddress(listenAddress: string): { type: 'udp4' | 'udp6'; address: string } {
  if (listenAddress === '*') return { type: 'udp4', address: '0.0.0.0' };
  return { type: net.isIPv6(listenAddress) ? 'udp6' : 'udp4', address: listenAddress };
}

/**
 * Distinct free UDP ports on `listenAddress`: each is found by binding to port 0. All probe
 * sockets stay open until every port is known, so the ports differ from each other. (Another
 * process may still take a port before the caller binds it; callers retry on that.)
 */
export async function pickFreeUdpPorts(listenAddress: string, count: number): Promise<number[]> {
  const { type, address } = probeAddress(listenAddress);
  const sockets: dgram.Socket[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < count; i++) {
      const socket = dgram.createSocket({ type, reuseAddr: false });
      sockets.push(socket);
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind({ port: 0, address, exclusive: true }, () => {
          socket.off('error', reject);
          resolve();
        });
      });
      ports.push(socket.address().port);
    }
    return ports;
  } finally {
    await Promise.all(sockets.map((s) => new Promise<void>((resolve) => {
      try {
        s.close(() => resolve());
      } catch {
        resolve(); // never bound
      }
    })));
  }
}

export async function pickFreeUdpPort(listenAddress = '127.0.0.1'): Promise<number> {
  const [port] = await pickFreeUdpPorts(listenAddress, 1);
  return port as number;
}
