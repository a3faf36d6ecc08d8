/**
 * Byte streams to a router's API: plain TCP (api, 8728) and TLS (api-ssl, 8729), both opened
 * by one opener that handles the connect event, errors and the caller's abort signal. The
 * client takes a transport, so tests and other links (a tunnel, a proxy) can bring their own.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { RouterOsConnectionError } from './errors';

/** Opens a byte stream to the router. Must settle promptly when `signal` aborts. */
export type RouterOsTransport = (target: { host: string; port: number }, signal: AbortSignal) => Promise<Duplex>;

/** TCP keepalive probes: dead peers are noticed without API traffic. */
const KEEPALIVE_PROBE_MS = 30_000;

/**
 * A transport from a socket factory: resolves on `readyEvent` with keepalive and no Nagle,
 * rejects with RouterOsConnectionError on a socket error and with the signal's reason on abort.
 */
function socketTransport(
  service: string,
  open: (host: string, port: number) => net.Socket,
  readyEvent: 'connect' | 'secureConnect',
): RouterOsTransport {
  return ({ host, port }, signal) =>
    new Promise<Duplex>((resolve, reject) => {
      if (signal.aborted) {
        reject(signal.reason);
        return;
      }
      const socket = open(host, port);
      const cleanup = (): void => {
        socket.off(readyEvent, onReady);
        socket.off('error', onError);
        signal.removeEventListener('abort', onAbort);
      };
      const onReady = (): void => {
        cleanup();
        socket.setNoDelay(true);
        socket.setKeepAlive(true, KEEPALIVE_PROBE_MS);
        resolve(socket);
      };
      const onError = (err: Error): void => {
        cleanup();
        socket.destroy();
        reject(new RouterOsConnectionError(`cannot connect to RouterOS ${service} at ${host}:${port}`, { cause: err }));
      };
      const onAbort = (): void => {
        cleanup();
        socket.on('error', () => undefined); // a late error after destroy must not go unhandled
        socket.destroy();
        reject(signal.reason);
      };
      socket.once(readyEvent, onReady);
      socket.once('error', onError);
      signal.addEventListener('abort', onAbort, { once: true });
    });
}

/** Plain TCP (the router's `api` service). */
export const tcpTransport: RouterOsTransport = socketTransport('API', (host, port) => net.connect({ host, port }), 'connect');

/**
 * api-ssl. The router's certificate is verified like any other: install one this host trusts
 * (system store or NODE_EXTRA_CA_CERTS), or pass `ca`. RouterOS without a certificate offers
 * only anonymous DH, which is refused.
 */
export function createTlsTransport(options: { ca?: string | Buffer } = {}): RouterOsTransport {
  return socketTransport(
    'api-ssl',
    (host, port) =>
      tls.connect({
        host,
        port,
        ...(net.isIP(host) === 0 ? { servername: host } : {}),
        ...(options.ca !== undefined ? { ca: options.ca } : {}),
      }),
    'secureConnect',
  );
}

/** api-ssl trusting the host's certificate store. */
export const tlsTransport: RouterOsTransport = createTlsTransport();
