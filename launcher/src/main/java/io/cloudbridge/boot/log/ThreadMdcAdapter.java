package io.cloudbridge.boot.log;

import java.util.Deque;
import java.util.HashMap;
import java.util.Map;
import org.slf4j.helpers.ThreadLocalMapOfStacks;
import org.slf4j.spi.MDCAdapter;

/**
 * The MDC of each thread, not inherited by the threads it starts. SLF4J's own adapter hands a
 * copy to every child thread, and a pool's thread started during a flow (an event loop, a
 * scheduler's first task) would then carry that flow's {@code correlationId} on every line it
 * ever logs for any other: the ids would lie.
 */
final class ThreadMdcAdapter implements MDCAdapter {
    private final ThreadLocal<Map<String, String>> values = new ThreadLocal<>();
    private final ThreadLocalMapOfStacks stacks = new ThreadLocalMapOfStacks();

    @Override
    public void put(String key, String value) {
        if (key == null) {
            throw new IllegalArgumentException("key cannot be null");
        }
        Map<String, String> map = values.get();
        if (map == null) {
            map = new HashMap<>();
            values.set(map);
        }
        map.put(key, value);
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
            if (map.isEmpty()) {
                values.remove();
            }
        }
    }

    @Override
    public void clear() {
        values.remove();
    }

    @Override
    public Map<String, String> getCopyOfContextMap() {
        Map<String, String> map = values.get();
        return map == null ? null : new HashMap<>(map);
    }

    @Override
    public void setContextMap(Map<String, String> contextMap) {
        if (contextMap == null || contextMap.isEmpty()) {
            values.remove();
        } else {
            values.set(new HashMap<>(contextMap));
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
