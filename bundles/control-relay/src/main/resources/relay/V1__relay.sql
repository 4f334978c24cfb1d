-- The relay's own tables (IPAM keeps its own). Portable SQL; IF NOT EXISTS so that a script
-- interrupted half-way completes when it runs again.
CREATE TABLE IF NOT EXISTS relay_node (
  node_id VARCHAR(36) PRIMARY KEY,
  tenant VARCHAR(128) NOT NULL,
  node_key VARCHAR(44) NOT NULL,
  hostname VARCHAR(255) NOT NULL,
  os VARCHAR(64) NOT NULL,
  endpoints VARCHAR(2048) NOT NULL,
  created_at TIMESTAMP NOT NULL,
  last_seen TIMESTAMP NOT NULL,
  CONSTRAINT relay_node_tenant_key UNIQUE (tenant, node_key)
);
CREATE TABLE IF NOT EXISTS relay_preauth_key (
  key_id VARCHAR(16) PRIMARY KEY,
  tenant VARCHAR(128) NOT NULL,
  secret_hash VARCHAR(64) NOT NULL,
  reusable BOOLEAN NOT NULL,
  expires_at TIMESTAMP NOT NULL,
  created_at TIMESTAMP NOT NULL,
  used_at TIMESTAMP,
  revoked BOOLEAN NOT NULL
);
CREATE TABLE IF NOT EXISTS relay_refresh_token (
  token_hash VARCHAR(64) PRIMARY KEY,
  node_id VARCHAR(36) NOT NULL,
  expires_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS relay_signing_key (
  kid VARCHAR(40) PRIMARY KEY,
  private_jwk VARCHAR(4000) NOT NULL,
  created_at TIMESTAMP NOT NULL
);
