import type { RouteRegistry } from '../registry';
import type { Services } from '../../modules/services';
import { ROLES } from '../../modules/tenancy/principals';
import { IdParams, Obj, PageOf, Type } from '../../lib/schema';
import { Empty } from '../../modules/subscribers/subscribers.schemas';
import {
  AssignPayment,
  CallbackQuery,
  CallbackView,
  CreateMpesaAccount,
  InitiateStk,
  MpesaAccountPatch,
  MpesaAccountView,
  PaymentQuery,
  PaymentView,
  ReconciliationQuery,
  ReconciliationView,
  RefundPayment,
  SmsSettingsPatch,
  SmsSettingsView,
  StatementImport,
  StatementReport,
} from '../../modules/payments/payments.schemas';

export function registerPaymentRoutes(r: RouteRegistry, s: Services): void {
  // The tenant's own SMS settings (the API key is write-only)
  r.add(
    {
      method: 'get',
      path: '/sms-settings',
      tag: 'payments',
      summary:
        "The tenant's SMS settings: on/off, sender ID, its own Africa's Talking account (the key is never returned)",
      auth: ROLES.admin,
      scope: 'tenant',
      response: SmsSettingsView,
    },
    async ({ tenantId }) => s.smsSettings.get(tenantId),
  );
  r.add(
    {
      method: 'patch',
      path: '/sms-settings',
      tag: 'payments',
      summary: 'Change the SMS settings (username and API key together; null both to send with the install account)',
      auth: ROLES.admin,
      scope: 'tenant',
      body: SmsSettingsPatch,
      response: SmsSettingsView,
    },
    async ({ tenantId, body, actor }) => s.smsSettings.update(actor, tenantId, body),
  );
  // Collection accounts (credentials are write-only)
  r.add(
    {
      method: 'get',
      path: '/mpesa-accounts',
      tag: 'payments',
      summary: "The tenant's M-Pesa collection accounts",
      auth: ROLES.admin,
      scope: 'tenant',
      response: Type.Array(MpesaAccountView),
    },
    async ({ tenantId }) => s.mpesaAccounts.list(tenantId),
  );
  r.add(
    {
      method: 'post',
      path: '/mpesa-accounts',
      tag: 'payments',
      summary: 'Add a paybill or till (credentials are sealed and never returned)',
      auth: ROLES.admin,
      scope: 'tenant',
      status: 201,
      body: CreateMpesaAccount,
      response: MpesaAccountView,
    },
    async ({ tenantId, body, actor }) => s.mpesaAccounts.create(actor, tenantId, body),
  );
  r.add(
    {
      method: 'get',
      path: '/mpesa-accounts/:id',
      tag: 'payments',
      summary: 'Get an M-Pesa account',
      auth: ROLES.admin,
      scope: 'tenant',
      params: IdParams,
      response: MpesaAccountView,
    },
    async ({ tenantId, params }) => s.mpesaAccounts.get(tenantId, params.id),
  );
  r.add(
    {
      method: 'patch',
      path: '/mpesa-accounts/:id',
      tag: 'payments',
      summary: 'Change an M-Pesa account (new credentials replace the old)',
      auth: ROLES.admin,
      scope: 'tenant',
      params: IdParams,
      body: MpesaAccountPatch,
      response: MpesaAccountView,
    },
    async ({ tenantId, params, body, actor }) => s.mpesaAccounts.update(actor, tenantId, params.id, body),
  );
  r.add(
    {
      method: 'post',
      path: '/mpesa-accounts/:id/rotate-token',
      tag: 'payments',
      summary: 'New callback URLs (the old ones stop working)',
      auth: ROLES.admin,
      scope: 'tenant',
      params: IdParams,
      body: Empty,
      response: MpesaAccountView,
    },
    async ({ tenantId, params, actor }) => s.mpesaAccounts.rotateToken(actor, tenantId, params.id),
  );
  r.add(
    {
      method: 'post',
      path: '/mpesa-accounts/:id/register-c2b',
      tag: 'payments',
      summary: "Register the account's C2B confirmation and validation URLs with Daraja",
      auth: ROLES.admin,
      scope: 'tenant',
      params: IdParams,
      body: Empty,
      response: Obj({
        confirmationUrl: Type.String(),
        validationUrl: Type.String(),
        responseDescription: Type.String(),
      }),
    },
    async ({ tenantId, params, actor }) => s.stk.registerC2b(actor, tenantId, params.id),
  );
  r.add(
    {
      method: 'delete',
      path: '/mpesa-accounts/:id',
      tag: 'payments',
      summary: 'Delete an account without payments (else deactivate it)',
      auth: ROLES.admin,
      scope: 'tenant',
      params: IdParams,
      status: 204,
    },
    async ({ tenantId, params, actor }) => s.mpesaAccounts.remove(actor, tenantId, params.id),
  );

  // Payments
  r.add(
    {
      method: 'post',
      path: '/payments/stk-push',
      tag: 'payments',
      summary: "Ask a subscriber's phone to pay for a plan (M-Pesa STK Push)",
      auth: ROLES.staff,
      scope: 'tenant',
      status: 201,
      body: InitiateStk,
      response: PaymentView,
    },
    async ({ tenantId, body, actor }) => s.stk.initiate(actor, tenantId, body),
  );
  r.add(
    {
      method: 'get',
      path: '/payments',
      tag: 'payments',
      summary: 'List payments (filter by state, channel, allocation, subscriber, phone, time)',
      auth: ROLES.staff,
      scope: 'tenant',
      query: PaymentQuery,
      response: PageOf(PaymentView),
    },
    async ({ tenantId, query }) => s.payments.list(tenantId, query),
  );
  r.add(
    {
      method: 'get',
      path: '/payments/reconciliation',
      tag: 'payments',
      summary: 'One day in the tenant time zone: expected, credited, unallocated',
      auth: ROLES.staff,
      scope: 'tenant',
      query: ReconciliationQuery,
      response: ReconciliationView,
    },
    async ({ tenantId, query }) => s.payments.reconciliation(tenantId, query.date),
  );
  r.add(
    {
      method: 'post',
      path: '/payments/statement',
      tag: 'payments',
      summary: 'Compare an M-Pesa statement (CSV) with the ledger: missing and excess',
      auth: ROLES.admin,
      scope: 'tenant',
      body: StatementImport,
      response: StatementReport,
    },
    async ({ tenantId, body }) => s.payments.importStatement(tenantId, body.csv),
  );
  r.add(
    {
      method: 'get',
      path: '/payments/callbacks',
      tag: 'payments',
      summary: 'Raw M-Pesa callbacks as received, with what was made of them',
      auth: ROLES.admin,
      scope: 'tenant',
      query: CallbackQuery,
      response: PageOf(CallbackView),
    },
    async ({ tenantId, query }) => s.payments.callbacks(tenantId, query),
  );
  r.add(
    {
      method: 'get',
      path: '/payments/:id',
      tag: 'payments',
      summary: 'Payment status',
      auth: ROLES.staff,
      scope: 'tenant',
      params: IdParams,
      response: PaymentView,
    },
    async ({ tenantId, params }) => s.payments.get(tenantId, params.id),
  );
  r.add(
    {
      method: 'post',
      path: '/payments/:id/assign',
      tag: 'payments',
      summary: 'Assign unallocated money to a subscriber (it buys the plan)',
      auth: ROLES.staff,
      scope: 'tenant',
      params: IdParams,
      body: AssignPayment,
      response: PaymentView,
    },
    async ({ tenantId, params, body, actor }) => s.payments.assign(actor, tenantId, params.id, body),
  );
  r.add(
    {
      method: 'post',
      path: '/payments/:id/refund',
      tag: 'payments',
      summary: 'Record a refund made in the M-Pesa portal',
      auth: ROLES.admin,
      scope: 'tenant',
      params: IdParams,
      body: RefundPayment,
      response: PaymentView,
    },
    async ({ tenantId, params, body, actor }) => s.payments.markRefunded(actor, tenantId, params.id, body.note),
  );
}
