import type { Response } from 'express';
import type { RouteRegistry } from '../registry';
import type { Services } from '../../modules/services';
import { ROLES } from '../../modules/tenancy/principals';
import { IdParams, PageOf } from '../../lib/schema';
import type { PrintOutput } from '../../modules/vouchers/vouchers.service';
import {
  BatchQuery,
  BatchRevoked,
  BatchView,
  CreateBatch,
  CreatedBatch,
  PrintQuery,
  Revoke,
  VoucherQuery,
  VoucherUsage,
  VoucherView,
} from '../../modules/vouchers/vouchers.schemas';

/** A file answer: never cached (a sheet holds live login tokens), downloaded under its name. */
function sendFile(res: Response, out: PrintOutput): void {
  res
    .status(200)
    .type(out.contentType)
    .set('Cache-Control', 'no-store')
    .set('Content-Disposition', `attachment; filename="${out.filename}"`)
    .send(out.body);
}

export function registerVoucherRoutes(r: RouteRegistry, s: Services): void {
  r.add(
    {
      method: 'post',
      path: '/voucher-batches',
      tag: 'vouchers',
      summary: 'Create a batch of up to 10,000 voucher codes for a plan (with their FreeRADIUS rows)',
      auth: ROLES.admin,
      scope: 'tenant',
      status: 201,
      body: CreateBatch,
      response: CreatedBatch,
    },
    async ({ tenantId, body, actor }) => s.vouchers.createBatch(actor, tenantId, body),
  );
  r.add(
    {
      method: 'get',
      path: '/voucher-batches',
      tag: 'vouchers',
      summary: 'List voucher batches',
      auth: ROLES.staff,
      scope: 'tenant',
      query: BatchQuery,
      response: PageOf(BatchView),
    },
    async ({ tenantId, query }) => s.vouchers.listBatches(tenantId, query),
  );
  r.add(
    {
      method: 'get',
      path: '/voucher-batches/:id',
      tag: 'vouchers',
      summary: 'Get a voucher batch',
      auth: ROLES.staff,
      scope: 'tenant',
      params: IdParams,
      response: BatchView,
    },
    async ({ tenantId, params }) => s.vouchers.getBatch(tenantId, params.id),
  );
  r.add(
    {
      method: 'post',
      path: '/voucher-batches/:id/print',
      tag: 'vouchers',
      auth: ROLES.staff,
      scope: 'tenant',
      params: IdParams,
      query: PrintQuery,
      summary:
        'Printable sheet (HTML or PDF; A4 grid or 58 mm thermal) with a QR code per voucher; each print issues new one-time login tokens',
      produces: 'text/html',
      responseDescription: 'HTML or PDF (application/pdf) with live login tokens',
    },
    async ({ res, tenantId, params, query, actor }) =>
      sendFile(res, await s.vouchers.print(actor, tenantId, params.id, query)),
  );
  r.add(
    {
      method: 'post',
      path: '/voucher-batches/:id/revoke',
      tag: 'vouchers',
      summary: 'Revoke every voucher of a batch (lost or stolen); live sessions are disconnected',
      auth: ROLES.admin,
      scope: 'tenant',
      params: IdParams,
      body: Revoke,
      response: BatchRevoked,
    },
    async ({ tenantId, params, body, actor }) => s.vouchers.revokeBatch(actor, tenantId, params.id, body.reason),
  );
  r.add(
    {
      method: 'get',
      path: '/voucher-batches/:id/vouchers.csv',
      tag: 'vouchers',
      auth: ROLES.staff,
      scope: 'tenant',
      params: IdParams,
      summary: "The batch's vouchers as CSV (safe against spreadsheet formulas)",
      produces: 'text/csv',
      responseDescription: 'CSV',
    },
    async ({ res, tenantId, params }) => sendFile(res, await s.vouchers.csv(tenantId, params.id)),
  );
  r.add(
    {
      method: 'get',
      path: '/vouchers',
      tag: 'vouchers',
      summary: 'List vouchers (filter by batch, status, code)',
      auth: ROLES.staff,
      scope: 'tenant',
      query: VoucherQuery,
      response: PageOf(VoucherView),
    },
    async ({ tenantId, query }) => s.vouchers.list(tenantId, query),
  );
  r.add(
    {
      method: 'get',
      path: '/vouchers/:id',
      tag: 'vouchers',
      summary: 'Get a voucher',
      auth: ROLES.staff,
      scope: 'tenant',
      params: IdParams,
      response: VoucherView,
    },
    async ({ tenantId, params }) => s.vouchers.get(tenantId, params.id),
  );
  r.add(
    {
      method: 'get',
      path: '/vouchers/:id/usage',
      tag: 'vouchers',
      summary: "A voucher's devices, sessions and traffic",
      auth: ROLES.staff,
      scope: 'tenant',
      params: IdParams,
      response: VoucherUsage,
    },
    async ({ tenantId, params }) => s.vouchers.usage(tenantId, params.id),
  );
  r.add(
    {
      method: 'post',
      path: '/vouchers/:id/revoke',
      tag: 'vouchers',
      summary: 'Revoke a voucher: RADIUS refuses it and live sessions are disconnected',
      auth: ROLES.staff,
      scope: 'tenant',
      params: IdParams,
      body: Revoke,
      response: VoucherView,
    },
    async ({ tenantId, params, body, actor }) => s.vouchers.revoke(actor, tenantId, params.id, body.reason),
  );
}
