package io.cloudbridge.relay.internal;

import java.util.Arrays;

/**
 * Max-min fair division of a capacity by demand (water filling): a party that wants less than an
 * equal share gets what it wants, and what it leaves is divided among the others the same way.
 * Demands are what each party tried to send over the last interval, so the limits are for the
 * next one, and each limit is then raised so that a party that sent little is not held to that:
 * when nothing is left over, a party may still grow to an equal share (capacity / active
 * parties), which is the fair share it is owed; when some is left over, every party may also
 * grow by all of it, so that an idle relay throttles nobody. The sum of the limits can exceed
 * the capacity for an interval, while light parties grow; the next division corrects it.
 */
final class MaxMinShare {
    private MaxMinShare() {
    }

    /**
     * Divides {@code capacity} among the first {@code count} parties.
     *
     * @param demand each party's demand as a rate; 0 for a party that sent nothing (not active)
     * @param capacity what is divided, as a rate; {@link Double#POSITIVE_INFINITY} for no limit
     * @param limits receives each party's limit for the next interval
     * @return the limit for a party that was not there (or sent nothing): what is left over, and
     *         at least an equal share were it active
     */
    static double divide(double[] demand, int count, double capacity, double[] limits) {
        if (Double.isInfinite(capacity)) {
            Arrays.fill(limits, 0, count, Double.POSITIVE_INFINITY);
            return Double.POSITIVE_INFINITY;
        }
        double[] sorted = Arrays.copyOf(demand, count);
        Arrays.sort(sorted);
        int active = 0;
        double remaining = capacity;
        double level = Double.POSITIVE_INFINITY;
        for (int k = 0; k < count; k++) {
            if (sorted[k] > 0) {
                active++;
            }
            double equal = remaining / (count - k);
            if (level == Double.POSITIVE_INFINITY) {
                if (sorted[k] <= equal) {
                    remaining -= sorted[k];
                } else {
                    level = equal; // every party from here on wants more: each gets this much
                }
            }
        }
        double leftover = level == Double.POSITIVE_INFINITY ? remaining : 0;
        double owed = active == 0 ? capacity : capacity / active;
        for (int i = 0; i < count; i++) {
            limits[i] = demand[i] > 0 ? Math.max(Math.min(demand[i], level) + leftover, owed) : 0;
        }
        double newcomer = Math.max(leftover, capacity / (active + 1));
        for (int i = 0; i < count; i++) {
            if (demand[i] <= 0) {
                limits[i] = newcomer;
            }
        }
        return newcomer;
    }
}
