import net from 'node:net';

export { pickFreeUdpPort, pickFreeUdpPorts } from '../../src/freeradius/ports';

/** A free TCP port on `host` (bind to port 0, read it, close). */
export function freeTcpPort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ port: 0, host, exclusive: true }, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
