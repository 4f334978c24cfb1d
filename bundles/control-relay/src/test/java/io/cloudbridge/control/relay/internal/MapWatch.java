package io.cloudbridge.control.relay.internal;

import io.cloudbridge.control.v1.ControlServiceGrpc;
import io.cloudbridge.control.v1.NetworkMapUpdate;
import io.cloudbridge.control.v1.WatchNetworkMapRequest;
import io.grpc.ManagedChannel;
import io.grpc.stub.StreamObserver;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/** Collects a map stream's updates. */
final class MapWatch implements StreamObserver<NetworkMapUpdate> {
    final BlockingQueue<NetworkMapUpdate> updates = new LinkedBlockingQueue<>();
    final BlockingQueue<Throwable> ended = new LinkedBlockingQueue<>();

    static MapWatch open(ManagedChannel channel, String token) {
        MapWatch w = new MapWatch();
        ControlServiceGrpc.newStub(channel).withCallCredentials(RelayFixture.bearer(token))
                .watchNetworkMap(WatchNetworkMapRequest.getDefaultInstance(), w);
        return w;
    }

    @Override
    public void onNext(NetworkMapUpdate u) {
        updates.add(u);
    }

    @Override
    public void onError(Throwable t) {
        ended.add(t);
    }

    @Override
    public void onCompleted() {
        ended.add(new IllegalStateException("completed"));
    }

    NetworkMapUpdate next() throws InterruptedException {
        NetworkMapUpdate u = updates.poll(5, TimeUnit.SECONDS);
        if (u == null) {
            throw new AssertionError("no map update within 5 s");
        }
        return u;
    }
}
