package io.cloudbridge.itest.vendor;

import java.util.function.Supplier;
import org.osgi.framework.BundleContext;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Modified;
import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.Designate;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/**
 * A stand-in vendor extension: a DS component with its own configuration section ({@code greeter}),
 * which the deploy-folder test packs into a bundle.
 */
@Component(service = Supplier.class, property = "vendor=example", configurationPid = "cloudbridge.greeter")
@Designate(ocd = Greeter.Config.class)
public class Greeter implements Supplier<String> {

    @ObjectClassDefinition(name = "Greeter")
    public @interface Config {
        String greeting() default "hello";

        @AttributeDefinition(min = "0", max = "10")
        int volume() default 5;
    }

    private String version;
    private volatile String greeting;

    @Activate
    void activate(BundleContext context, Config config) {
        version = context.getBundle().getHeaders().get("Greeting-Version");
        modified(config);
    }

    @Modified
    void modified(Config config) {
        greeting = config.greeting();
    }

    @Override
    public String get() {
        return greeting + " from " + version;
    }
}
