/**
 * Durability (group commit), secrets sealed with the fleet key, and schema migrations for the components that keep state in the relay's database (a
 * {@code javax.sql.DataSource} service with the property {@code cloudbridge.database=relay}).
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("1.2.0")
package io.cloudbridge.store;
