import type { Knex } from 'knex';
import { sqlObject } from '../../src/db/sql-objects';

/**
 * Payments (src/modules/payments/CONTEXT.md):
 *   mpesa_accounts      a tenant's collection accounts (paybill or till), credentials sealed by
 *                       src/lib/secret-box.ts, and the unguessable token of its callback URLs
 *   mpesa_tokens        the shared OAuth token per account (sealed)
 *   mpesa_callbacks     every callback exactly as received (bytes, headers, source), stored before
 *                       it is parsed, with what was made of it
 *   payments            one row per STK request or C2B payment: keyed by CheckoutRequestID and by
 *                       M-Pesa receipt (both unique); only 'pending' moves
 *   ledger_entries      money in (credit) and out (refund), once per payment and kind
 *   sms_outbox          messages sent after commit by the worker
 * Subscribers get an account number (the C2B account reference) and the SHA-256 of their phone
 * (what C2B notifications carry since July 2024); tenants a language; plans a reminder lead time.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(sqlObject('functions/lango_msisdn', 1));
  await knex.raw(`
    ALTER TABLE tenants ADD COLUMN language text NOT NULL DEFAULT 'en' CHECK (language IN ('en', 'sw'));
    ALTER TABLE plans ADD COLUMN reminder_lead_seconds integer CHECK (reminder_lead_seconds IS NULL OR reminder_lead_seconds > 0);

    CREATE SEQUENCE subscriber_account_seq START 100001;
    ALTER TABLE subscribers
      ADD COLUMN account_number text NOT NULL DEFAULT ('A' || nextval('subscriber_account_seq')),
      ADD COLUMN phone_hash text GENERATED ALWAYS AS (encode(sha256(lango_msisdn(phone)::bytea), 'hex')) STORED;
    CREATE UNIQUE INDEX subscribers_tenant_account_number_unique ON subscribers (tenant_id, upper(account_number));
    CREATE INDEX subscribers_tenant_phone_hash_idx ON subscribers (tenant_id, phone_hash) WHERE phone_hash IS NOT NULL;

    CREATE TABLE mpesa_accounts (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
      name text NOT NULL,
      kind text NOT NULL CHECK (kind IN ('paybill', 'till')),
      shortcode text NOT NULL CHECK (shortcode ~ '^[0-9]{5,10}$'),
      store_number text CHECK (store_number IS NULL OR store_number ~ '^[0-9]{5,10}$'),
      environment text NOT NULL CHECK (environment IN ('sandbox', 'production')),
      consumer_key_sealed text NOT NULL,
      consumer_secret_sealed text NOT NULL,
      passkey_sealed text NOT NULL,
      callback_token text NOT NULL CHECK (callback_token ~ '^[0-9a-f]{64}$'),
      validate_accounts boolean NOT NULL DEFAULT false,
      active boolean NOT NULL DEFAULT true,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      CHECK (kind = 'paybill' OR store_number IS NOT NULL),
      UNIQUE (tenant_id, id)
    );
    CREATE UNIQUE INDEX mpesa_accounts_callback_token_unique ON mpesa_accounts (callback_token);
    CREATE UNIQUE INDEX mpesa_accounts_tenant_shortcode_unique ON mpesa_accounts (tenant_id, shortcode);

    -- The Daraja OAuth token of each account, shared by the api and worker processes (a new token
    -- invalidates the old one: src/mpesa/token-store.ts); the token is sealed like the credentials.
    CREATE TABLE mpesa_tokens (
      account_id uuid PRIMARY KEY REFERENCES mpesa_accounts(id) ON DELETE CASCADE,
      token_sealed text,
      expires_at_ms bigint,
      claim_holder text,
      claim_until_ms bigint
    );

    CREATE TABLE payments (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
      account_id uuid,
      channel text NOT NULL CHECK (channel IN ('stk', 'c2b', 'manual')),
      checkout_request_id text,
      merchant_request_id text,
      mpesa_receipt text,
      phone text,
      phone_hash text,
      amount bigint NOT NULL CHECK (amount > 0),
      account_ref text,
      plan_id uuid REFERENCES plans(id) ON DELETE SET NULL,
      subscriber_id uuid,
      state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'completed', 'failed', 'cancelled', 'expired')),
      result_code text,
      result_desc text,
      query_attempts integer NOT NULL DEFAULT 0,
      next_query_at timestamptz,
      claimed_until timestamptz,
      expires_at timestamptz,
      settled_at timestamptz,
      settled_by text CHECK (settled_by IN ('push', 'callback', 'query', 'expiry', 'c2b', 'staff')),
      allocation text CHECK (allocation IN ('allocated', 'unallocated', 'refunded')),
      unallocated_reason text,
      subscription_id uuid REFERENCES subscriptions(id) ON DELETE SET NULL,
      allocated_at timestamptz,
      refunded_at timestamptz,
      refund_note text,
      transaction_time timestamptz,
      payer_name text,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      FOREIGN KEY (tenant_id, account_id) REFERENCES mpesa_accounts(tenant_id, id) ON DELETE RESTRICT,
      FOREIGN KEY (tenant_id, subscriber_id) REFERENCES subscribers(tenant_id, id) ON DELETE SET NULL (subscriber_id),
      -- A success settled by STK Query has no receipt until its callback comes (if ever).
      CHECK (allocation IS NULL OR state = 'completed')
    );
    CREATE UNIQUE INDEX payments_checkout_request_id_unique ON payments (checkout_request_id);
    CREATE UNIQUE INDEX payments_mpesa_receipt_unique ON payments (mpesa_receipt);
    CREATE INDEX payments_tenant_created_idx ON payments (tenant_id, created_at DESC, id);
    CREATE INDEX payments_due_query_idx ON payments (next_query_at) WHERE state = 'pending' AND channel = 'stk';
    CREATE INDEX payments_unallocated_idx ON payments (tenant_id, created_at) WHERE allocation = 'unallocated';

    CREATE TABLE mpesa_callbacks (
      id bigserial PRIMARY KEY,
      tenant_id uuid REFERENCES tenants(id) ON DELETE CASCADE,
      account_id uuid REFERENCES mpesa_accounts(id) ON DELETE SET NULL,
      kind text NOT NULL CHECK (kind IN ('stk', 'c2b_validation', 'c2b_confirmation')),
      received_at timestamptz NOT NULL DEFAULT now(),
      source_address text,
      content_type text,
      headers jsonb NOT NULL DEFAULT '{}',
      body bytea NOT NULL,
      body_bytes integer NOT NULL,
      outcome text NOT NULL DEFAULT 'received',
      detail text,
      payment_id uuid REFERENCES payments(id) ON DELETE SET NULL,
      -- What the body names (when it could be read): a callback that arrives before its request is
      -- recorded is found again by it.
      checkout_request_id text,
      CHECK (octet_length(body) <= 65536)
    );
    CREATE INDEX mpesa_callbacks_checkout_idx ON mpesa_callbacks (checkout_request_id) WHERE checkout_request_id IS NOT NULL;
    CREATE INDEX mpesa_callbacks_tenant_received_idx ON mpesa_callbacks (tenant_id, received_at DESC, id);

    CREATE TABLE ledger_entries (
      id bigserial PRIMARY KEY,
      tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
      payment_id uuid NOT NULL REFERENCES payments(id) ON DELETE RESTRICT,
      kind text NOT NULL CHECK (kind IN ('credit', 'refund')),
      amount bigint NOT NULL,
      subscriber_id uuid,
      subscription_id uuid,
      actor_type text NOT NULL,
      actor_id text,
      note text,
      created_at timestamptz NOT NULL DEFAULT now(),
      CHECK ((kind = 'credit' AND amount > 0) OR (kind = 'refund' AND amount < 0))
    );
    CREATE UNIQUE INDEX ledger_entries_payment_kind_unique ON ledger_entries (payment_id, kind);
    CREATE INDEX ledger_entries_tenant_created_idx ON ledger_entries (tenant_id, created_at);

    CREATE TABLE sms_outbox (
      id bigserial PRIMARY KEY,
      tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
      kind text NOT NULL CHECK (kind IN ('receipt', 'credentials', 'reminder')),
      dedupe_key text NOT NULL,
      phone text NOT NULL,
      body text NOT NULL CHECK (length(body) <= 918),
      status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
      attempts integer NOT NULL DEFAULT 0,
      next_attempt_at timestamptz NOT NULL DEFAULT now(),
      claimed_until timestamptz,
      provider_message_id text,
      last_error text,
      created_at timestamptz NOT NULL DEFAULT now(),
      sent_at timestamptz
    );
    CREATE UNIQUE INDEX sms_outbox_dedupe_unique ON sms_outbox (tenant_id, dedupe_key);
    CREATE INDEX sms_outbox_due_idx ON sms_outbox (next_attempt_at) WHERE status IN ('pending', 'sending');
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP TABLE sms_outbox; DROP TABLE ledger_entries; DROP TABLE mpesa_callbacks; DROP TABLE payments; DROP TABLE mpesa_tokens; DROP TABLE mpesa_accounts;
    ALTER TABLE subscribers DROP COLUMN phone_hash, DROP COLUMN account_number;
    DROP SEQUENCE subscriber_account_seq;
    ALTER TABLE plans DROP COLUMN reminder_lead_seconds;
    ALTER TABLE tenants DROP COLUMN language;
    DROP FUNCTION lango_msisdn(text);
  `);
}
