package io.cloudbridge.control.relay.internal;

import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.net.SocketAddress;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * What the control plane refuses, counted by kind and logged as security events: the refusals of
 * every role of {@link ControlService} (they all report here, so that relay:status has one table),
 * and the ones gRPC makes itself before any of the relay's code runs. A refused sign-in is counted
 * by its {@link AuthRefusal} too, in a table fixed from the start, which the meters read.
 */
final class ControlRefusals {
    private final Map<String, LongAdder> refusals = new ConcurrentHashMap<>();
    /** Filled here and never changed after: read without a lock. */
    private final Map<AuthRefusal, LongAdder> signIns = new EnumMap<>(AuthRefusal.class);

    ControlRefusals() {
        for (AuthRefusal r : AuthRefusal.values()) {
            signIns.put(r, new LongAdder());
        }
    }

    /** Sign-ins refused for {@code reason} since the relay started. */
    long refused(AuthRefusal reason) {
        return signIns.get(reason).sum();
    }

    /** Refusals by reason, for relay:status and tests. */
    Map<String, Long> counts() {
        Map<String, Long> out = new java.util.TreeMap<>();
        refusals.forEach((k, v) -> out.put(k, v.sum()));
        return out;
    }

    /** @param signIns what the refusal was of, when it was of a sign-in (a refused key rotation is a refused registration too) */
    StatusRuntimeException refuse(Status status, String reason, String remote, AuthRefusal... signIns) {
        count(reason, signIns);
        ControlService.SECURITY.warn("control request refused: {} (from {})", reason, remote);
        return status.withDescription(reason).asRuntimeException();
    }

    /**
     * Counts a refusal by its kind: the reason up to its first ':' (what follows may be the caller's
     * own text, e.g. a token's "alg"), in a table of bounded size, so that no input grows it.
     */
    void count(String reason, AuthRefusal... signIns) {
        for (AuthRefusal signIn : signIns) {
            this.signIns.get(signIn).increment();
        }
        int colon = reason.indexOf(':');
        String kind = colon < 0 ? reason : reason.substring(0, colon);
        if (kind.length() > 64 || refusals.size() >= 128 && !refusals.containsKey(kind)) {
            kind = "other";
        }
        refusals.computeIfAbsent(kind, r -> new LongAdder()).increment();
    }

    /**
     * Watches every call's end for the refusals gRPC makes itself, before any of the relay's code
     * runs: a message over the size limit (a megabyte token in a registration, say) and bytes that
     * do not parse as the method's message. They are counted and logged as security events like
     * the relay's own refusals.
     */
    io.grpc.ServerStreamTracer.Factory refusalWatcher() {
        return new io.grpc.ServerStreamTracer.Factory() {
            @Override
            public io.grpc.ServerStreamTracer newServerStreamTracer(String method, Metadata headers) {
                // The refusal's line under the id the call came with, as the relay's own refusals are
                // (CallCorrelation); checked, and a scope opened, only when there is a refusal to log.
                String sent = headers.get(CallCorrelation.KEY);
                return new io.grpc.ServerStreamTracer() {
                    private volatile String remote = "unknown";

                    @Override
                    public void serverCallStarted(ServerCallInfo<?, ?> call) {
                        SocketAddress a = call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR);
                        remote = a == null ? "unknown" : a.toString();
                    }

                    @Override
                    public void streamClosed(Status status) {
                        String kind = grpcRefusal(status);
                        if (kind != null) {
                            count(kind);
                            String flow = io.cloudbridge.boot.log.Correlation.fromPeer(sent) ? sent : null;
                            try (io.cloudbridge.boot.log.Correlation.Scope call = io.cloudbridge.boot.log.Correlation.open(flow)) {
                                ControlService.SECURITY.warn("control request refused: {} in {} ({}) (from {})", kind, method,
                                        status.getCode(), remote);
                            }
                        }
                    }
                };
            }
        };
    }

    /** The kind of refusal gRPC made itself, or null for any other end of a call (the relay's own refusals are counted where made). */
    static String grpcRefusal(Status status) {
        String description = status.getDescription() == null ? "" : status.getDescription();
        if (status.getCode() == Status.Code.RESOURCE_EXHAUSTED && description.startsWith("gRPC message exceeds maximum size")) {
            return "oversized message";
        }
        for (Throwable t = status.getCause(); t != null; t = t.getCause()) {
            if (t instanceof com.google.protobuf.InvalidProtocolBufferException) {
                return "malformed message";
            }
        }
        if ((status.getCode() == Status.Code.INTERNAL || status.getCode() == Status.Code.UNKNOWN)
                && description.contains("protobuf")) {
            return "malformed message";
        }
        return null;
    }
}
