package io.cloudbridge.itest.vendor;

import java.util.function.Supplier;
import org.osgi.framework.BundleContext;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;

/** A stand-in vendor extension: a DS component that the deploy-folder test packs into a bundle. */
@Component(service = Supplier.class, property = "vendor=example")
public class Greeter implements Supplier<String> {
    private String version;

    @Activate
    void activate(BundleContext context) {
        version = context.getBundle().getHeaders().get("Greeting-Version");
    }

    @Override
    public String get() {
        return "hello from " + version;
    }
}
