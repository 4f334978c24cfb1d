package io.cloudbridge.masque.internal;

import io.netty.util.AttributeKey;
import java.lang.reflect.Field;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Lets a new revision of Netty's DNS resolver bundle initialise beside a netty-common that an
 * earlier revision already used. {@code DnsNameResolver}'s static initialiser registers the
 * attribute name {@value #PIPELINE_KEY} with {@code AttributeKey.newInstance}, which refuses a name
 * already in netty-common's pool; the pool outlives the resolver bundle, so after the resolver was
 * uninstalled and installed again (the masque feature going and coming) or refreshed alone, the
 * class failed to initialise for good and the MASQUE proxy could not start (the chaos test's
 * "feature:install masque and back" on a relay). Forgetting the name first is harmless to a
 * resolver class already initialised: it keeps its own key object, and keys are told apart by id,
 * not by name.
 */
final class DnsResolverReload {
    private static final Logger LOG = LoggerFactory.getLogger(DnsResolverReload.class);
    static final String PIPELINE_KEY = "io.netty.resolver.dns.pipeline";

    private DnsResolverReload() {
    }

    /** Frees the resolver's attribute name in netty-common's pool; says why when it cannot. */
    static void prepare() {
        try {
            Field poolField = AttributeKey.class.getDeclaredField("pool");
            poolField.setAccessible(true);
            Object pool = poolField.get(null);
            Field constantsField = io.netty.util.ConstantPool.class.getDeclaredField("constants");
            constantsField.setAccessible(true);
            ((Map<?, ?>) constantsField.get(pool)).remove(PIPELINE_KEY);
        } catch (ReflectiveOperationException | RuntimeException e) {
            LOG.warn("cannot free Netty's DNS resolver attribute name; a reinstalled resolver may fail to start: {}", e.toString());
        }
    }
}
