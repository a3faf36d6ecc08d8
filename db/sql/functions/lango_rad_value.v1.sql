-- A value as rlm_sql must receive it to end up as exactly `v` in FreeRADIUS.
--
-- rlm_sql (sql_fr_pair_list_afrom_str, FreeRADIUS 3.2) reinterprets a value column: one that
-- starts and ends with the same quote character is a quoted string (`...` is xlat-expanded,
-- so a stored password `%{sql:...}` would run SQL as FreeRADIUS's role; '...' and "..." lose
-- their quotes), and every other value goes through fr_pair_value_from_str(), which unescapes
-- backslash sequences as in a double-quoted string (\n, \t, \\, \", \NNN octal; a lone trailing
-- backslash fails the whole row). The same unescaping applies to %{sql:...} output assigned in
-- unlang. So: every backslash is doubled and every quote character is written as its octal
-- escape. The result never starts with a quote character, so it is never taken as a quoted
-- string, and unescaping gives back the original bytes. It has no length limit of its own
-- (the 254-byte buffer of rlm_sql is only used for quoted strings, which this never produces).
CREATE OR REPLACE FUNCTION lango_rad_value(v text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT replace(replace(replace(replace(v, E'\\', E'\\\\'), '''', E'\\047'), '"', E'\\042'), '`', E'\\140')
$$;
