package io.cloudbridge.api.event;

import org.osgi.annotation.versioning.ProviderType;

/** Delivers a state change to every registered {@link StateChangeListener} and logs it. */
@ProviderType
public interface StateChangePublisher {

    void publish(StateChangeEvent event);
}
