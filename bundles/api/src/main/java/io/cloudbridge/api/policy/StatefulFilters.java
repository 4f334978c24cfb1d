package io.cloudbridge.api.policy;

import org.osgi.annotation.versioning.ProviderType;

/**
 * Stateful filters of their own, for a part of the daemon that polices an overlay's packets for
 * others: the relay's CONNECT-IP gateway, for its clients. Each has its own connection-tracking
 * table, fails closed until its first filter, and keeps nothing across restarts.
 */
@ProviderType
public interface StatefulFilters {

    /** A new filter; {@code name} says whose in its logs. */
    Filter create(String name);

    /** One filter: ask and tell it as {@link PacketFilter}, give it rules as {@link NodeFilters}. */
    @ProviderType
    interface Filter extends PacketFilter, NodeFilters, AutoCloseable {
        /** Drops counted by reason ("default deny", "denied by rule", ...). */
        java.util.Map<String, Long> drops();

        @Override
        void close();
    }
}
