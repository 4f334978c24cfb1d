package io.cloudbridge.boot.log;

import java.util.Deque;
import java.util.HashMap;
import java.util.Map;
import org.slf4j.helpers.ThreadLocalMapOfStacks;
import org.slf4j.spi.MDCAdapter;

/**
 * The MDC of each thread, not handed to the threads it starts. SLF4J's own adapter gives every
 * child thread a copy, and a pool's thread started during a flow (an event loop, a scheduler's
 * first task) would then carry that flow's {@code correlationId} on every line it ever logs for
 * any other: the ids would lie. The one exception is a thread that asked for it
 * ({@link #shareWithThreadsStartedHere()}: an admin session, whose commands Gogo runs on threads
 * the session starts): the threads it starts share its MDC, the very map, so that they log under
 * the command it runs now, not the one it ran when they were started. Each thread keeps its map
 * once made (an empty one too): a flow's scope opened and closed many times a second allocates
 * nothing.
 */
final class ThreadMdcAdapter implements MDCAdapter {
    /** Whether the threads this one starts share its MDC: inherited, since Gogo's job thread starts the pipe's threads in turn. */
    private final InheritableThreadLocal<Boolean> sharing = new InheritableThreadLocal<>();
    private final InheritableThreadLocal<Map<String, String>> values = new InheritableThreadLocal<>() {
        @Override
        protected Map<String, String> childValue(Map<String, String> parent) {
            // (Called on the parent thread, as it starts the child.)
            return Boolean.TRUE.equals(sharing.get()) ? parent : null;
        }
    };
    private final ThreadLocalMapOfStacks stacks = new ThreadLocalMapOfStacks();

    /** The threads this thread starts from now on share its MDC. */
    void shareWithThreadsStartedHere() {
        sharing.set(Boolean.TRUE);
        map();
    }

    private Map<String, String> map() {
        Map<String, String> map = values.get();
        if (map == null) {
            // Synchronized: a shared map is read by the threads that share it.
            map = java.util.Collections.synchronizedMap(new HashMap<>());
            values.set(map);
        }
        return map;
    }

    @Override
    public void put(String key, String value) {
        if (key == null) {
            throw new IllegalArgumentException("key cannot be null");
        }
        map().put(key, value);
    }

    @Override
    public String get(String key) {
        Map<String, String> map = values.get();
        return map == null || key == null ? null : map.get(key);
    }

    @Override
    public void remove(String key) {
        Map<String, String> map = values.get();
        if (map != null) {
            map.remove(key);
        }
    }

    @Override
    public void clear() {
        Map<String, String> map = values.get();
        if (map != null) {
            map.clear();
        }
    }

    @Override
    public Map<String, String> getCopyOfContextMap() {
        Map<String, String> map = values.get();
        if (map == null) {
            return null;
        }
        synchronized (map) {
            return map.isEmpty() ? null : new HashMap<>(map);
        }
    }

    @Override
    public void setContextMap(Map<String, String> contextMap) {
        Map<String, String> map = map();
        synchronized (map) {
            map.clear();
            if (contextMap != null) {
                map.putAll(contextMap);
            }
        }
    }

    @Override
    public void pushByKey(String key, String value) {
        stacks.pushByKey(key, value);
    }

    @Override
    public String popByKey(String key) {
        return stacks.popByKey(key);
    }

    @Override
    public Deque<String> getCopyOfDequeByKey(String key) {
        return stacks.getCopyOfDequeByKey(key);
    }

    @Override
    public void clearDequeByKey(String key) {
        stacks.clearDequeByKey(key);
    }
}
