package io.cloudbridge.tun.internal;

import org.osgi.annotation.bundle.Header;
import org.osgi.framework.BundleActivator;
import org.osgi.framework.BundleContext;
import org.osgi.framework.Constants;

/**
 * Not a service: the bundle's own stop, used to undo the native binding that all of the bundle's
 * devices share, so that an uninstalled or refreshed revision can be unloaded.
 */
@Header(name = Constants.BUNDLE_ACTIVATOR, value = "${@class}")
public final class TunBundleLifecycle implements BundleActivator {
    @Override
    public void start(BundleContext context) {
        // bound on first use
    }

    @Override
    public void stop(BundleContext context) {
        LibcBinding.unbind();
    }
}
