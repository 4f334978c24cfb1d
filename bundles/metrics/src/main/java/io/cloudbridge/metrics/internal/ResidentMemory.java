package io.cloudbridge.metrics.internal;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The process's resident set size, from {@code /proc/self/statm} where there is one (Linux). The
 * JVM's own memory figures leave out what lies outside its pools (direct buffers count, native
 * libraries, thread stacks, the code cache's fragmentation), which is what an out-of-memory kill
 * goes by.
 */
final class ResidentMemory {
    private static final Path STATM = Path.of("/proc/self/statm");
    /** The kernel's page size: statm counts pages. 4 KiB on every platform the daemon runs on but a few ARM64 kernels. */
    private static final long PAGE_SIZE = pageSize();

    private ResidentMemory() {
    }

    /** Bytes resident now; NaN where the system does not say. */
    static double bytes() {
        try {
            return parse(Files.readString(STATM)) * (double) PAGE_SIZE;
        } catch (IOException | RuntimeException unavailable) {
            return Double.NaN;
        }
    }

    /** The second field of statm: resident pages. */
    static long parse(String statm) {
        String[] fields = statm.trim().split("\\s+");
        if (fields.length < 2) {
            throw new IllegalArgumentException("statm has fewer than two fields: " + statm);
        }
        return Long.parseLong(fields[1]);
    }

    /** From the auxiliary vector (AT_PAGESZ, type 6) the kernel gives every process; 4096 where it cannot be read. */
    private static long pageSize() {
        try {
            java.nio.ByteBuffer auxv = java.nio.ByteBuffer.wrap(Files.readAllBytes(Path.of("/proc/self/auxv")))
                    .order(java.nio.ByteOrder.nativeOrder());
            boolean wide = !"32".equals(System.getProperty("sun.arch.data.model"));
            while (auxv.remaining() >= (wide ? 16 : 8)) {
                long type = wide ? auxv.getLong() : auxv.getInt();
                long value = wide ? auxv.getLong() : auxv.getInt() & 0xffffffffL;
                if (type == 6) {
                    return value;
                }
                if (type == 0) {
                    break;
                }
            }
        } catch (IOException | RuntimeException unreadable) {
            // below
        }
        return 4096;
    }
}
