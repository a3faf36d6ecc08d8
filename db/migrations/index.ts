import type { Knex } from 'knex';
import * as m1 from './20261121000001_tenants_and_staff';
import * as m2 from './20261121000002_freeradius_schema';
import * as m3 from './20261121000003_plans_and_subscribers';
import * as m4 from './20261121000004_radius_policy_functions';
import * as m5 from './20261121000005_enforcement';
import * as m6 from './20261121000006_nas_routeros_api';
import * as m7 from './20261121000007_radius_fast_path';
import * as m8 from './20261201000001_radius_hardening';
import * as m200 from './20261201000200_staff_credentials';
import * as m201 from './20261201000201_platform_actor_and_tenant_suspension';
import * as m202 from './20261201000202_platform_actor_backfill';
import * as m300 from './20261201000300_enforcement_superseded_at';
import * as m301 from './20261201000301_enforcement_merge_duplicates';
import * as m302 from './20261201000302_enforcement_unique_live';
import * as m20261202_1 from './20261202000001_radius_auth_cost';
import * as m3200 from './20261203000200_payments';
import * as m20261203000300 from './20261203000300_vouchers';
import * as m400 from './20261203000400_reports';
import * as m401 from './20261203000401_auth_rollup_shards';
import * as m402 from './20261203000402_throttle_generic_plans';
import * as m403 from './20261203000403_period_left';
import * as m20261203000600 from './20261203000600_portal';
import * as m20261204000100 from './20261204000100_portal_trial';
import * as m20261204000300 from './20261204000300_revenue_reports';
import * as m20261204000301 from './20261204000301_process_heartbeats';
import * as m20261204000500 from './20261204000500_authorize_one_round_trip';
import * as m20261204000700 from './20261204000700_enforcement_claim_per_nas';
import * as m20261204000800 from './20261204000800_acct_update_time_monotonic';
import * as m20261205000300 from './20261205000300_session_samples';
import * as m20261206000200 from './20261206000200_ops_metrics_indexes';
import * as m20261206000201 from './20261206000201_tenant_sms_settings';
import * as m20261206000202 from './20261206000202_portal_logos';
import * as m20261206000300 from './20261206000300_plan_reply_fast_path';
import * as m20261206000400 from './20261206000400_revenue_rollups';
import * as m20261207000100 from './20261207000100_postauth_retention';
import * as m20261206000100 from './20261206000100_radacct_partitions';

interface Migration {
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

/**
 * Migrations are listed here rather than discovered on disk, so the same list works from the
 * compiled dist/ and from TypeScript under jest. Add new files at the end; never edit one that
 * has been merged.
 */
const MIGRATIONS: ReadonlyArray<readonly [string, Migration]> = [
  ['20261121000001_tenants_and_staff', m1],
  ['20261121000002_freeradius_schema', m2],
  ['20261121000003_plans_and_subscribers', m3],
  ['20261121000004_radius_policy_functions', m4],
  ['20261121000005_enforcement', m5],
  ['20261121000006_nas_routeros_api', m6],
  ['20261121000007_radius_fast_path', m7],
  ['20261201000001_radius_hardening', m8],
  ['20261201000200_staff_credentials', m200],
  ['20261201000201_platform_actor_and_tenant_suspension', m201],
  ['20261201000202_platform_actor_backfill', m202],
  ['20261201000300_enforcement_superseded_at', m300],
  ['20261201000301_enforcement_merge_duplicates', m301],
  ['20261201000302_enforcement_unique_live', m302],
  ['20261202000001_radius_auth_cost', m20261202_1],
  ['20261203000200_payments', m3200],
  ['20261203000300_vouchers', m20261203000300],
  ['20261203000400_reports', m400],
  ['20261203000401_auth_rollup_shards', m401],
  ['20261203000402_throttle_generic_plans', m402],
  ['20261203000403_period_left', m403],
  ['20261203000600_portal', m20261203000600],
  ['20261204000100_portal_trial', m20261204000100],
  ['20261204000300_revenue_reports', m20261204000300],
  ['20261204000301_process_heartbeats', m20261204000301],
  ['20261204000500_authorize_one_round_trip', m20261204000500],
  ['20261204000700_enforcement_claim_per_nas', m20261204000700],
  ['20261204000800_acct_update_time_monotonic', m20261204000800],
  ['20261205000300_session_samples', m20261205000300],
  ['20261206000100_radacct_partitions', m20261206000100],
  ['20261206000200_ops_metrics_indexes', m20261206000200],
  ['20261206000201_tenant_sms_settings', m20261206000201],
  ['20261206000202_portal_logos', m20261206000202],
  ['20261206000300_plan_reply_fast_path', m20261206000300],
  ['20261206000400_revenue_rollups', m20261206000400],
  ['20261207000100_postauth_retention', m20261207000100],
];

export const migrationSource: Knex.MigrationSource<readonly [string, Migration]> = {
  getMigrations: async () => [...MIGRATIONS],
  getMigrationName: (m) => m[0],
  getMigration: async (m) => m[1],
};
