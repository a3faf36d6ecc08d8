import type { Knex } from 'knex';
import { sqlObject } from '../../src/db/sql-objects';

/**
 * The per-packet SQL, made cheap (measured with pgbench and bench/run.ts; see bench/README.md).
 *
 * 1. Every statement FreeRADIUS sends is now a call of a PL/pgSQL function. rlm_sql sends each
 *    query as new literal text, so PostgreSQL parses and plans it per packet; an INSERT ...
 *    SELECT ... FROM lango_nas_find(...) ON CONFLICT ... or an inlined SQL function cost more to
 *    plan than to run. Statements inside PL/pgSQL are planned once per connection.
 * 2. Simultaneous-Use is decided inside lango_authorize() (one indexed count) instead of by
 *    rlm_sql's session section (a third round trip); the reject is applied after the password
 *    check like every other Lango decision.
 * 3. The accounting and post-auth writes commit with synchronous_commit = off (SET LOCAL, for
 *    these statements only). Every accounting packet is an idempotent upsert of cumulative
 *    counters, so a crash loses at most the last ~0.6 s of updates, which the NAS's next interim
 *    or Stop repeats (a lost Stop is closed by the stale-session job); radpostauth is a log.
 *    The NAS has its answer either way: waiting for the WAL flush only slowed every packet.
 * 4. radacct and radpostauth lose their foreign keys. Each insert checked them with FOR KEY
 *    SHARE on the same tenants/nas rows, which under concurrent FreeRADIUS connections turned
 *    into MultiXact churn on those rows. tenant_id/nas_id stay as plain references (tenants
 *    are never deleted through the API; a deleted NAS leaves its history pointing at nothing).
 * 5. Stock indexes that nothing in Lango reads are dropped from radacct: radacct_active_session_idx
 *    (upserts use the unique index) and radacct_bulk_close (Accounting-On/Off closes by nas_id).
 * 6. lango_text() no longer catches invalid UTF-8 itself: each exception block is a
 *    subtransaction (~6 us, measured), and a packet made four to eight calls. lango_acct() and
 *    lango_postauth() decode all their text in one read-only block per packet (a block that
 *    also wrapped the INSERT would give every packet a subtransaction id) and fall back to the
 *    visible "invalid" form of lango_text_checked(), so an odd byte never stalls accounting.
 *    In authorize the error makes rlm_sql fail and the request is rejected: no stored name
 *    can contain such bytes.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(String.raw`
    ALTER FUNCTION lango_text(text) RENAME TO lango_text_checked;

    ALTER TABLE radacct DROP CONSTRAINT radacct_tenant_id_fkey, DROP CONSTRAINT radacct_nas_id_fkey;
    ALTER TABLE radpostauth DROP CONSTRAINT radpostauth_tenant_id_fkey, DROP CONSTRAINT radpostauth_nas_id_fkey;
    DROP INDEX radacct_active_session_idx;
    DROP INDEX radacct_bulk_close;
  `);
  await knex.raw(sqlObject('functions/lango_text', 2));
  // authorize_check_query: lango_authorize_check() plus Simultaneous-Use, decided here.
  await knex.raw(sqlObject('functions/lango_authorize', 1));
  await knex.raw(sqlObject('functions/lango_authorize_reply', 2));
  for (const f of ['lango_postauth', 'lango_postauth_do', 'lango_acct', 'lango_acct_do'])
    await knex.raw(sqlObject(`functions/${f}`, 1));
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(String.raw`
    DROP FUNCTION lango_acct(text, text, text, text, text, text, text, text, text, text, integer, bigint, bigint, bigint, bigint, bigint, text, text, text, text, text, text, text, text, text, text, text, text, text);
    DROP FUNCTION lango_acct_do(text, text, text, text, text, text, text, text, text, text, integer, bigint, bigint, bigint, bigint, bigint, text, text, text, text, text, text, text, text, text, text, text, text, text);
    DROP FUNCTION lango_postauth(text, text, text, text, text, text, text, text);
    DROP FUNCTION lango_postauth_do(text, text, text, text, text, text, text, text);
    DROP FUNCTION lango_authorize(text, text, text, text);
    DROP FUNCTION lango_text(text);
    ALTER FUNCTION lango_text_checked(text) RENAME TO lango_text;
  `);
  await knex.raw(sqlObject('functions/lango_authorize_reply', 1));
  await knex.raw(String.raw`
    CREATE INDEX radacct_bulk_close ON radacct (NASIPAddress, AcctStartTime) WHERE AcctStopTime IS NULL;
    CREATE INDEX radacct_active_session_idx ON radacct (AcctUniqueId) WHERE AcctStopTime IS NULL;
    ALTER TABLE radpostauth ADD CONSTRAINT radpostauth_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants(id) ON DELETE CASCADE,
      ADD CONSTRAINT radpostauth_nas_id_fkey FOREIGN KEY (nas_id) REFERENCES nas(id) ON DELETE SET NULL;
    ALTER TABLE radacct ADD CONSTRAINT radacct_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants(id) ON DELETE CASCADE,
      ADD CONSTRAINT radacct_nas_id_fkey FOREIGN KEY (nas_id) REFERENCES nas(id) ON DELETE SET NULL;
  `);
}
