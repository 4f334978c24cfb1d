-- Access policies, and who each node is as a policy names it.
-- Every version of a tenant's policy is kept: relay:policy history shows them, and the highest is in
-- force. A version with no text took the tenant back to no policy (everyone reaches everyone).
CREATE TABLE IF NOT EXISTS relay_policy (
  tenant VARCHAR(128) NOT NULL,
  version BIGINT NOT NULL,
  policy_text VARCHAR(1048576),
  sha256 VARCHAR(64) NOT NULL,
  created_by VARCHAR(255) NOT NULL,
  created_at TIMESTAMP NOT NULL,
  CONSTRAINT relay_policy_pk PRIMARY KEY (tenant, version)
);
-- The node's name as policies name it (node:NAME): its hostname at its first sign-in, made unique in
-- the tenant then, and never changed by the node (it chooses its hostname; it must not choose whose
-- rights it gets). Nodes from before this version take their hostname.
ALTER TABLE relay_node ADD COLUMN IF NOT EXISTS name VARCHAR(255);
UPDATE relay_node SET name = hostname WHERE name IS NULL;
CREATE INDEX IF NOT EXISTS relay_node_tenant_name ON relay_node (tenant, name);
-- The OpenID subject that signed the node in and its identity provider's groups (comma-separated),
-- and the node's tags (from its pre-auth key, or given by an administrator).
ALTER TABLE relay_node ADD COLUMN IF NOT EXISTS user_name VARCHAR(255) DEFAULT '' NOT NULL;
ALTER TABLE relay_node ADD COLUMN IF NOT EXISTS idp_groups VARCHAR(33024) DEFAULT '' NOT NULL;
ALTER TABLE relay_node ADD COLUMN IF NOT EXISTS tags VARCHAR(4096) DEFAULT '' NOT NULL;
-- The tags a node that signs in with the key gets.
ALTER TABLE relay_preauth_key ADD COLUMN IF NOT EXISTS tags VARCHAR(4096) DEFAULT '' NOT NULL;
