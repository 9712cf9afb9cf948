\echo Use "CREATE EXTENSION clockwork_v8" to load this file. \quit

CREATE FUNCTION plv8_call_handler() RETURNS language_handler
  AS 'MODULE_PATHNAME' LANGUAGE C;
CREATE FUNCTION plv8_inline_handler(internal) RETURNS void
  AS 'MODULE_PATHNAME' LANGUAGE C;
CREATE FUNCTION plv8_call_validator(oid) RETURNS void
  AS 'MODULE_PATHNAME' LANGUAGE C;

CREATE TRUSTED LANGUAGE plv8
  HANDLER plv8_call_handler
  INLINE plv8_inline_handler
  VALIDATOR plv8_call_validator;

COMMENT ON LANGUAGE plv8 IS 'PL/v8-compatible JavaScript (clockwork_v8)';

CREATE FUNCTION plv8_version() RETURNS text
  LANGUAGE plv8 STABLE STRICT AS $$ return plv8.version; $$;
