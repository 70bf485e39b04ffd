package io.dense4j.tune;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The halving bookkeeping alone: promotions, rung sizes and the end of the search, under random completions. */
class SuccessiveHalvingTest {

    @Test
    void rungsAreGeometricAndEndAtTheMaximum() {
        assertEquals(List.of(1, 3, 9), box(new TuneSpec.Halving(true, 1, 9, 3).rungs()));
        assertEquals(List.of(1, 3, 9, 10), box(new TuneSpec.Halving(true, 1, 10, 3).rungs()));
        assertEquals(List.of(2, 4, 5), box(new TuneSpec.Halving(true, 2, 5, 2).rungs()));
        assertEquals(List.of(4), box(new TuneSpec.Halving(true, 4, 4, 3).rungs()));
    }

    @Test
    void synchronousHalvingKeepsTheBestThirdOfEachCompleteRung() {
        // 9 trials whose score is their number: rung 0 keeps 6,7,8 (maximize), rung 1 keeps 8
        SuccessiveHalving sh = new SuccessiveHalving(new int[] {1, 3, 9}, 3, false, 9, true);
        List<Object> log = new ArrayList<>();
        run(sh, log, new SplittableRandom(1), 3, t -> (double) t);
        assertEquals(8, sh.best());
        long promotedTo1 = log.stream().filter(o -> o instanceof SuccessiveHalving.Promote p && p.rung() == 1).count();
        long promotedTo2 = log.stream().filter(o -> o instanceof SuccessiveHalving.Promote p && p.rung() == 2).count();
        assertEquals(3, promotedTo1);
        assertEquals(1, promotedTo2);
        assertTrue(log.stream().filter(o -> o instanceof SuccessiveHalving.Promote p && p.rung() == 1)
                .allMatch(o -> ((SuccessiveHalving.Promote) o).trial() >= 6));
    }

    @Test
    void chosenTrialsWaitingForASlotMayStillBePromoted() {
        // one slot: after rung 0 closes, trials 2 and 3 are chosen but wait; their models must be kept
        SuccessiveHalving sh = new SuccessiveHalving(new int[] {1, 2}, 2, false, 4, true);
        for (int t = 0; t < 4; t++) {
            assertInstanceOf(SuccessiveHalving.Start.class, sh.next());
            sh.report(t, t);
        }
        SuccessiveHalving.Promote first = assertInstanceOf(SuccessiveHalving.Promote.class, sh.next());
        assertEquals(3, first.trial());
        assertTrue(sh.mayBePromoted(2));
        assertTrue(!sh.mayBePromoted(1) && !sh.mayBePromoted(0));
        sh.report(3, 5);
        assertEquals(2, ((SuccessiveHalving.Promote) sh.next()).trial());
    }

    @Test
    void minimizingPromotesTheLowestScores() {
        SuccessiveHalving sh = new SuccessiveHalving(new int[] {1, 2}, 2, false, 4, false);
        run(sh, new ArrayList<>(), new SplittableRandom(2), 1, t -> (double) t);
        assertEquals(0, sh.best());
    }

    /**
     * ASHA under random completion order and random scores, with 1..4 workers: a promotion out of rung k only ever
     * takes a trial in the top floor(n_k / eta) of the results of rung k at that moment; no trial is promoted twice
     * from a rung; the number promoted never exceeds floor(n_k / eta); every trial is started once; the search ends.
     */
    @Test
    void ashaPromotesOnlyFromTheTopOfARungUnderRandomOrders() {
        for (int seed = 0; seed < 200; seed++) {
            SplittableRandom rng = new SplittableRandom(seed);
            int maxTrials = 1 + rng.nextInt(40);
            int eta = 2 + rng.nextInt(3);
            boolean maximize = rng.nextBoolean();
            SuccessiveHalving sh = new SuccessiveHalving(new int[] {1, 3, 9, 27}, eta, true, maxTrials, maximize);
            Map<Integer, Double> score = new HashMap<>();
            List<Map<Integer, Double>> rungResults = new ArrayList<>();
            for (int k = 0; k < 4; k++) {
                rungResults.add(new HashMap<>());
            }
            Map<Integer, Integer> running = new HashMap<>();
            int workers = 1 + rng.nextInt(4);
            int starts = 0;
            List<java.util.Set<Integer>> promoted = new ArrayList<>();
            for (int k = 0; k < 4; k++) {
                promoted.add(new java.util.HashSet<>());
            }
            for (int guard = 0; guard < 100_000; guard++) {
                SuccessiveHalving.Decision d = running.size() < workers ? sh.next() : new SuccessiveHalving.Wait();
                if (d instanceof SuccessiveHalving.Start s) {
                    starts++;
                    score.put(s.trial(), rng.nextDouble());
                    running.put(s.trial(), 0);
                } else if (d instanceof SuccessiveHalving.Promote p) {
                    int from = p.rung() - 1;
                    Map<Integer, Double> r = rungResults.get(from);
                    long better = r.values().stream().filter(v -> maximize ? v > r.get(p.trial()) : v < r.get(p.trial()))
                            .count();
                    assertTrue(better < r.size() / eta, "seed " + seed + ": trial " + p.trial() + " ranks " + better
                            + " of " + r.size() + " at rung " + from);
                    assertTrue(promoted.get(from).add(p.trial()), "promoted twice from rung " + from);
                    running.put(p.trial(), p.rung());
                } else if (d instanceof SuccessiveHalving.Wait) {
                    assertTrue(!running.isEmpty(), "waits with nothing running");
                    List<Integer> ids = new ArrayList<>(running.keySet());
                    int t = ids.get(rng.nextInt(ids.size()));
                    int rung = running.remove(t);
                    if (rng.nextInt(20) == 0) {
                        sh.fail(t);
                    } else {
                        double v = score.get(t) + 0.01 * rung * (rng.nextDouble() - 0.5);
                        rungResults.get(rung).put(t, v);
                        sh.report(t, v);
                    }
                } else {
                    assertInstanceOf(SuccessiveHalving.Done.class, d);
                    break;
                }
            }
            assertEquals(maxTrials, starts, "seed " + seed);
            assertTrue(running.isEmpty());
            // at the end nothing promotable is left behind: the final top floor(n_k / eta) of each rung went on
            for (int k = 0; k < 3; k++) {
                Map<Integer, Double> r = rungResults.get(k);
                List<Integer> order = new ArrayList<>(r.keySet());
                order.sort((a, b) -> maximize ? Double.compare(r.get(b), r.get(a)) : Double.compare(r.get(a), r.get(b)));
                for (int i = 0; i < r.size() / eta; i++) {
                    assertTrue(promoted.get(k).contains(order.get(i)), "seed " + seed + ": rung " + k + " rank " + i);
                }
            }
        }
    }

    private interface Score {
        double of(int trial);
    }

    /** Drives the state machine with up to {@code workers} trials at once, finishing a random running one. */
    private static void run(SuccessiveHalving sh, List<Object> log, SplittableRandom rng, int workers, Score score) {
        List<Integer> running = new ArrayList<>();
        while (true) {
            SuccessiveHalving.Decision d = running.size() < workers ? sh.next() : new SuccessiveHalving.Wait();
            log.add(d);
            if (d instanceof SuccessiveHalving.Start s) {
                running.add(s.trial());
            } else if (d instanceof SuccessiveHalving.Promote p) {
                running.add(p.trial());
            } else if (d instanceof SuccessiveHalving.Wait) {
                int t = running.remove(rng.nextInt(running.size()));
                sh.report(t, score.of(t));
            } else {
                return;
            }
        }
    }

    private static List<Integer> box(int[] a) {
        List<Integer> l = new ArrayList<>();
        for (int v : a) {
            l.add(v);
        }
        return l;
    }
}
