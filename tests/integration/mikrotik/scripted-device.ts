/**
 * A scripted fake RouterOS device for socket tests: a loopback TCP server that decodes each
 * sentence the client sends and lets the test decide what bytes go back.
 */
import net from 'node:net';
import { encodeSentence, SentenceDecoder } from '../../../src/mikrotik/protocol';

export interface ScriptedConnection {
  readonly index: number;
  readonly socket: net.Socket;
  /** Sends one reply sentence (words as given; add `.tag=` yourself). */
  send(words: string[]): void;
  /** Sends raw bytes. */
  raw(bytes: Uint8Array): void;
}

/** Called for each sentence; `tag` is the request's `.tag` value if any. */
export type Script = (conn: ScriptedConnection, words: string[], tag: string | undefined) => void;

export interface ScriptedDevice {
  port: number;
  connections: number;
  close(): Promise<void>;
}

export async function startScriptedDevice(
  script: Script,
  onConnect?: (conn: ScriptedConnection) => void,
): Promise<ScriptedDevice> {
  const sockets = new Set<net.Socket>();
  const device: ScriptedDevice = { port: 0, connections: 0, close: async () => undefined };
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    const conn: ScriptedConnection = {
      index: device.connections++,
      socket,
      send: (words) => {
        if (!socket.destroyed) socket.write(encodeSentence(words));
      },
      raw: (bytes) => {
        if (!socket.destroyed) socket.write(bytes);
      },
    };
    const decoder = new SentenceDecoder();
    socket.on('data', (chunk: Buffer) => {
      for (const words of decoder.push(chunk)) {
        const tagWord = words.find((w) => w.startsWith('.tag='));
        script(conn, words, tagWord?.slice(5));
      }
    });
    onConnect?.(conn);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  device.port = typeof address === 'object' && address ? address.port : 0;
  device.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return device;
}

/** Script step: accept any `/login`. Returns true when it handled the sentence. */
export function acceptLogin(conn: ScriptedConnection, words: string[], tag: string | undefined): boolean {
  if (words[0] !== '/login') return false;
  conn.send(tag === undefined ? ['!done'] : ['!done', `.tag=${tag}`]);
  return true;
}
