package io.dense4j.tune;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Which trial to run next, and for how long: the bookkeeping of (asynchronous) successive halving, without any
 * training in it so that it can be tested on its own.
 *
 * <p>Rung k trains a trial to {@code rungs[k]} epochs. A trial that finishes rung k reports its score there.
 * <ul>
 *   <li>ASHA (Li et al., 2018): whenever a slot is free, the best not-yet-promoted trial of the highest rung in
 *       the top {@code floor(n_k / eta)} of the n_k results of its rung goes on to rung k+1; failing that a new
 *       trial starts at rung 0; failing that the caller waits for a running trial.</li>
 *   <li>Synchronous successive halving: all {@code maxTrials} trials run rung 0; once a rung is complete its best
 *       {@code max(1, floor(n_k / eta))} go on to the next.</li>
 *   <li>One rung: every trial runs to the end (no early stopping).</li>
 * </ul>
 * Not thread-safe: the tuner calls it from one thread.
 */
public final class SuccessiveHalving {
    /** What to do next. */
    public sealed interface Decision {}

    /** Start trial {@code trial} (new) and train it to rung 0. */
    public record Start(int trial, int epochs) implements Decision {}

    /** Continue {@code trial} from its current epochs to rung {@code rung}. */
    public record Promote(int trial, int rung, int epochs) implements Decision {}

    /** Nothing to start until a running trial reports. */
    public record Wait() implements Decision {}

    /** The search is over. */
    public record Done() implements Decision {}

    private final int[] rungs;
    private final int eta;
    private final boolean asynchronous;
    private final int maxTrials;
    private final boolean maximize;

    /** rung -> (trial -> score), in report order. */
    private final List<Map<Integer, Double>> results = new ArrayList<>();
    /** rung -> trials promoted out of it. */
    private final List<Set<Integer>> promoted = new ArrayList<>();
    /** rung -> trials that entered it (started or promoted into it). */
    private final List<Set<Integer>> entered = new ArrayList<>();
    /** running trial -> the rung it is training to. */
    private final Map<Integer, Integer> running = new HashMap<>();
    private final Set<Integer> failed = new HashSet<>();
    private int started;
    private boolean noMoreTrials;
    /** Decisions of a resumed search to hand out first: the trials that were running when it was interrupted. */
    private final java.util.ArrayDeque<Decision> redo = new java.util.ArrayDeque<>();

    public SuccessiveHalving(int[] rungs, int eta, boolean asynchronous, int maxTrials, boolean maximize) {
        if (rungs.length == 0) {
            throw new IllegalArgumentException("at least one rung");
        }
        for (int i = 0; i < rungs.length; i++) {
            if (rungs[i] < 1 || i > 0 && rungs[i] <= rungs[i - 1]) {
                throw new IllegalArgumentException("rung epochs must be positive and increasing");
            }
        }
        this.rungs = rungs.clone();
        this.eta = eta;
        this.asynchronous = asynchronous;
        this.maxTrials = maxTrials;
        this.maximize = maximize;
        for (int i = 0; i < rungs.length; i++) {
            results.add(new LinkedHashMap<>());
            promoted.add(new HashSet<>());
            entered.add(new HashSet<>());
        }
    }

    /** Every trial runs once to {@code epochs}. */
    public static SuccessiveHalving none(int epochs, int maxTrials, boolean maximize) {
        return new SuccessiveHalving(new int[] {epochs}, 2, true, maxTrials, maximize);
    }

    public int[] rungs() {
        return rungs.clone();
    }

    /** The sampler has run out of new trials (a finite grid): no further Start. */
    public void noMoreTrials() {
        noMoreTrials = true;
    }

    /** Stops starting new trials (cancellation): only running ones finish. */
    public void stopStarting() {
        noMoreTrials = true;
    }

    public Decision next() {
        if (!redo.isEmpty()) {
            return redo.poll();
        }
        Decision promote = asynchronous ? nextAsyncPromotion() : nextSyncPromotion();
        if (promote != null) {
            return promote;
        }
        if (started < maxTrials && !noMoreTrials) {
            int t = started++;
            running.put(t, 0);
            entered.get(0).add(t);
            return new Start(t, rungs[0]);
        }
        return running.isEmpty() ? new Done() : new Wait();
    }

    /**
     * Re-enters a trial of an interrupted search with the same settings (a resumed search), in trial order from 0:
     * its score at each rung it reported (NaN: it reported no score there), and what it was doing when the search
     * stopped. A trial that was running (to rung {@code scores.length}) is handed out again by the next
     * {@link #next()} calls, before anything else; a paused one may still be promoted; a failed or stopped one never is.
     * The decisions that follow are those the uninterrupted search would have made from the same results.
     *
     * @throws IllegalArgumentException trials out of order, more rungs than this search has, a running trial at
     *     its last rung, more trials than the search starts
     */
    public void restore(int trial, double[] scores, Restored state) {
        if (trial != started || trial >= maxTrials) {
            throw new IllegalArgumentException("trial " + trial + " restored out of order (next: " + started + " of "
                    + maxTrials + ")");
        }
        int reached = scores.length;
        if (reached > rungs.length || state == Restored.RUNNING && reached == rungs.length) {
            throw new IllegalArgumentException("trial " + trial + " reported at " + reached + " rungs; this search has "
                    + rungs.length);
        }
        started++;
        for (int k = 0; k < reached; k++) {
            entered.get(k).add(trial);
            if (k > 0) {
                promoted.get(k - 1).add(trial);
            }
            if (Double.isNaN(scores[k])) {
                failed.add(trial);
            } else {
                results.get(k).put(trial, scores[k]);
            }
        }
        switch (state) {
            case RUNNING -> {
                // interrupted on its way to rung `reached`: it runs there again
                if (reached > 0) {
                    promoted.get(reached - 1).add(trial);
                }
                entered.get(reached).add(trial);
                running.put(trial, reached);
                redo.add(reached == 0 ? new Start(trial, rungs[0]) : new Promote(trial, reached, rungs[reached]));
            }
            case FAILED -> {
                failed.add(trial);
                if (reached > 0 && reached < rungs.length) {
                    // it failed on its way further: it was promoted, and is not promoted again
                    promoted.get(reached - 1).add(trial);
                    entered.get(reached).add(trial);
                }
            }
            case DONE -> {
                if (reached < rungs.length) {
                    // stopped (passed over, or left unpromoted when its search ended): it is not promoted later
                    promoted.get(Math.max(reached - 1, 0)).add(trial);
                }
            }
            case PAUSED -> {
                if (reached == 0) {
                    throw new IllegalArgumentException("trial " + trial + " is paused without a rung result");
                }
            }
        }
    }

    /** What a restored trial was doing when its search stopped. */
    public enum Restored { RUNNING, PAUSED, DONE, FAILED }

    /** Trial {@code trial} finished its rung with {@code score}. */
    public void report(int trial, double score) {
        Integer rung = running.remove(trial);
        if (rung == null) {
            throw new IllegalStateException("trial " + trial + " is not running");
        }
        if (Double.isNaN(score)) {
            failed.add(trial);
            return;
        }
        results.get(rung).put(trial, score);
    }

    /** Trial {@code trial} failed (an error, a NaN loss): it is never promoted. */
    public void fail(int trial) {
        running.remove(trial);
        failed.add(trial);
    }

    /** A trial that was told to Start but never ran (its slot was not used): its number is reused. */
    public boolean isRunning(int trial) {
        return running.containsKey(trial);
    }

    /** The rung a trial last reported at, or -1. */
    public int lastRung(int trial) {
        for (int k = rungs.length - 1; k >= 0; k--) {
            if (results.get(k).containsKey(trial)) {
                return k;
            }
        }
        return -1;
    }

    /** Whether a reported trial could still be promoted later (so its model must be kept). */
    public boolean mayBePromoted(int trial) {
        int k = lastRung(trial);
        if (k < 0 || k == rungs.length - 1 || promoted.get(k).contains(trial)) {
            return false;
        }
        if (!asynchronous && syncClosed.contains(k)) {
            return syncPending.get(k).contains(trial); // chosen, waiting for a free slot
        }
        return true;
    }

    /** Best trial: the highest rung reached, then the best score there; -1 when nothing reported. */
    public int best() {
        for (int k = rungs.length - 1; k >= 0; k--) {
            Map<Integer, Double> r = results.get(k);
            if (!r.isEmpty()) {
                return ranked(r).get(0);
            }
        }
        return -1;
    }

    private Decision nextAsyncPromotion() {
        for (int k = rungs.length - 2; k >= 0; k--) {
            Map<Integer, Double> r = results.get(k);
            int quota = r.size() / eta;
            List<Integer> order = ranked(r);
            for (int i = 0; i < quota; i++) {
                int t = order.get(i);
                if (!promoted.get(k).contains(t)) {
                    return promote(t, k);
                }
            }
        }
        return null;
    }

    private final Set<Integer> syncClosed = new HashSet<>();
    private final List<List<Integer>> syncPending = new ArrayList<>();

    private Decision nextSyncPromotion() {
        for (int k = 0; k < rungs.length - 1; k++) {
            if (!syncClosed.contains(k)) {
                if (!rungComplete(k)) {
                    return null;
                }
                List<Integer> order = ranked(results.get(k));
                int quota = Math.max(1, order.size() / eta);
                List<Integer> chosen = new ArrayList<>(order.subList(0, Math.min(quota, order.size())));
                chosen.removeAll(promoted.get(k)); // a resumed search: those promoted before the interruption
                syncPending.add(chosen);
                syncClosed.add(k);
            }
            List<Integer> pending = syncPending.get(k);
            if (!pending.isEmpty()) {
                return promote(pending.remove(0), k);
            }
        }
        return null;
    }

    /** Rung k will get no more entrants and every entrant has reported or failed. */
    private boolean rungComplete(int k) {
        boolean noMoreEntrants = k == 0 ? (started >= maxTrials || noMoreTrials) : syncClosed.contains(k - 1)
                && syncPending.get(k - 1).isEmpty();
        if (!noMoreEntrants) {
            return false;
        }
        for (int t : entered.get(k)) {
            if (running.containsKey(t)) {
                return false;
            }
        }
        return true;
    }

    private Promote promote(int trial, int fromRung) {
        promoted.get(fromRung).add(trial);
        running.put(trial, fromRung + 1);
        entered.get(fromRung + 1).add(trial);
        return new Promote(trial, fromRung + 1, rungs[fromRung + 1]);
    }

    /** Trials of a rung, best first (ties: the earlier trial). */
    private List<Integer> ranked(Map<Integer, Double> r) {
        List<Integer> order = new ArrayList<>(r.keySet());
        Comparator<Integer> byScore = Comparator.comparingDouble(r::get);
        if (maximize) {
            byScore = byScore.reversed();
        }
        order.sort(byScore.thenComparingInt(t -> t));
        return order;
    }
}
