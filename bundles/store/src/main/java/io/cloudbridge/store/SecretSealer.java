package io.cloudbridge.store;

import java.sql.SQLException;
import org.osgi.annotation.versioning.ProviderType;

/**
 * Seals the secrets a component keeps in the relay's database (token-signing keys) with the fleet
 * key ({@code database.fleetKeyFile}), so that whoever reads the database, a dump or a backup of
 * it cannot use them: with the signing keys in the clear, anyone who read a shared database could
 * forge tokens that every relay of the fleet accepts. Registered with the relay's {@code DataSource}
 * (same {@code cloudbridge.database} property). Without a fleet key (a single relay's embedded
 * database in its own state folder), values are stored as given.
 */
@ProviderType
public interface SecretSealer {
    /**
     * What to store for {@code secret}.
     *
     * @param context what the value is, e.g. the table and the row's key: a sealed value opens only
     *                under the same context, so one cannot be copied over another row's
     */
    String seal(String secret, String context);

    /**
     * The secret that a stored value holds.
     *
     * @throws SQLException where the value is sealed and this relay has no fleet key, another fleet
     *                      key, or the value was changed
     */
    String open(String stored, String context) throws SQLException;

    /** Whether {@code stored} is sealed (a value stored before a fleet key was configured is not). */
    boolean isSealed(String stored);

    /** Whether this relay seals what it stores (a fleet key is configured). */
    boolean sealing();
}
