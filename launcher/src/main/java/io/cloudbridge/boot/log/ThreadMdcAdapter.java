package io.cloudbridge.boot.log;

import java.util.Deque;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Supplier;
import org.slf4j.helpers.ThreadLocalMapOfStacks;
import org.slf4j.spi.MDCAdapter;

/**
 * The MDC of each thread, not handed to the threads it starts. SLF4J's own adapter gives every
 * child thread a copy, and a pool's thread started during a flow (an event loop, a scheduler's
 * first task) would then carry that flow's {@code correlationId} on every line it ever logs for
 * any other: the ids would lie. A thread without an id of its own may have one from its
 * surroundings ({@link Correlation#ambient}: the admin command a Gogo pipe thread runs). Each
 * thread keeps its map once made (an empty one too): a flow's scope opened and closed many times
 * a second allocates nothing.
 */
final class ThreadMdcAdapter implements MDCAdapter {
    private final ThreadLocal<Map<String, String>> values = new ThreadLocal<>();
    private final ThreadLocalMapOfStacks stacks = new ThreadLocalMapOfStacks();
    private volatile Supplier<String> ambient;

    /** Where a thread without a correlation id of its own finds one; null for nowhere. */
    void ambient(Supplier<String> supplier) {
        ambient = supplier;
    }

    Supplier<String> ambient() {
        return ambient;
    }

    private String ambientId() {
        Supplier<String> supplier = ambient;
        if (supplier == null) {
            return null;
        }
        try {
            return supplier.get();
        } catch (RuntimeException e) {
            return null; // (a bundle's supplier going away as it is asked)
        }
    }

    private Map<String, String> map() {
        Map<String, String> map = values.get();
        if (map == null) {
            map = new HashMap<>();
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

    /** The thread's own value for {@code key}, without the ambient id. */
    String own(String key) {
        Map<String, String> map = values.get();
        return map == null || key == null ? null : map.get(key);
    }

    @Override
    public String get(String key) {
        Map<String, String> map = values.get();
        String value = map == null || key == null ? null : map.get(key);
        return value == null && Correlation.KEY.equals(key) ? ambientId() : value;
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
        Map<String, String> copy = map == null || map.isEmpty() ? null : new HashMap<>(map);
        if (copy == null || !copy.containsKey(Correlation.KEY)) {
            String id = ambientId();
            if (id != null) {
                copy = copy == null ? new HashMap<>() : copy;
                copy.put(Correlation.KEY, id);
            }
        }
        return copy;
    }

    @Override
    public void setContextMap(Map<String, String> contextMap) {
        Map<String, String> map = map();
        map.clear();
        if (contextMap != null) {
            map.putAll(contextMap);
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
