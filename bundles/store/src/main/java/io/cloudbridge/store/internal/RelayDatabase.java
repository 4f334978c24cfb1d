package io.cloudbridge.store.internal;

import io.cloudbridge.api.runtime.RuntimeEnvironment;
import io.cloudbridge.store.Durability;
import io.cloudbridge.store.FleetKeySealer;
import io.cloudbridge.store.SecretSealer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.Dictionary;
import java.util.Hashtable;
import javax.sql.DataSource;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceRegistration;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.metatype.annotations.Designate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Opens the relay's database and offers it as a {@link DataSource} service
 * ({@code cloudbridge.database=relay}) once a connection works. The default is an embedded H2 file
 * in the state folder, opened by this process alone; a PostgreSQL URL names the server that a fleet
 * of relays shares ({@link DatabasePool}). A change of the section closes the pool and opens a new
 * one (DS re-activates the component), so the components using it re-bind.
 */
@Component(configurationPid = "cloudbridge.database", configurationPolicy = ConfigurationPolicy.OPTIONAL, immediate = true)
@Designate(ocd = DatabaseConfig.class)
public final class RelayDatabase {
    /** Where the state folder is, and how secrets are written: the runtime's answer, not this bundle's. */
    @Reference
    private RuntimeEnvironment environment;

    private static final Logger LOG = LoggerFactory.getLogger(RelayDatabase.class);
    public static final String PROPERTY = "cloudbridge.database";

    private DatabasePool pool;
    private ServiceRegistration<DataSource> registration;
    private ServiceRegistration<Durability> durability;
    private ServiceRegistration<SecretSealer> sealer;
    private ServiceRegistration<java.time.Clock> clockRegistration;
    private DatabaseClock databaseClock;

    @Activate
    void activate(BundleContext ctx, DatabaseConfig config) throws IOException, SQLException {
        String url = config.url();
        if (url.isBlank()) {
            Path folder = environment.stateFolder("relay");
            // FILE_LOCK=FS: one process owns the file; a second relay on the same state fails loudly.
            // Commits are made durable by Durability.sync before the relay answers (group commit):
            // with H2's delayed writes alone a relay killed right after telling a node its address
            // forgot it (the control plane test caught a node given another address after a SIGKILL).
            url = "jdbc:h2:file:" + folder.resolve("relay").toAbsolutePath() + ";FILE_LOCK=FS";
        }
        SecretSealer secrets;
        if (!config.fleetKeyFile().isBlank()) {
            secrets = FleetKeySealer.load(environment.configuredPath(config.fleetKeyFile()));
        } else if (DatabasePool.ownDatabase(url)) {
            secrets = FleetKeySealer.NONE; // one relay's own file, in its owner-only state folder
        } else {
            throw new IOException("a database server needs database.fleetKeyFile: the token-signing keys"
                    + " kept in it would otherwise be readable by anyone who reads the database, and so would let them forge"
                    + " tokens (make one with: head -c 32 /dev/urandom | base64 > fleet.key; chmod 600 fleet.key; the same file"
                    + " on every relay)");
        }
        String password = config.passwordFile().isBlank() ? "" : Files.readString(environment.configuredPath(config.passwordFile())).trim();
        try {
            pool = DatabasePool.open(url, config.user(), password, config.maxConnections());
        } catch (SQLException e) {
            throw new SQLException("cannot open the relay database " + redact(url) + ": " + e.getMessage(), e);
        }
        try (Connection c = pool.dataSource().getConnection()) {
            LOG.info("relay database open: {} {} ({})", c.getMetaData().getDatabaseProductName(),
                    c.getMetaData().getDatabaseProductVersion(), redact(url));
        } catch (SQLException e) {
            pool.close();
            throw new SQLException("cannot open the relay database " + redact(url) + ": " + e.getMessage(), e);
        }
        Dictionary<String, Object> props = new Hashtable<>();
        props.put(PROPERTY, "relay");
        // By hand: the service is the pool this component opened, not the component (DS registers only that).
        registration = ctx.registerService(DataSource.class, pool.dataSource(), props);
        // An embedded H2 file needs its writes forced; a database server's commits are durable.
        // The relay's time: a server's clock where relays may share it, this machine's for its own file.
        java.time.Clock clock = java.time.Clock.systemUTC();
        if (!DatabasePool.ownDatabase(url)) {
            try {
                databaseClock = DatabaseClock.start(pool.dataSource(), java.time.Duration.ofMinutes(1));
            } catch (SQLException e) {
                pool.close();
                throw new SQLException("cannot read the database server's time: " + e.getMessage(), e);
            }
            clock = databaseClock;
            LOG.info("relay time from the database server (this machine's clock {} ms off it)", databaseClock.offset().toMillis());
        }
        clockRegistration = ctx.registerService(java.time.Clock.class, clock, props);
        sealer = ctx.registerService(SecretSealer.class, secrets, props);
        durability = ctx.registerService(Durability.class,
                pool.embeddedH2() ? new GroupCommit(pool.dataSource()) : GroupCommit.COMMITS_ARE_DURABLE, props);
    }

    @Deactivate
    void deactivate() {
        if (durability != null) {
            durability.unregister();
        }
        if (sealer != null) {
            sealer.unregister();
        }
        if (clockRegistration != null) {
            clockRegistration.unregister();
        }
        if (databaseClock != null) {
            databaseClock.close();
        }
        if (registration != null) {
            registration.unregister();
        }
        if (pool != null) {
            pool.close();
        }
    }

    /** A URL without what may be a password in it. */
    static String redact(String url) {
        return io.cloudbridge.boot.config.SecretText.mask(url);
    }
}
