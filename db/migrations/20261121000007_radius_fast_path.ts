import type { Knex } from 'knex';

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
    CREATE FUNCTION lango_text(hex text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$ SELECT convert_from(decode(hex, 'hex'), 'UTF8') $$;

    ALTER TABLE radacct DROP CONSTRAINT radacct_tenant_id_fkey, DROP CONSTRAINT radacct_nas_id_fkey;
    ALTER TABLE radpostauth DROP CONSTRAINT radpostauth_tenant_id_fkey, DROP CONSTRAINT radpostauth_nas_id_fkey;
    DROP INDEX radacct_active_session_idx;
    DROP INDEX radacct_bulk_close;

    -- authorize_check_query: lango_authorize_check() plus Simultaneous-Use, decided here.
    CREATE FUNCTION lango_authorize(src text, ident_hex text, user_hex text, calling_hex text)
    RETURNS TABLE (id integer, username text, attribute text, value text, op text)
    LANGUAGE plpgsql STABLE AS $$
    DECLARE
      r record;
      v_simul integer;
      v_tenant uuid;
      v_user text;
      v_rejected boolean := false;
    BEGIN
      FOR r IN SELECT * FROM lango_authorize_check(src, ident_hex, user_hex, calling_hex) LOOP
        IF r.attribute = 'Simultaneous-Use' THEN
          v_simul := CASE WHEN r.value ~ '^[0-9]{1,9}$' THEN r.value::integer END;
          CONTINUE;
        END IF;
        IF r.attribute = 'Lango-Tenant-Id' THEN v_tenant := r.value::uuid; END IF;
        IF r.attribute = 'Lango-Reject-Reason' THEN v_rejected := true; END IF;
        v_user := r.username;
        id := r.id; username := r.username; attribute := r.attribute; value := r.value; op := r.op;
        RETURN NEXT;
      END LOOP;
      IF v_simul IS NOT NULL AND NOT v_rejected AND v_tenant IS NOT NULL
         AND (SELECT count(*) FROM radacct a WHERE a.tenant_id = v_tenant AND a.username = v_user AND a.acctstoptime IS NULL) >= v_simul THEN
        id := 0; username := v_user; attribute := 'Lango-Reject-Reason'; op := ':=';
        value := 'You are already logged in - access denied';
        RETURN NEXT;
      END IF;
    END $$;

    CREATE OR REPLACE FUNCTION lango_authorize_reply(tenant text, user_hex text)
    RETURNS TABLE (id integer, username text, attribute text, value text, op text)
    LANGUAGE plpgsql STABLE AS $$
    DECLARE
      v_tenant uuid := nullif(tenant, '')::uuid;
      v_user text := lango_text(user_hex);
    BEGIN
      IF v_tenant IS NULL THEN RETURN; END IF;
      RETURN QUERY
        SELECT gr.id, ug.username, gr.attribute, gr.value, gr.op::text
        FROM radusergroup ug
        JOIN radgroupreply gr ON gr.tenant_id = ug.tenant_id AND gr.groupname = ug.groupname
        WHERE ug.tenant_id = v_tenant AND ug.username = v_user
        ORDER BY ug.priority, gr.id;
      RETURN QUERY
        SELECT r.id, r.username, r.attribute, r.value, r.op::text
        FROM radreply r WHERE r.tenant_id = v_tenant AND r.username = v_user
        ORDER BY r.id;
    END $$;

    CREATE FUNCTION lango_postauth(src text, ident_hex text, user_hex text, reply text, reason_hex text,
                                   called_hex text, calling_hex text, class text)
    RETURNS integer LANGUAGE plpgsql AS $$
    DECLARE
      t text[];
    BEGIN
      -- Decode first, in a read-only block (no transaction id), then write outside it.
      BEGIN
        t := ARRAY[lango_text(ident_hex), lango_text(user_hex), lango_text(reason_hex), lango_text(called_hex), lango_text(calling_hex)];
      EXCEPTION WHEN character_not_in_repertoire OR untranslatable_character OR invalid_parameter_value THEN
        t := ARRAY[lango_text_checked(ident_hex), lango_text_checked(user_hex), lango_text_checked(reason_hex),
                   lango_text_checked(called_hex), lango_text_checked(calling_hex)];
      END;
      RETURN lango_postauth_do(src, t[1], t[2], reply, t[3], t[4], t[5], class);
    END $$;

    CREATE FUNCTION lango_postauth_do(src text, ident text, username text, reply text, reason text,
                                      called text, calling text, class text)
    RETURNS integer LANGUAGE plpgsql AS $$
    DECLARE
      v_nas record;
    BEGIN
      PERFORM set_config('synchronous_commit', 'off', true);
      SELECT * INTO v_nas FROM lango_nas_find(src, ident);
      INSERT INTO radpostauth (tenant_id, nas_id, username, reply, reason, calledstationid, callingstationid, authdate, class)
      VALUES (v_nas.tenant_id, v_nas.nas_id, username, reply, nullif(reason, ''), nullif(called, ''), nullif(calling, ''), now(), nullif(class, ''));
      RETURN 1;
    END $$;

    -- One function for every accounting packet. Start, Interim-Update and Stop are upserts keyed
    -- by Acct-Unique-Session-Id: an Interim or Stop whose Start was lost creates the row, and a
    -- late or repeated packet never reopens or rewinds a closed session (counters only grow).
    -- Accounting-On/Off closes the NAS's open sessions. Returns the rows touched.
    CREATE FUNCTION lango_acct(
      status text, src text, ident_hex text, user_hex text, session_hex text, unique_id text,
      realm text, nas_ip text, port_id_hex text, port_type text, delay integer, session_time bigint,
      in_octets bigint, in_gigawords bigint, out_octets bigint, out_gigawords bigint,
      authentic text, connect_hex text, called_hex text, calling_hex text, cause text,
      service text, framed_protocol text, framed_ip text, framed_ipv6 text, framed_ipv6_prefix text,
      framed_interface_id text, delegated_prefix text, class text)
    RETURNS integer LANGUAGE plpgsql AS $$
    DECLARE
      t text[];
    BEGIN
      BEGIN
        t := ARRAY[lango_text(ident_hex), lango_text(user_hex), lango_text(session_hex), lango_text(port_id_hex),
                   lango_text(connect_hex), lango_text(called_hex), lango_text(calling_hex)];
      EXCEPTION WHEN character_not_in_repertoire OR untranslatable_character OR invalid_parameter_value THEN
        t := ARRAY[lango_text_checked(ident_hex), lango_text_checked(user_hex), lango_text_checked(session_hex),
                   lango_text_checked(port_id_hex), lango_text_checked(connect_hex), lango_text_checked(called_hex),
                   lango_text_checked(calling_hex)];
      END;
      RETURN lango_acct_do(status, src, t[1], t[2], t[3], unique_id, realm, nas_ip, t[4], port_type, delay, session_time,
        in_octets, in_gigawords, out_octets, out_gigawords, authentic, t[5], t[6], t[7], cause, service, framed_protocol,
        framed_ip, framed_ipv6, framed_ipv6_prefix, framed_interface_id, delegated_prefix, class);
    END $$;

    CREATE FUNCTION lango_acct_do(
      status text, src text, ident text, username text, session_id text, unique_id text,
      realm text, nas_ip text, port_id text, port_type text, delay integer, session_time bigint,
      in_octets bigint, in_gigawords bigint, out_octets bigint, out_gigawords bigint,
      authentic text, connect text, called text, calling text, cause text,
      service text, framed_protocol text, framed_ip text, framed_ipv6 text, framed_ipv6_prefix text,
      framed_interface_id text, delegated_prefix text, class text)
    RETURNS integer LANGUAGE plpgsql AS $$
    DECLARE
      v_nas record;
      v_at timestamptz := now() - make_interval(secs => coalesce(delay, 0));
      v_in bigint := (coalesce(in_gigawords, 0) << 32) + coalesce(in_octets, 0);
      v_out bigint := (coalesce(out_gigawords, 0) << 32) + coalesce(out_octets, 0);
      v_stop timestamptz;
      v_n integer;
    BEGIN
      PERFORM set_config('synchronous_commit', 'off', true);
      SELECT * INTO v_nas FROM lango_nas_find(src, ident);
      IF NOT FOUND THEN RETURN 0; END IF;

      IF status IN ('Accounting-On', 'Accounting-Off') THEN
        UPDATE radacct SET acctstoptime = v_at, acctupdatetime = v_at,
               acctsessiontime = greatest(0, extract(epoch FROM v_at - acctstarttime))::bigint,
               acctterminatecause = 'NAS-Reboot'
        WHERE nas_id = v_nas.nas_id AND acctstoptime IS NULL;
        GET DIAGNOSTICS v_n = ROW_COUNT;
        RETURN v_n;
      END IF;
      IF status NOT IN ('Start', 'Interim-Update', 'Stop') THEN RETURN 0; END IF;
      IF status = 'Stop' THEN v_stop := v_at; END IF;

      INSERT INTO radacct AS a (tenant_id, nas_id, acctsessionid, acctuniqueid, username, realm, nasipaddress,
             nasportid, nasporttype, acctstarttime, acctupdatetime, acctstoptime, acctsessiontime,
             acctauthentic, connectinfo_start, connectinfo_stop, acctinputoctets, acctoutputoctets,
             calledstationid, callingstationid, acctterminatecause, servicetype, framedprotocol,
             framedipaddress, framedipv6address, framedipv6prefix, framedinterfaceid, delegatedipv6prefix, class)
      VALUES (v_nas.tenant_id, v_nas.nas_id, session_id, unique_id, username,
             nullif(realm, ''), coalesce(nullif(nas_ip, ''), src)::inet,
             nullif(port_id, ''), nullif(port_type, ''),
             CASE WHEN status = 'Start' THEN v_at ELSE v_at - make_interval(secs => coalesce(session_time, 0)) END,
             v_at, v_stop, CASE WHEN status = 'Start' THEN 0 ELSE coalesce(session_time, 0) END,
             nullif(authentic, ''),
             CASE WHEN status = 'Stop' THEN NULL ELSE nullif(connect, '') END,
             CASE WHEN status = 'Stop' THEN nullif(connect, '') END,
             CASE WHEN status = 'Start' THEN 0 ELSE v_in END, CASE WHEN status = 'Start' THEN 0 ELSE v_out END,
             nullif(called, ''), nullif(calling, ''),
             CASE WHEN status = 'Stop' THEN nullif(cause, '') END,
             nullif(service, ''), nullif(framed_protocol, ''),
             nullif(framed_ip, '')::inet, nullif(framed_ipv6, '')::inet, nullif(framed_ipv6_prefix, '')::inet,
             nullif(framed_interface_id, ''), nullif(delegated_prefix, '')::inet, nullif(class, ''))
      ON CONFLICT (acctuniqueid) DO UPDATE SET
        acctstarttime = CASE WHEN status = 'Start' THEN EXCLUDED.acctstarttime ELSE a.acctstarttime END,
        acctinterval = CASE WHEN status = 'Start' THEN a.acctinterval
                       ELSE greatest(0, extract(epoch FROM EXCLUDED.acctupdatetime - coalesce(a.acctupdatetime, a.acctstarttime)))::bigint END,
        acctupdatetime = CASE WHEN status = 'Start' THEN a.acctupdatetime ELSE EXCLUDED.acctupdatetime END,
        acctstoptime = coalesce(EXCLUDED.acctstoptime, a.acctstoptime),
        acctsessiontime = greatest(a.acctsessiontime, EXCLUDED.acctsessiontime),
        acctinputoctets = greatest(a.acctinputoctets, EXCLUDED.acctinputoctets),
        acctoutputoctets = greatest(a.acctoutputoctets, EXCLUDED.acctoutputoctets),
        acctterminatecause = coalesce(EXCLUDED.acctterminatecause, a.acctterminatecause),
        connectinfo_stop = coalesce(EXCLUDED.connectinfo_stop, a.connectinfo_stop),
        framedipaddress = coalesce(EXCLUDED.framedipaddress, a.framedipaddress)
      WHERE a.acctstoptime IS NULL
         OR (status = 'Stop' AND a.acctterminatecause IN ('Stale-Session', 'NAS-Reboot'));
      GET DIAGNOSTICS v_n = ROW_COUNT;
      RETURN v_n;
    END $$;
  `);
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
    CREATE OR REPLACE FUNCTION lango_authorize_reply(tenant text, user_hex text)
    RETURNS TABLE (id integer, username text, attribute text, value text, op text)
    LANGUAGE sql STABLE AS $$
      SELECT x.id, x.username, x.attribute, x.value, x.op FROM (
        SELECT gr.id, ug.username, gr.attribute, gr.value, gr.op::text AS op, 0 AS lvl, ug.priority AS prio
        FROM radusergroup ug
        JOIN radgroupreply gr ON gr.tenant_id = ug.tenant_id AND gr.groupname = ug.groupname
        WHERE ug.tenant_id = nullif(tenant, '')::uuid AND ug.username = lango_text(user_hex)
        UNION ALL
        SELECT r.id, r.username, r.attribute, r.value, r.op::text, 1, 0
        FROM radreply r
        WHERE r.tenant_id = nullif(tenant, '')::uuid AND r.username = lango_text(user_hex)
      ) x ORDER BY x.lvl, x.prio, x.id
    $$;
    CREATE INDEX radacct_bulk_close ON radacct (NASIPAddress, AcctStartTime) WHERE AcctStopTime IS NULL;
    CREATE INDEX radacct_active_session_idx ON radacct (AcctUniqueId) WHERE AcctStopTime IS NULL;
    ALTER TABLE radpostauth ADD CONSTRAINT radpostauth_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants(id) ON DELETE CASCADE,
      ADD CONSTRAINT radpostauth_nas_id_fkey FOREIGN KEY (nas_id) REFERENCES nas(id) ON DELETE SET NULL;
    ALTER TABLE radacct ADD CONSTRAINT radacct_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants(id) ON DELETE CASCADE,
      ADD CONSTRAINT radacct_nas_id_fkey FOREIGN KEY (nas_id) REFERENCES nas(id) ON DELETE SET NULL;
  `);
}
