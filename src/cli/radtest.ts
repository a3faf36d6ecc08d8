import { RadiusClient, PacketCode, packetCodeName, RadiusTimeoutError } from '../radius';
import type { Parsed } from './args';
import { UsageError } from './args';

/**
 * `lango radtest`: like FreeRADIUS's radtest, but able to send from any local address
 * (--from), so one machine can play several NAS, e.g. a second tenant's router on 127.0.0.2.
 */
export async function radtestCommand(args: Parsed): Promise<number> {
  const [, user, password] = args.positional;
  if (!user || password === undefined)
    throw new UsageError(
      'usage: lango radtest USER PASSWORD --secret S [--server 127.0.0.1:1812] [--from ADDR] [--method pap|chap|mschapv2] [--nas-identifier ID]',
    );
  const secret = args.options.secret;
  if (typeof secret !== 'string') throw new UsageError('--secret is required');
  const server = typeof args.options.server === 'string' ? args.options.server : '127.0.0.1:1812';
  const m = /^(.+):(\d+)$/.exec(server);
  if (!m) throw new UsageError('--server must be HOST:PORT');
  const client = new RadiusClient({
    host: m[1]!.replace(/^\[(.*)\]$/, '$1'),
    port: Number(m[2]),
    secret,
    bindAddress: typeof args.options.from === 'string' ? args.options.from : undefined,
    timeoutMs: 2000,
    // A NAS new to FreeRADIUS is admitted at most one per second: retransmit like a NAS would.
    retries: 3,
  });
  const extra =
    typeof args.options['nas-identifier'] === 'string'
      ? [{ name: 'NAS-Identifier', value: args.options['nas-identifier'] }]
      : [];
  const method = typeof args.options.method === 'string' ? args.options.method : 'pap';
  try {
    const res =
      method === 'chap'
        ? await client.accessRequestChap(user, password, extra)
        : method === 'mschapv2'
          ? await client.accessRequestMschapv2(user, password, extra)
          : method === 'pap'
            ? await client.accessRequestPap(user, password, extra)
            : (() => {
                throw new UsageError('--method is pap, chap or mschapv2');
              })();
    process.stdout.write(`${packetCodeName(res.packet.code)} in ${res.rttMs.toFixed(1)} ms\n`);
    for (const a of res.packet.attributes) {
      if ('name' in a)
        process.stdout.write(
          `\t${a.name} = ${Buffer.isBuffer(a.value) ? '0x' + a.value.toString('hex') : String(a.value)}\n`,
        );
    }
    return res.packet.code === PacketCode.AccessAccept ? 0 : 1;
  } catch (err) {
    if (err instanceof RadiusTimeoutError) {
      process.stdout.write('No reply (unknown NAS address, wrong secret, or FreeRADIUS not running)\n');
      return 2;
    }
    throw err;
  } finally {
    await client.close();
  }
}
