package io.cloudbridge.itest.faulty;

import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;

/** A vendor component that throws on activation: the chaos test drops it into deploy/. */
@Component(immediate = true, service = Faulty.class)
public class Faulty {
    @Activate
    void activate() {
        throw new IllegalStateException("this vendor component always fails to activate (chaos test)");
    }
}
