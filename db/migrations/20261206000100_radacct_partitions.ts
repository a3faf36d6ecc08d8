import type { Knex } from 'knex';
import { sqlObject } from '../../src/db/sql-objects';

/**
 * radacct becomes RANGE-partitioned by acctstarttime, one partition per UTC month
 * (docs/decisions.md 78, docs/reports.md "Partitions of radacct"). The same steps serve a fresh
 * install and a filled table, in one transaction:
 *  - the existing table is renamed radacct_legacy and attached as the partition of everything
 *    before a bound B (the start of the current month, or of the month after the newest
 *    acctstarttime if rows of this month exist). A CHECK constraint validated first (one scan)
 *    lets ATTACH skip its own scan; its unique indexes stay, its other indexes become the
 *    partitions of the parent's (same definitions, so nothing is rebuilt);
 *  - rows with a NULL acctstarttime (a range partition cannot hold them) go to radacct_default,
 *    the DEFAULT partition, which also takes any row no month partition covers yet, so no
 *    insert fails;
 *  - radacct_keys (acctuniqueid PRIMARY KEY) keeps acctuniqueid unique across partitions, filled
 *    here from the existing rows and then by triggers (lango_radacct_key);
 *  - monthly partitions from B to 3 months ahead (lango_radacct_partition; the worker keeps
 *    making them daily);
 *  - lango_acct_do v5 (no ON CONFLICT: lock, look the key up, UPDATE or INSERT) and
 *    lango_usage_rollup v2 (a row moved between partitions is not a new session);
 *  - the views over radacct are re-pointed at the partitioned parent (a rename keeps a view on
 *    the renamed table).
 */
const AHEAD = 3;

/** Views that read radacct, recreated on the new parent from their current definitions. */
async function repointViews(knex: Knex, from: string, to: string): Promise<void> {
  const views = (
    await knex.raw(
      `SELECT DISTINCT v.oid::regclass::text AS name, pg_get_viewdef(v.oid) AS def,
              array_to_string(v.reloptions, ', ') AS options
       FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid JOIN pg_class v ON v.oid = r.ev_class
       WHERE d.refobjid = ?::regclass AND v.oid <> d.refobjid`,
      [from],
    )
  ).rows as Array<{ name: string; def: string; options: string | null }>;
  for (const v of views) {
    const def = v.def.replace(new RegExp(`\\b(public\\.)?${from}\\b`, 'g'), `public.${to}`);
    // Options such as security_barrier are kept (the report views have it).
    await knex.raw(`CREATE OR REPLACE VIEW ${v.name} ${v.options ? `WITH (${v.options}) ` : ''}AS ${def}`);
  }
}

export async function up(knex: Knex): Promise<void> {
  const bound = (
    await knex.raw(`
      SELECT CASE WHEN x.newest >= m THEN date_trunc('month', x.newest AT TIME ZONE 'UTC') + interval '1 month'
                  ELSE date_trunc('month', now() AT TIME ZONE 'UTC') END AT TIME ZONE 'UTC' AS b
      FROM (SELECT date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS m) c,
           LATERAL (SELECT max(acctstarttime) AS newest FROM radacct) x`)
  ).rows[0].b as Date;
  const b = bound.toISOString();
  const indexes = (
    await knex.raw(
      `SELECT c.relname AS name, pg_get_indexdef(i.indexrelid) AS def FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
       WHERE i.indrelid = 'radacct'::regclass AND NOT i.indisunique ORDER BY 1`,
    )
  ).rows as Array<{ name: string; def: string }>;

  await knex.raw(`LOCK TABLE radacct IN ACCESS EXCLUSIVE MODE`);
  await knex.raw(`ALTER TABLE radacct RENAME TO radacct_legacy`);
  await knex.raw(`DROP TRIGGER radacct_usage_rollup ON radacct_legacy`);
  for (const ix of indexes)
    await knex.raw(`ALTER INDEX ${ix.name} RENAME TO ${ix.name.replace(/^radacct_/, 'radacct_legacy_')}`);
  await knex.raw(`
    ALTER INDEX radacct_pkey RENAME TO radacct_legacy_pkey;
    ALTER INDEX radacct_acctuniqueid_key RENAME TO radacct_legacy_acctuniqueid_key;

    CREATE TABLE radacct (LIKE radacct_legacy INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMMENTS)
      PARTITION BY RANGE (acctstarttime);
    -- An install migrated before has given its tables to the owner role (src/db/roles.ts), and a
    -- sequence can only belong to a table of its own owner: the new table takes the old one's.
    DO $$ BEGIN
      EXECUTE format('ALTER TABLE radacct OWNER TO %I', (SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = 'radacct_legacy'::regclass));
    END $$;
    ALTER SEQUENCE radacct_radacctid_seq OWNED BY radacct.radacctid;

    CREATE TABLE radacct_keys (
      acctuniqueid text PRIMARY KEY,
      radacctid bigint NOT NULL UNIQUE,
      acctstarttime timestamptz,
      -- Set only while an UPDATE moves the row to another partition (lango_radacct_key).
      moved_xact xid8,
      moved_input bigint,
      moved_output bigint,
      moved_seconds bigint,
      moved_updated timestamptz
    );
    INSERT INTO radacct_keys (acctuniqueid, radacctid, acctstarttime)
      SELECT acctuniqueid, radacctid, acctstarttime FROM radacct_legacy;

    CREATE TABLE radacct_default (LIKE radacct_legacy INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE);
    WITH m AS (DELETE FROM radacct_legacy WHERE acctstarttime IS NULL RETURNING *)
      INSERT INTO radacct_default SELECT * FROM m;
    ALTER TABLE radacct_default ADD CONSTRAINT radacct_default_radacctid_key UNIQUE (radacctid),
      ADD CONSTRAINT radacct_default_acctuniqueid_key UNIQUE (acctuniqueid);
  `);
  // Validated here (the one scan of the old table), so ATTACH proves the bound from it.
  await knex.raw(
    `ALTER TABLE radacct_legacy ADD CONSTRAINT radacct_legacy_bound CHECK (acctstarttime IS NOT NULL AND acctstarttime < '${b}')`,
  );
  await knex.raw(`ALTER TABLE radacct ATTACH PARTITION radacct_legacy FOR VALUES FROM (MINVALUE) TO ('${b}')`);
  await knex.raw(`ALTER TABLE radacct ATTACH PARTITION radacct_default DEFAULT`);
  // Same definitions as the old table's, so the legacy indexes are attached, not rebuilt.
  for (const ix of indexes) await knex.raw(ix.def);

  await knex.raw(sqlObject('functions/lango_radacct_key', 1));
  await knex.raw(sqlObject('functions/lango_usage_rollup', 2));
  await knex.raw(sqlObject('functions/lango_acct_do', 5));
  await knex.raw(sqlObject('functions/lango_radacct_partition', 1));
  await knex.raw(`
    CREATE TRIGGER radacct_keys_insert BEFORE INSERT ON radacct FOR EACH ROW EXECUTE FUNCTION lango_radacct_key();
    CREATE TRIGGER radacct_keys_delete AFTER DELETE ON radacct FOR EACH ROW EXECUTE FUNCTION lango_radacct_key();
    CREATE TRIGGER radacct_keys_update AFTER UPDATE OF acctuniqueid, acctstarttime ON radacct FOR EACH ROW
      WHEN (OLD.acctuniqueid IS DISTINCT FROM NEW.acctuniqueid OR OLD.acctstarttime IS DISTINCT FROM NEW.acctstarttime)
      EXECUTE FUNCTION lango_radacct_key();
    CREATE TRIGGER radacct_usage_rollup
      AFTER INSERT OR UPDATE OF acctinputoctets, acctoutputoctets, acctsessiontime, acctupdatetime ON radacct
      FOR EACH ROW EXECUTE FUNCTION lango_usage_rollup();
  `);
  await knex.raw(`SELECT lango_radacct_partition(?)`, [AHEAD]);
  await repointViews(knex, 'radacct_legacy', 'radacct');
}

/** Back to one table: the other partitions' rows are copied into radacct_legacy, which is renamed back. */
export async function down(knex: Knex): Promise<void> {
  const indexes = (
    await knex.raw(
      `SELECT c.relname AS name FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
       WHERE i.indrelid = 'radacct_legacy'::regclass AND c.relname LIKE 'radacct\\_legacy\\_%'`,
    )
  ).rows as Array<{ name: string }>;
  await knex.raw(`
    LOCK TABLE radacct IN ACCESS EXCLUSIVE MODE;
    DROP TRIGGER radacct_usage_rollup ON radacct;
    DROP TRIGGER radacct_keys_insert ON radacct;
    DROP TRIGGER radacct_keys_delete ON radacct;
    DROP TRIGGER radacct_keys_update ON radacct;
    ALTER TABLE radacct DETACH PARTITION radacct_legacy;
    ALTER TABLE radacct_legacy DROP CONSTRAINT radacct_legacy_bound;
    INSERT INTO radacct_legacy SELECT * FROM radacct;
    ALTER SEQUENCE radacct_radacctid_seq OWNED BY radacct_legacy.radacctid;
  `);
  await repointViews(knex, 'radacct', 'radacct_legacy');
  await knex.raw(`
    DROP TABLE radacct;
    DROP TABLE radacct_keys;
    DROP FUNCTION lango_radacct_partition(integer);
    DROP FUNCTION lango_radacct_key();
    ALTER TABLE radacct_legacy RENAME TO radacct;
  `);
  for (const ix of indexes)
    await knex.raw(`ALTER INDEX ${ix.name} RENAME TO ${ix.name.replace(/^radacct_legacy_/, 'radacct_')}`);
  await knex.raw(sqlObject('functions/lango_usage_rollup', 1));
  await knex.raw(sqlObject('functions/lango_acct_do', 4));
  await knex.raw(`
    CREATE TRIGGER radacct_usage_rollup
      AFTER INSERT OR UPDATE OF acctinputoctets, acctoutputoctets, acctsessiontime, acctupdatetime ON radacct
      FOR EACH ROW EXECUTE FUNCTION lango_usage_rollup();
  `);
}
