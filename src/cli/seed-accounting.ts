/**
 * `lango seed-accounting --rows N --tenants T [--days 90] [--users 1000]`: fills a database with
 * accounting for benchmarks and capacity tests. It makes (or reuses) tenants seed-1..T, each with
 * a NAS and `users` subscribers, then inserts N radacct rows in batches of 10 000 spread over
 * the last `days` days (about 1% still open), through the same table FreeRADIUS writes, so the
 * rollup triggers run as they would in production. Progress goes to stderr.
 */
import type { Knex } from 'knex';
import { UsageError, type Parsed } from './args';

const BATCH = 10000;

function intOpt(args: Parsed, name: string, def: number | undefined, min: number, max: number): number {
  const raw = args.options[name];
  if (raw === undefined && def !== undefined) return def;
  const n = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max)
    throw new UsageError(`--${name}: an integer from ${min} to ${max}`);
  return n;
}

function bar(done: number, total: number, startedMs: number): string {
  const width = 30;
  const filled = Math.round((done / total) * width);
  const secs = Math.max((Date.now() - startedMs) / 1000, 0.001);
  const rate = Math.round(done / secs);
  const eta = rate > 0 ? Math.round((total - done) / rate) : 0;
  return `\r[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${((done / total) * 100).toFixed(1).padStart(5)}% ${done}/${total} rows, ${rate} rows/s, eta ${eta}s `;
}

export async function seedAccounting(
  db: Knex,
  args: Parsed,
  out: NodeJS.WritableStream = process.stderr,
): Promise<{ rows: number; tenants: string[]; seconds: number }> {
  const rows = intOpt(args, 'rows', undefined, 1, 1_000_000_000);
  const tenants = intOpt(args, 'tenants', 3, 1, 1000);
  const days = intOpt(args, 'days', 90, 1, 3650);
  const users = intOpt(args, 'users', 1000, 1, 1_000_000);
  const ids: Array<{ id: string; nas: string }> = [];
  for (let i = 1; i <= tenants; i++) {
    const slug = `seed-${i}`;
    const t = (
      await db.raw(
        `INSERT INTO tenants (name, slug, time_zone) VALUES (?, ?, ?) ON CONFLICT (slug) DO UPDATE SET name = EXCLUDED.name RETURNING id`,
        [`Seed ${i}`, slug, ['Africa/Nairobi', 'Africa/Lagos', 'America/Los_Angeles'][(i - 1) % 3]!],
      )
    ).rows[0].id as string;
    let nas = (await db.raw(`SELECT id FROM nas WHERE tenant_id = ? AND identifier = ?`, [t, slug])).rows[0]?.id as
      string | undefined;
    nas ??= (
      await db.raw(
        `INSERT INTO nas (tenant_id, nasname, identifier, shortname, secret, approved_at) VALUES (?, ?, ?, ?, ?, now()) RETURNING id`,
        [t, `10.${i % 256}.0.1`, slug, `${slug}-nas`, `seed-secret-${i}`],
      )
    ).rows[0].id as string;
    await db.raw(
      `INSERT INTO subscribers (tenant_id, username) SELECT ?, 'user' || g FROM generate_series(1, ?) g ON CONFLICT (tenant_id, username) DO NOTHING`,
      [t, users],
    );
    ids.push({ id: t, nas });
  }
  const started = Date.now();
  let done = 0;
  while (done < rows) {
    const n = Math.min(BATCH, rows - done);
    const t = ids[Math.floor(done / BATCH) % ids.length]!;
    await db.raw(
      `INSERT INTO radacct (tenant_id, nas_id, acctsessionid, acctuniqueid, username, nasipaddress, acctstarttime, acctupdatetime,
                            acctstoptime, acctsessiontime, acctinputoctets, acctoutputoctets, framedipaddress, acctterminatecause)
       SELECT ?, ?, to_hex(g), md5(random()::text || g || clock_timestamp()::text), 'user' || (1 + (random() * (? - 1))::int), '10.0.0.1',
              s.start, s.start + s.len, CASE WHEN random() < 0.01 THEN NULL ELSE s.start + s.len END,
              extract(epoch FROM s.len)::bigint, (random() * 2e8)::bigint, (random() * 2e9)::bigint,
              ('10.5.' || (g % 250) || '.' || (1 + g % 250))::inet, 'User-Request'
       FROM generate_series(1, ?) g,
            -- g in the subquery makes it correlated: otherwise it is evaluated once for the whole batch.
            LATERAL (SELECT now() - make_interval(secs => random() * ? * 86400 + g * 0) AS start, make_interval(secs => 60 + random() * 14400 + g * 0) AS len) s`,
      [t.id, t.nas, users, n, days],
    );
    done += n;
    out.write(bar(done, rows, started));
  }
  out.write('\n');
  return { rows, tenants: ids.map((x) => x.id), seconds: (Date.now() - started) / 1000 };
}
