/**
 * A UDP echo server on 127.0.0.1 (run by load.ts in a child process): the loopback floor that
 * any RADIUS round trip includes. Tells the parent its port over IPC, exits with the parent.
 */
import { createSocket } from 'node:dgram';

const sock = createSocket('udp4');
sock.on('message', (msg, rinfo) => sock.send(msg, rinfo.port, rinfo.address));
sock.bind(0, '127.0.0.1', () => {
  process.send?.({ port: sock.address().port });
});
process.on('disconnect', () => process.exit(0));
