-- Portable SQL (H2 and PostgreSQL). H2 commits each CREATE on its own, so every statement
-- tolerates a re-run after a half-applied migration.

-- One row: the pool as first used (so a changed setting cannot silently renumber tenants), the
-- IPv6 /48 generated once, and the next free tenant slot. Locking it serialises tenant creation.
CREATE TABLE IF NOT EXISTS ipam_pool (
    id INT NOT NULL PRIMARY KEY CHECK (id = 1),
    ipv4_pool VARCHAR(64) NOT NULL,
    tenant_ipv4_prefix_length INT NOT NULL,
    ipv6_pool VARCHAR(64) NOT NULL,
    next_slot INT NOT NULL
);

-- Slot n is the tenant's n-th IPv4 block and n-th IPv6 /64. Locking a tenant's row serialises
-- allocation within the tenant; next_host is the lowest host number never handed out.
CREATE TABLE IF NOT EXISTS ipam_tenant (
    tenant VARCHAR(128) NOT NULL PRIMARY KEY,
    slot INT NOT NULL UNIQUE,
    next_host INT NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL
);

-- Released host numbers, handed out again lowest first before next_host moves on.
CREATE TABLE IF NOT EXISTS ipam_free_host (
    tenant VARCHAR(128) NOT NULL REFERENCES ipam_tenant (tenant),
    host INT NOT NULL,
    PRIMARY KEY (tenant, host)
);

-- One lease per node and tenant; the UNIQUE constraint is the last line of defence against two
-- nodes sharing an address.
CREATE TABLE IF NOT EXISTS ipam_lease (
    tenant VARCHAR(128) NOT NULL REFERENCES ipam_tenant (tenant),
    node_key VARCHAR(44) NOT NULL,
    host INT NOT NULL,
    granted_at TIMESTAMP WITH TIME ZONE NOT NULL,
    PRIMARY KEY (tenant, node_key),
    UNIQUE (tenant, host)
);
