package io.dense4j.service;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Jobs wait (bounded) while inference requests are in flight; the bounds are generous: this is not a timing test. */
class InferenceActivityTest {
    private static long ms(long nanos) {
        return TimeUnit.NANOSECONDS.toMillis(nanos);
    }

    @Test
    void noRequestInFlightMeansNoWait() {
        InferenceActivity a = new InferenceActivity();
        assertEquals(0, a.inFlight());
        assertTrue(ms(a.awaitQuiet(Duration.ofSeconds(5))) < 1000);
    }

    @Test
    void aRequestInFlightHoldsTheJobAtMostTheLimitAndZeroNeverWaits() {
        InferenceActivity a = new InferenceActivity();
        a.begin();
        a.begin();
        a.end();
        assertEquals(1, a.inFlight());
        long waited = ms(a.awaitQuiet(Duration.ofMillis(300)));
        assertTrue(waited >= 300 && waited < 5000, "waited " + waited + " ms");
        assertTrue(ms(a.awaitQuiet(Duration.ZERO)) < 1000, "zero: never waits");
    }

    @Test
    void theWaitEndsWhenTheLastRequestEnds() throws Exception {
        InferenceActivity a = new InferenceActivity();
        a.begin();
        CountDownLatch waiting = new CountDownLatch(1);
        long[] waited = new long[1];
        Thread job = new Thread(() -> {
            waiting.countDown();
            waited[0] = ms(a.awaitQuiet(Duration.ofSeconds(60)));
        });
        job.start();
        waiting.await();
        Thread.sleep(200);
        a.end();
        job.join(30_000);
        assertTrue(!job.isAlive() && waited[0] >= 150 && waited[0] < 30_000, "waited " + waited[0] + " ms");
    }
}
