-- Instants, not a relay's wall time: a TIMESTAMP without time zone holds what the writing JVM's
-- default zone made of an instant, so two relays in different zones (or one whose zone changed)
-- read each other's expiries hours off. Each column becomes TIMESTAMP WITH TIME ZONE; the values
-- already there are taken in the session's zone, which is the zone they were written in (the
-- JDBC drivers set it from the JVM's default). Portable (H2 and PostgreSQL); a re-run changes nothing.
ALTER TABLE relay_node ALTER COLUMN created_at SET DATA TYPE TIMESTAMP WITH TIME ZONE;
ALTER TABLE relay_node ALTER COLUMN last_seen SET DATA TYPE TIMESTAMP WITH TIME ZONE;
ALTER TABLE relay_preauth_key ALTER COLUMN expires_at SET DATA TYPE TIMESTAMP WITH TIME ZONE;
ALTER TABLE relay_preauth_key ALTER COLUMN created_at SET DATA TYPE TIMESTAMP WITH TIME ZONE;
ALTER TABLE relay_preauth_key ALTER COLUMN used_at SET DATA TYPE TIMESTAMP WITH TIME ZONE;
ALTER TABLE relay_refresh_token ALTER COLUMN expires_at SET DATA TYPE TIMESTAMP WITH TIME ZONE;
ALTER TABLE relay_signing_key ALTER COLUMN created_at SET DATA TYPE TIMESTAMP WITH TIME ZONE;
ALTER TABLE relay_member_key ALTER COLUMN created_at SET DATA TYPE TIMESTAMP WITH TIME ZONE;
ALTER TABLE relay_policy ALTER COLUMN created_at SET DATA TYPE TIMESTAMP WITH TIME ZONE;
