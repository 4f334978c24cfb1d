package io.cloudbridge.shell.internal;

import org.apache.felix.service.command.Converter;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;

/**
 * Lets shell commands that take bundles ({@code stop}, {@code start}, {@code update},
 * {@code refresh}, ...) accept a bundle id or a symbolic name. Gogo's runtime has no such converter
 * of its own; its JLine console, which brings one, is not part of this runtime.
 */
@Component(service = Converter.class, property = "osgi.converter.classes=org.osgi.framework.Bundle")
public final class BundleConverter implements Converter {
    private BundleContext context;

    @Activate
    void activate(BundleContext ctx) {
        this.context = ctx;
    }

    @Override
    public Object convert(Class<?> desiredType, Object in) {
        if (desiredType != Bundle.class || in == null) {
            return null;
        }
        String text = in.toString().trim();
        if (text.matches("\\d+")) {
            return context.getBundle(Long.parseLong(text));
        }
        Bundle newest = null;
        for (Bundle b : context.getBundles()) {
            if (text.equals(b.getSymbolicName()) && (newest == null || b.getVersion().compareTo(newest.getVersion()) > 0)) {
                newest = b;
            }
        }
        return newest;
    }

    @Override
    public CharSequence format(Object target, int level, Converter escape) {
        if (!(target instanceof Bundle b)) {
            return null;
        }
        return level == LINE || level == PART
                ? b.getBundleId() + "|" + b.getSymbolicName() + "|" + b.getVersion()
                : null;
    }
}
