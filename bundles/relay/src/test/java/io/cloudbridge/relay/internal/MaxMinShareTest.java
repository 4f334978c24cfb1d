package io.cloudbridge.relay.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class MaxMinShareTest {

    private static double[] divide(double capacity, double... demand) {
        double[] limits = new double[demand.length];
        MaxMinShare.divide(demand, demand.length, capacity, limits);
        return limits;
    }

    @Test
    void aLightPartyKeepsAnEqualShareAndTheHeavyOneGetsWhatItLeaves() {
        // 1,000 among a flood and a trickle: the flood gets the 900 the trickle leaves; the
        // trickle may grow to its equal 500 before the next division.
        assertArrayEquals(new double[] {900, 500}, divide(1_000, 5_000, 100));
    }

    @Test
    void heavyPartiesShareEquallyWhatTheLightOnesLeave() {
        assertArrayEquals(new double[] {450, 450, 333.3333333333333}, divide(1_000, 5_000, 2_000, 100), 1e-9);
    }

    @Test
    void whatIsLeftOverMayBeTakenByAnyone() {
        // 300 of 1,000 wanted: each may grow by the 700 left, so an idle relay throttles nobody.
        assertArrayEquals(new double[] {900, 800}, divide(1_000, 200, 100));
    }

    @Test
    void aPartyThatSentNothingIsOwedAShareAsIfItHadJoined() {
        double[] limits = new double[3];
        double newcomer = MaxMinShare.divide(new double[] {5_000, 5_000, 0}, 3, 900, limits);
        assertArrayEquals(new double[] {450, 450, 300}, limits, 1e-9);
        assertEquals(300, newcomer, 1e-9, "one more among the two that send");
        assertEquals(900, MaxMinShare.divide(new double[] {0, 0}, 2, 900, limits), "nobody sends: all of it");
    }

    @Test
    void noCapacityIsNoLimit() {
        assertArrayEquals(new double[] {Double.POSITIVE_INFINITY, Double.POSITIVE_INFINITY},
                divide(Double.POSITIVE_INFINITY, 5, 0));
    }
}
