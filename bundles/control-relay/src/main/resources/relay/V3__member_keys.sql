-- Keys of the members inside the relay (its CONNECT-IP gateways), reserved for good: a member has
-- no node record and leaves the map when it closes or the relay stops, but keeps its key and its
-- lease, so that without this a node of the tenant could register the key while it is away.
CREATE TABLE IF NOT EXISTS relay_member_key (
  tenant VARCHAR(128) NOT NULL,
  node_key VARCHAR(44) NOT NULL,
  member_id VARCHAR(36) NOT NULL,
  name VARCHAR(255) NOT NULL,
  created_at TIMESTAMP NOT NULL,
  CONSTRAINT relay_member_key_pk PRIMARY KEY (tenant, node_key)
);
