-- post-auth, for a voucher that lango_authorize_check() let through (Lango-Voucher-Id): the
-- device binding and the first-login clock, decided after the password matched and before the
-- Accept leaves (policy.d/lango-authorize rejects with the returned text unless it is 'ok').
--
-- The voucher's row is locked, so two devices logging in at once are decided one after the
-- other: the second sees the first one's binding and is refused when the voucher is full
-- (authorize only read, and both may have passed it). The first Accept sets activated_at and
-- creates the subscription (plan duration from now, the batch's allowance), so from then on the
-- voucher is covered, expired and enforced like any subscriber's period.
--
-- Entry point (%{sql:} in post-auth): owner's rights, fixed search_path; the result is encoded
-- by lango_rad_value() because unlang unescapes %{sql:} output on assignment.
CREATE OR REPLACE FUNCTION lango_voucher_login(tenant text, voucher text, calling_hex text)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v record;
  v_mac text;
  v_sub uuid;
  v_now timestamptz := now();
BEGIN
  IF tenant !~ '^[0-9a-f-]{36}$' OR voucher !~ '^[0-9a-f-]{36}$' THEN
    RETURN lango_rad_value('Voucher not found');
  END IF;
  BEGIN
    v_mac := lango_mac(lango_text(calling_hex));
  EXCEPTION WHEN character_not_in_repertoire OR untranslatable_character OR invalid_parameter_value THEN
    v_mac := NULL;
  END;
  SELECT vo.id, vo.tenant_id, vo.subscriber_id, vo.activated_at, vo.revoked_at,
         b.expires_at, b.device_limit, b.duration_seconds, b.data_quota_bytes, b.session_timeout_seconds,
         b.plan_id, b.plan_name, b.price
    INTO v
  FROM vouchers vo JOIN voucher_batches b ON b.tenant_id = vo.tenant_id AND b.id = vo.batch_id
  WHERE vo.tenant_id = tenant::uuid AND vo.id = voucher::uuid
  FOR UPDATE OF vo;
  IF NOT FOUND THEN RETURN lango_rad_value('Voucher not found'); END IF;
  IF v.revoked_at IS NOT NULL THEN RETURN lango_rad_value('Voucher revoked'); END IF;
  IF v.activated_at IS NULL AND v.expires_at IS NOT NULL AND v.expires_at <= v_now THEN
    RETURN lango_rad_value('Voucher expired');
  END IF;
  IF v_mac IS NULL THEN RETURN lango_rad_value('Device not identified'); END IF;

  IF NOT EXISTS (SELECT 1 FROM voucher_devices d WHERE d.voucher_id = v.id AND d.mac_address = v_mac) THEN
    IF (SELECT count(*) FROM voucher_devices d WHERE d.voucher_id = v.id) >= v.device_limit THEN
      RETURN lango_rad_value('Voucher already in use on another device');
    END IF;
    INSERT INTO voucher_devices (tenant_id, voucher_id, mac_address, bound_at) VALUES (v.tenant_id, v.id, v_mac, v_now);
  END IF;

  IF v.activated_at IS NULL THEN
    UPDATE vouchers SET activated_at = v_now WHERE id = v.id;
    INSERT INTO subscriptions (tenant_id, subscriber_id, plan_id, plan_name, price, data_quota_bytes,
                               session_timeout_seconds, starts_at, ends_at, source)
    VALUES (v.tenant_id, v.subscriber_id, v.plan_id, v.plan_name, v.price, v.data_quota_bytes,
            v.session_timeout_seconds, v_now, v_now + make_interval(secs => v.duration_seconds), 'voucher')
    RETURNING id INTO v_sub;
    PERFORM lango_snapshot_baselines(v_sub);
  END IF;
  RETURN 'ok';
END $$;
