package io.cloudbridge.boot.log;

import java.util.concurrent.Executor;
import java.util.regex.Pattern;
import org.slf4j.MDC;

/**
 * One id per flow (a registration, a signalling exchange, a path attempt, an admin command) in every
 * log line it causes, on the node and on the relay: the {@value #KEY} field of the JSON log. It
 * travels in gRPC metadata and the transports' session requests as {@value #HEADER}, so that one
 * {@code grep} of it finds the flow end to end. An id from the other side is taken only when it is
 * one ({@link #accept}): a peer cannot put text of its choosing into this daemon's log.
 */
public final class Correlation {
    /** The MDC key, and so the JSON field. */
    public static final String KEY = "correlationId";
    /** The gRPC metadata key and HTTP header that carry it between daemons. */
    public static final String HEADER = "cloudbridge-correlation-id";
    private static final Pattern VALID = Pattern.compile("[A-Za-z0-9._:-]{1,64}");
    private static final char[] DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz".toCharArray();

    private Correlation() {
    }

    /**
     * A new id for a flow of {@code kind} ({@code reg}, {@code relay}, {@code rpc}, ...): the kind and
     * 10 random characters (51 bits). Not a secret, only unlikely to repeat: made on every control
     * call that comes without one, so from a fast generator, not a cryptographic one.
     */
    public static String newId(String kind) {
        java.util.concurrent.ThreadLocalRandom random = java.util.concurrent.ThreadLocalRandom.current();
        StringBuilder sb = new StringBuilder(kind.length() + 11).append(kind).append('-');
        for (int i = 0; i < 10; i++) {
            sb.append(DIGITS[random.nextInt(DIGITS.length)]);
        }
        return sb.toString();
    }

    /**
     * The kinds of flow another daemon may name: a node's registration, admin command, path
     * attempt and relay session. An id of any other kind from outside (one of this daemon's own,
     * {@code config-}, {@code rpc-}, ...) is not taken: a caller cannot pass itself off as one of
     * them. (Any caller may still name a flow of these kinds, an admin command's too: an id is for
     * finding lines, not proof of who sent them. Admin session ids are random, so one daemon's do
     * not meet another's by chance.)
     */
    private static final java.util.List<String> PEER_KINDS = java.util.List.of("reg-", "admin-", "ice-", "relay-");

    /**
     * Where a thread that has no flow id of its own finds one: the admin shell answers with the
     * command a Gogo pipe thread runs (Gogo runs each command on threads of its own, which know
     * their job only). Asked on every log line of a thread without an id: it must be cheap, and
     * answer null on any thread that is not one of its own. Closing the result removes it (if it is
     * still the one in place).
     */
    public static AutoCloseable ambient(java.util.function.Supplier<String> supplier) {
        if (!(org.slf4j.MDC.getMDCAdapter() instanceof ThreadMdcAdapter adapter)) {
            return () -> { };
        }
        adapter.ambient(supplier);
        return () -> {
            if (adapter.ambient() == supplier) {
                adapter.ambient(null);
            }
        };
    }

    /** Whether {@code id} is one: 1 to 64 of letters, digits and {@code . _ : -}. */
    public static boolean valid(String id) {
        return id != null && VALID.matcher(id).matches();
    }

    /** The id the other side sent when it is one of a kind it may send, else a new one of {@code kind}. */
    public static String accept(String received, String kind) {
        return fromPeer(received) ? received : newId(kind);
    }

    /** Whether another daemon may have sent {@code id}: valid, and of a kind a peer names. */
    public static boolean fromPeer(String id) {
        if (!valid(id)) {
            return false;
        }
        for (String kind : PEER_KINDS) {
            if (id.startsWith(kind)) {
                return true;
            }
        }
        return false;
    }

    /** The id of the flow this thread works for, or null. */
    public static String current() {
        return MDC.get(KEY);
    }

    /** This thread works for {@code id} until the scope closes, when the id it had before comes back. */
    public static Scope open(String id) {
        // The thread's own id, not an ambient one (which would otherwise stay behind as its own).
        String before = MDC.getMDCAdapter() instanceof ThreadMdcAdapter adapter ? adapter.own(KEY) : MDC.get(KEY);
        if (id == null) {
            MDC.remove(KEY);
        } else {
            MDC.put(KEY, id);
        }
        return () -> {
            if (before == null) {
                MDC.remove(KEY);
            } else {
                MDC.put(KEY, before);
            }
        };
    }

    /** {@code task}, run with the id the calling thread has now (for work handed to another thread). */
    public static Runnable carry(Runnable task) {
        String id = current();
        if (id == null) {
            return task;
        }
        return () -> {
            try (Scope scope = open(id)) {
                task.run();
            }
        };
    }

    /** {@code executor}, each task run with the id its submitter had. */
    public static Executor carrying(Executor executor) {
        return task -> executor.execute(carry(task));
    }

    /** A flow's id on this thread; closing gives back the one before. */
    @FunctionalInterface
    public interface Scope extends AutoCloseable {
        @Override
        void close();
    }
}
