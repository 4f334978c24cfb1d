package io.cloudbridge.control.relay.internal;

import io.cloudbridge.boot.log.Correlation;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;

/**
 * Each control call runs under the flow id its node sent ({@code cloudbridge-correlation-id}
 * metadata), or a new {@code rpc-} one: every log line the call makes here, its refusal too, has
 * it. The outermost interceptor, so that authentication's lines have it as well. gRPC runs a call's
 * callbacks on the pool's threads one after another, so the id is set around each of them.
 */
final class CallCorrelation implements ServerInterceptor {
    static final Metadata.Key<String> KEY = Metadata.Key.of(Correlation.HEADER, Metadata.ASCII_STRING_MARSHALLER);

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
        String id = Correlation.accept(headers.get(KEY), "rpc");
        ServerCall.Listener<Q> delegate;
        try (Correlation.Scope flow = Correlation.open(id)) {
            delegate = next.startCall(call, headers);
        }
        return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(delegate) {
            @Override
            public void onMessage(Q message) {
                try (Correlation.Scope flow = Correlation.open(id)) {
                    super.onMessage(message);
                }
            }

            @Override
            public void onHalfClose() {
                try (Correlation.Scope flow = Correlation.open(id)) {
                    super.onHalfClose();
                }
            }

            @Override
            public void onCancel() {
                try (Correlation.Scope flow = Correlation.open(id)) {
                    super.onCancel();
                }
            }

            @Override
            public void onComplete() {
                try (Correlation.Scope flow = Correlation.open(id)) {
                    super.onComplete();
                }
            }

            @Override
            public void onReady() {
                try (Correlation.Scope flow = Correlation.open(id)) {
                    super.onReady();
                }
            }
        };
    }
}
