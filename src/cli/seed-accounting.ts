/**
 * `lango seed-accounting --rows N --tenants T [--days 90] [--users 1000] [--payments P]`: fills a
 * database with accounting for benchmarks and capacity tests. It makes (or reuses) tenants
 * seed-1..T, each with a NAS and `users` subscribers, then inserts N radacct rows in batches of
 * 10 000 spread over the last `days` days (a session is still open when its length reaches past
 * now: about 0.2% of rows over 90 days, some 20 000 open sessions at 10 M rows), through the same table
 * FreeRADIUS writes, so the rollup triggers run as they would in production. With --payments, P
 * payments too (over the same days and tenants, three plans each: STK 60%, C2B 30%, manual 10%;
 * 80% completed with their ledger credit, the rest failed, cancelled or expired), for the revenue
 * reports. Progress goes to stderr.
 */
import type { Knex } from 'knex';
import { intOpt, UsageError, type Parsed } from './args';

const BATCH = 10000;

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
  const payments = intOpt(args, 'payments', 0, 0, 100_000_000);
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
              s.start, least(s.start + s.len, now()), CASE WHEN s.start + s.len <= now() THEN s.start + s.len END,
              extract(epoch FROM least(s.len, now() - s.start))::bigint, (random() * 2e8)::bigint, (random() * 2e9)::bigint,
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
  if (payments > 0) await seedPayments(db, ids, payments, days, out);
  return { rows, tenants: ids.map((x) => x.id), seconds: (Date.now() - started) / 1000 };
}

const PLANS: ReadonlyArray<readonly [string, number, number]> = [
  ['Seed day', 5000, 86400],
  ['Seed week', 30000, 7 * 86400],
  ['Seed month', 100000, 30 * 86400],
];

/** Payments and their ledger credits, as the payments module leaves them, in batches. */
async function seedPayments(
  db: Knex,
  tenants: Array<{ id: string }>,
  total: number,
  days: number,
  out: NodeJS.WritableStream,
): Promise<void> {
  const plans = new Map<string, string[]>();
  for (const t of tenants) {
    for (const [name, price, secs] of PLANS)
      await db.raw(
        `INSERT INTO plans (tenant_id, name, groupname, price, duration_seconds) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
        [t.id, name, name.toLowerCase().replace(' ', '-'), price, secs],
      );
    const rows = await db.raw(`SELECT id FROM plans WHERE tenant_id = ? AND name LIKE 'Seed %' ORDER BY price`, [t.id]);
    plans.set(
      t.id,
      rows.rows.map((r: { id: string }) => r.id),
    );
  }
  const started = Date.now();
  let done = 0;
  // Batches go round the tenants; no batch is larger than a tenant's share.
  const size = Math.min(BATCH, Math.ceil(total / tenants.length));
  for (let round = 0; done < total; round++) {
    const n = Math.min(size, total - done);
    const t = tenants[round % tenants.length]!;
    const [day, week, month] = plans.get(t.id)!;
    await db.raw(
      `WITH p AS (
         INSERT INTO payments (tenant_id, channel, amount, plan_id, state, allocation, created_at, updated_at, settled_at, settled_by)
         SELECT ?, x.channel, x.amount, x.plan_id, x.state, CASE WHEN x.state = 'completed' THEN 'allocated' END, x.at, x.at,
                x.at + interval '20 seconds', CASE WHEN x.state = 'completed' THEN 'callback' ELSE 'expiry' END
         FROM (
           SELECT CASE WHEN r1 < 0.6 THEN 'stk' WHEN r1 < 0.9 THEN 'c2b' ELSE 'manual' END AS channel,
                  CASE WHEN r2 < 0.6 THEN 5000 WHEN r2 < 0.9 THEN 30000 ELSE 100000 END AS amount,
                  CASE WHEN r2 < 0.6 THEN ?::uuid WHEN r2 < 0.9 THEN ?::uuid ELSE ?::uuid END AS plan_id,
                  CASE WHEN r3 < 0.8 THEN 'completed' WHEN r3 < 0.88 THEN 'failed' WHEN r3 < 0.95 THEN 'cancelled' ELSE 'expired' END AS state,
                  now() - make_interval(secs => r4 * ? * 86400) AS at
           FROM (SELECT g, random() AS r1, random() AS r2, random() AS r3, random() AS r4 FROM generate_series(1, ?) g) r
         ) x
         RETURNING id, tenant_id, amount, state, created_at
       )
       INSERT INTO ledger_entries (tenant_id, payment_id, kind, amount, actor_type, created_at)
       SELECT tenant_id, id, 'credit', amount, 'system', created_at FROM p WHERE state = 'completed'`,
      [t.id, day!, week!, month!, days, n],
    );
    done += n;
    out.write(bar(done, total, started).replace(' rows', ' payments'));
  }
  out.write('\n');
}
