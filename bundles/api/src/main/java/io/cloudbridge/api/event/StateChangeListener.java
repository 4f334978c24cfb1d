package io.cloudbridge.api.event;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * Whiteboard: register one as a service to hear every state change. Called on the publisher's
 * thread after the change; keep it short and never block.
 */
@ConsumerType
public interface StateChangeListener {

    void stateChanged(StateChangeEvent event);
}
