/**
 * The demo data `lango up` seeds (idempotent): what a newcomer logs in with and what the printed
 * radtest line uses.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Knex } from 'knex';
import type { Services } from './modules/services';
import { SYSTEM } from './modules/audit/actor';
import { SANDBOX_PASSKEY } from './mpesa/daraja-client';
import { SIMULATOR_APP } from './simulate/daraja-simulator';

export const DEMO = {
  tenantSlug: 'demo',
  nasAddress: '127.0.0.1',
  nasSecret: 'lango-demo-secret',
  username: 'demo',
  password: 'demo-password',
  /** The demo subscriber's phone (what the Daraja simulator's STK Push prompts). */
  phone: '254708374149',
  /** Daraja's sandbox paybill, which the simulator knows (with its public passkey). */
  paybill: '174379',
};

export interface Credentials {
  adminEmail: string;
  adminPassword: string;
  tenantAdminEmail: string;
  tenantAdminPassword: string;
}

const OWNER_EMAIL = 'owner@demo.lango.local';
const newPassword = () => randomBytes(9).toString('base64url');

/**
 * Idempotent demo data: a platform admin, tenant "demo" with its owner, two plans, a NAS, a
 * subscriber with a phone, a sandbox paybill, ten vouchers. The two staff passwords are random, distinct, and kept in
 * <stateDir>/demo-credentials.json (0600). A state directory from before the owner had a
 * password of its own (the file has no tenantAdminPassword) gets one generated, and the
 * owner's password is reset to it: until then it was the platform admin's.
 */
export async function seedDemo(db: Knex, services: Services, stateDir: string): Promise<Credentials> {
  const credFile = path.join(stateDir, 'demo-credentials.json');
  const stored: Partial<Credentials> = existsSync(credFile) ? JSON.parse(readFileSync(credFile, 'utf8')) : {};
  const cred: Credentials = {
    adminEmail: stored.adminEmail ?? 'admin@lango.local',
    adminPassword: stored.adminPassword ?? newPassword(),
    tenantAdminEmail: stored.tenantAdminEmail ?? OWNER_EMAIL,
    tenantAdminPassword: stored.tenantAdminPassword ?? newPassword(),
  };
  const resetOwner = stored.adminPassword !== undefined && stored.tenantAdminPassword === undefined;
  if ((Object.keys(cred) as Array<keyof Credentials>).some((k) => stored[k] === undefined)) {
    writeFileSync(credFile, JSON.stringify(cred), { mode: 0o600 });
    chmodSync(credFile, 0o600);
  }
  if (!(await db('users').whereNull('tenant_id').whereRaw('lower(email) = lower(?)', [cred.adminEmail]).first())) {
    await services.users.createPlatformAdmin(cred.adminEmail, cred.adminPassword, 'Platform admin');
  }
  let tenant = await db('tenants').where({ slug: DEMO.tenantSlug }).first();
  if (!tenant) {
    const created = await services.tenants.create(SYSTEM, {
      name: 'Demo Hotspot',
      slug: DEMO.tenantSlug,
      timeZone: 'Africa/Nairobi',
      currency: 'KES',
      admin: { email: cred.tenantAdminEmail, password: cred.tenantAdminPassword, name: 'Demo owner' },
    });
    tenant = { id: created.tenant.id };
  } else if (resetOwner) {
    const owner = await db('users')
      .where({ tenant_id: tenant.id })
      .whereRaw('lower(email) = lower(?)', [cred.tenantAdminEmail])
      .first('id');
    if (owner) await services.users.update(SYSTEM, tenant.id, owner.id, { password: cred.tenantAdminPassword });
  }
  const tid: string = tenant.id;
  let plan = await db('plans').where({ tenant_id: tid, name: 'Daily 1 GB' }).first();
  if (!plan) {
    plan = await services.plans.create(SYSTEM, tid, {
      name: 'Daily 1 GB',
      price: 50,
      durationSeconds: 86400,
      dataQuotaBytes: 1024 ** 3,
      rateLimit: '2M/5M',
      simultaneousUse: 1,
      interimIntervalSeconds: 300,
    });
  }
  if (!(await db('nas').where({ nasname: DEMO.nasAddress }).first())) {
    await services.nas.create(SYSTEM, tid, {
      name: 'local',
      address: DEMO.nasAddress,
      secret: DEMO.nasSecret,
      kind: 'other',
    });
  }
  // M-Pesa: the sandbox paybill with the simulator's app keys (outside production, `lango up`
  // points sandbox accounts at the simulator), and a plan priced in whole shillings.
  if (!(await db('mpesa_accounts').where({ tenant_id: tid, shortcode: DEMO.paybill }).first())) {
    await services.mpesaAccounts.create(SYSTEM, tid, {
      name: 'Demo paybill',
      kind: 'paybill',
      shortcode: DEMO.paybill,
      environment: 'sandbox',
      consumerKey: SIMULATOR_APP.consumerKey,
      consumerSecret: SIMULATOR_APP.consumerSecret,
      passkey: SANDBOX_PASSKEY,
    });
  }
  if (!(await db('plans').where({ tenant_id: tid, name: 'Hour 500 MB' }).first())) {
    await services.plans.create(SYSTEM, tid, {
      name: 'Hour 500 MB',
      price: 1000,
      durationSeconds: 3600,
      dataQuotaBytes: 500 * 1024 ** 2,
      rateLimit: '5M/5M',
      reminderLeadSeconds: 600,
    });
  }
  const sub = await db('subscribers').where({ tenant_id: tid, username: DEMO.username }).first();
  if (!sub) {
    await services.subscribers.create(SYSTEM, tid, {
      username: DEMO.username,
      password: DEMO.password,
      planId: plan.id,
      fullName: 'Demo customer',
      phone: DEMO.phone,
    });
  } else {
    // Keep the printed radtest line working on every `lango up`: top up a lapsed demo period.
    const active = await db('subscriptions')
      .where({ subscriber_id: sub.id, status: 'active' })
      .andWhere('ends_at', '>', new Date(Date.now() + 3600_000))
      .first();
    if (!active) await services.subscribers.renew(SYSTEM, tid, sub.id);
  }
  // Ten vouchers of the plan to try the voucher path with (GET /api/v1/vouchers, or print them).
  if (!(await db('voucher_batches').where({ tenant_id: tid }).first())) {
    await services.vouchers.createBatch(SYSTEM, tid, {
      planId: plan.id,
      quantity: 10,
      alphabet: 'alphanumeric',
      deviceLimit: 1,
      note: 'Demo shop',
    });
  }
  return cred;
}
