-- The revenue rollup (revenue_rollup), kept by row triggers so the revenue reports read a few
-- rows per tenant day instead of every sale (docs/decisions.md 73). Every change adds its
-- difference: a ledger entry adds itself to the tenant day it was written on, under its payment's
-- plan and channel (the ledger is append-only: a refund is its own entry); a payment whose plan or
-- channel changes later (an unallocated C2B credit assigned by staff, a plan deleted) moves its
-- entries from the old plan to the new one; a voucher adds its batch's price on the day of its
-- activation, and a batch whose plan or price changes moves its sold vouchers. The rollup equals
-- what reports.sales gives (tests/integration/revenue-rollup.test.ts).
CREATE OR REPLACE FUNCTION lango_revenue_rollup() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
  e record;
BEGIN
  IF TG_TABLE_NAME = 'ledger_entries' THEN
    -- AFTER INSERT only: the ledger is append-only.
    PERFORM lango_revenue_add(NEW.tenant_id, NEW.created_at, p.plan_id, p.channel,
              (NEW.kind = 'credit')::int, (NEW.kind = 'refund')::int,
              CASE WHEN NEW.kind = 'credit' THEN NEW.amount ELSE 0 END,
              CASE WHEN NEW.kind = 'refund' THEN -NEW.amount ELSE 0 END)
    FROM payments p WHERE p.id = NEW.payment_id;
  ELSIF TG_TABLE_NAME = 'payments' THEN
    -- AFTER UPDATE OF plan_id, channel (when either changed): move the payment's entries.
    FOR e IN SELECT kind, amount, created_at FROM ledger_entries WHERE payment_id = NEW.id LOOP
      PERFORM lango_revenue_add(OLD.tenant_id, e.created_at, OLD.plan_id, OLD.channel,
                -(e.kind = 'credit')::int, -(e.kind = 'refund')::int,
                CASE WHEN e.kind = 'credit' THEN -e.amount ELSE 0 END,
                CASE WHEN e.kind = 'refund' THEN e.amount ELSE 0 END);
      PERFORM lango_revenue_add(NEW.tenant_id, e.created_at, NEW.plan_id, NEW.channel,
                (e.kind = 'credit')::int, (e.kind = 'refund')::int,
                CASE WHEN e.kind = 'credit' THEN e.amount ELSE 0 END,
                CASE WHEN e.kind = 'refund' THEN -e.amount ELSE 0 END);
    END LOOP;
  ELSIF TG_TABLE_NAME = 'vouchers' THEN
    -- AFTER INSERT or UPDATE OF activated_at, batch_id: a sale at activation, at the batch's price.
    IF TG_OP = 'UPDATE' AND OLD.activated_at IS NOT NULL THEN
      PERFORM lango_revenue_add(OLD.tenant_id, OLD.activated_at, b.plan_id, 'voucher', -1, 0, -b.price, 0)
      FROM voucher_batches b WHERE b.id = OLD.batch_id;
    END IF;
    IF NEW.activated_at IS NOT NULL THEN
      PERFORM lango_revenue_add(NEW.tenant_id, NEW.activated_at, b.plan_id, 'voucher', 1, 0, b.price, 0)
      FROM voucher_batches b WHERE b.id = NEW.batch_id;
    END IF;
  ELSIF TG_TABLE_NAME = 'voucher_batches' THEN
    -- AFTER UPDATE OF plan_id, price (when either changed): move the batch's sold vouchers.
    FOR e IN SELECT activated_at FROM vouchers WHERE batch_id = NEW.id AND activated_at IS NOT NULL LOOP
      PERFORM lango_revenue_add(OLD.tenant_id, e.activated_at, OLD.plan_id, 'voucher', -1, 0, -OLD.price, 0);
      PERFORM lango_revenue_add(NEW.tenant_id, e.activated_at, NEW.plan_id, 'voucher', 1, 0, NEW.price, 0);
    END LOOP;
  END IF;
  RETURN NULL;
END $$;
