package io.cloudbridge.kernel.internal.event;

import io.cloudbridge.api.event.StateChangeEvent;
import io.cloudbridge.api.event.StateChangeListener;
import io.cloudbridge.api.event.StateChangePublisher;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Delivers state changes to the whiteboard of listeners, and logs each one. */
@Component(service = StateChangePublisher.class)
public final class StateChangeBroker implements StateChangePublisher {
    private static final Logger LOG = LoggerFactory.getLogger(StateChangeBroker.class);
    private final List<StateChangeListener> listeners = new CopyOnWriteArrayList<>();

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC)
    void addListener(StateChangeListener listener) {
        listeners.add(listener);
    }

    void removeListener(StateChangeListener listener) {
        listeners.remove(listener);
    }

    @Override
    public void publish(StateChangeEvent event) {
        LOG.info("state change: {} {} {} -> {}{}", event.source(), event.subject(), event.from(), event.to(),
                event.reason().isEmpty() ? "" : " (" + event.reason() + ")");
        for (StateChangeListener listener : listeners) {
            try {
                listener.stateChanged(event);
            } catch (RuntimeException e) {
                // One faulty listener must not keep the event from the others.
                LOG.error("state-change listener {} failed", listener.getClass().getName(), e);
            }
        }
    }
}
