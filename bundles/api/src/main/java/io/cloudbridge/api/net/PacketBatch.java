package io.cloudbridge.api.net;

/**
 * A reusable set of packet slots: one array per packet, each packet at offset 0 of its slot. A
 * data-path thread owns one and refills it for every batch (what a TUN device read, what a socket
 * received), so the steady state allocates nothing; a slot grows only when a packet is larger than
 * any it held before.
 */
public final class PacketBatch {
    private final byte[][] slots;
    private final int[] lengths;
    private int count;

    public PacketBatch(int capacity, int slotSize) {
        slots = new byte[capacity][];
        lengths = new int[capacity];
        for (int i = 0; i < capacity; i++) {
            slots[i] = new byte[slotSize];
        }
    }

    public int capacity() {
        return slots.length;
    }

    public int count() {
        return count;
    }

    public boolean isFull() {
        return count == slots.length;
    }

    public void clear() {
        count = 0;
    }

    public byte[] slot(int i) {
        return slots[i];
    }

    public int length(int i) {
        return lengths[i];
    }

    /** The next free slot, at least {@code size} bytes long; {@link #commit} makes it part of the batch. */
    public byte[] next(int size) {
        byte[] slot = slots[count];
        if (slot.length < size) {
            slot = new byte[Math.max(size, slot.length * 2)];
            slots[count] = slot;
        }
        return slot;
    }

    /** Takes the slot {@link #next} returned as the batch's next packet, {@code length} bytes long. */
    public void commit(int length) {
        lengths[count++] = length;
    }

    /** Copies a packet into the next slot. */
    public void add(byte[] packet, int offset, int length) {
        System.arraycopy(packet, offset, next(length), 0, length);
        commit(length);
    }
}
