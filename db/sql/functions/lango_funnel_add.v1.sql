-- Add (p_sign 1) or take away (-1) one payment's contribution to funnel_rollup: the tenant day of its
-- creation, the columns of its state and allocation.
CREATE OR REPLACE FUNCTION lango_funnel_add(p_sign integer, p payments) RETURNS void
LANGUAGE sql SET search_path = public, pg_temp AS $$
  INSERT INTO funnel_rollup AS f (tenant_id, day, channel, initiated, pending, completed, cancelled, failed, expired,
                                  unallocated, refunded, completed_amount)
  SELECT p.tenant_id, (p.created_at AT TIME ZONE t.time_zone)::date, p.channel, p_sign,
         p_sign * (p.state = 'pending')::int, p_sign * (p.state = 'completed')::int, p_sign * (p.state = 'cancelled')::int,
         p_sign * (p.state = 'failed')::int, p_sign * (p.state = 'expired')::int,
         p_sign * (p.allocation IS NOT DISTINCT FROM 'unallocated')::int, p_sign * (p.allocation IS NOT DISTINCT FROM 'refunded')::int,
         CASE WHEN p.state = 'completed' THEN p_sign * p.amount ELSE 0 END
  FROM tenants t WHERE t.id = p.tenant_id
  ON CONFLICT (tenant_id, day, channel) DO UPDATE SET
    initiated = f.initiated + EXCLUDED.initiated, pending = f.pending + EXCLUDED.pending,
    completed = f.completed + EXCLUDED.completed, cancelled = f.cancelled + EXCLUDED.cancelled,
    failed = f.failed + EXCLUDED.failed, expired = f.expired + EXCLUDED.expired,
    unallocated = f.unallocated + EXCLUDED.unallocated, refunded = f.refunded + EXCLUDED.refunded,
    completed_amount = f.completed_amount + EXCLUDED.completed_amount
$$;
