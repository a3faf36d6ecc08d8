-- Optional, measured separately: radacct indexes that Lango inherited from the upstream schema
-- and never uses. Every accounting write maintains 9 indexes today; this leaves 5.
--   radacct_active_session_idx  duplicates the UNIQUE (acctuniqueid) index that ON CONFLICT uses
--   radacct_bulk_close          upstream's Accounting-On by NASIPAddress; Lango closes by nas_id
--   radacct_start_user_idx      upstream reporting by (acctstarttime, username) without tenant
--   radacct_calss_idx           upstream lookup by Class; nothing in Lango reads it
DROP INDEX IF EXISTS radacct_active_session_idx;
DROP INDEX IF EXISTS radacct_bulk_close;
DROP INDEX IF EXISTS radacct_start_user_idx;
DROP INDEX IF EXISTS radacct_calss_idx;
