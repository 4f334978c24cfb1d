package io.cloudbridge.api.policy;

import java.net.InetAddress;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * A member of a tenant as its policy sees it: a node, or a CONNECT-IP client of the relay's
 * gateway.
 *
 * @param id        the node id
 * @param name      its name (the node's hostname)
 * @param user      the OpenID subject that signed it in, or empty (a pre-auth key)
 * @param idpGroups the identity provider's groups for that user (the configured group claim)
 * @param tags      the tags its pre-auth key or an administrator gave it
 * @param addresses its overlay addresses
 */
public record Member(String id, String name, String user, Set<String> idpGroups, Set<String> tags, List<InetAddress> addresses) {
    public Member {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(user, "user");
        idpGroups = Set.copyOf(idpGroups);
        tags = Set.copyOf(tags);
        addresses = List.copyOf(addresses);
    }
}
