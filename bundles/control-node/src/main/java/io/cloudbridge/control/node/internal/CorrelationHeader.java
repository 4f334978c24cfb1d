package io.cloudbridge.control.node.internal;

import io.cloudbridge.boot.log.Correlation;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;

/**
 * Every call to the relay carries the flow its caller works for (a registration, an admin command,
 * a path attempt) in its metadata, so that the relay's log lines for it have the same id.
 */
final class CorrelationHeader implements ClientInterceptor {
    static final Metadata.Key<String> KEY = Metadata.Key.of(Correlation.HEADER, Metadata.ASCII_STRING_MARSHALLER);

    @Override
    public <Q, R> ClientCall<Q, R> interceptCall(MethodDescriptor<Q, R> method, CallOptions options, Channel next) {
        String id = Correlation.current();
        ClientCall<Q, R> call = next.newCall(method, options);
        if (!Correlation.valid(id)) {
            return call;
        }
        return new ForwardingClientCall.SimpleForwardingClientCall<>(call) {
            @Override
            public void start(Listener<R> responses, Metadata headers) {
                headers.put(KEY, id);
                super.start(responses, headers);
            }
        };
    }
}
