package io.cloudbridge.api.path;

import io.cloudbridge.api.net.PacketBatch;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;

/**
 * A reusable batch of received datagrams: a {@link PacketBatch} of their bytes, with the address
 * each came from. The engine's receive thread owns one and refills it for every batch, so the
 * steady state allocates nothing but the source addresses the socket returns.
 */
public final class DatagramBatch {
    private final PacketBatch datagrams;
    private final InetSocketAddress[] sources;

    public DatagramBatch(int capacity, int slotSize) {
        datagrams = new PacketBatch(capacity, slotSize);
        sources = new InetSocketAddress[capacity];
    }

    public int capacity() {
        return datagrams.capacity();
    }

    public int count() {
        return datagrams.count();
    }

    public boolean isFull() {
        return datagrams.isFull();
    }

    /** Empties the batch (the slots stay, for the next one). */
    public void clear() {
        java.util.Arrays.fill(sources, 0, datagrams.count(), null);
        datagrams.clear();
    }

    public byte[] slot(int i) {
        return datagrams.slot(i);
    }

    public int length(int i) {
        return datagrams.length(i);
    }

    public InetSocketAddress source(int i) {
        return sources[i];
    }

    /** Copies the buffer's remaining bytes into the next slot (grown if need be), as a datagram from {@code from}. */
    public void add(ByteBuffer datagram, InetSocketAddress from) {
        int length = datagram.remaining();
        sources[datagrams.count()] = from;
        datagram.get(datagrams.next(length), 0, length);
        datagrams.commit(length);
    }
}
