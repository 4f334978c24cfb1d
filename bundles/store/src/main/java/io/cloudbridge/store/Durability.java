package io.cloudbridge.store;

import java.sql.SQLException;
import org.osgi.annotation.versioning.ProviderType;

/**
 * Makes what has been committed survive the relay process: registered with the relay's
 * {@code DataSource} (same {@code cloudbridge.database} property). A component calls {@link #sync}
 * after its commits and before it answers, so that an answer given is never forgotten by a relay
 * killed right after; concurrent callers share one write (group commit).
 */
@ProviderType
public interface Durability {
    /** Returns once every transaction committed before the call is in the database's file. */
    void sync() throws SQLException;
}
