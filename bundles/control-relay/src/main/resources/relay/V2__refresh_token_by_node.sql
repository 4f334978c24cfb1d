-- A node's refresh token is looked up by node when it is replaced or the node removed.
CREATE INDEX IF NOT EXISTS relay_refresh_token_node ON relay_refresh_token (node_id);
