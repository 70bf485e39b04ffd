package io.dense4j.spark;

import java.io.Serializable;
import java.util.SplittableRandom;

/**
 * Who trains on what in each round of a data-parallel fit: a pure function of the fit's settings and the shard
 * sizes, computed the same way by the driver and by every task (and every retried task).
 *
 * <ul>
 *   <li>An epoch is every training row once, across the workers: worker p's epoch is its own {@code m_p} training
 *       rows, shuffled by a permutation drawn from (seed, epoch, p) and cut into {@code s_p = ceil(m_p / batch)}
 *       local steps (the last batch partial), at most {@code stepsPerEpoch} of them when that is set.</li>
 *   <li>An epoch has {@code R = ceil(max_p s_p / H)} rounds; in round r every worker runs its local steps
 *       {@code [rH, min((r+1)H, s_p))}: H steps, fewer in the epoch's last round (rounds never straddle an epoch,
 *       so every epoch ends with an average, its validation and its callbacks), none for a worker whose epoch is
 *       already over (workers differ by at most one step).</li>
 *   <li>The optimizer step after a round is the step before it plus the round's longest run of local steps.</li>
 * </ul>
 */
final class Schedule implements Serializable {
    private static final long serialVersionUID = 1L;

    final int workers;
    final int batch;
    final int h;
    final int stepCap;
    final boolean shuffle;
    final long seed;
    /** Training rows of each worker. */
    final int[] trainRows;

    Schedule(int batch, int h, int stepCap, boolean shuffle, long seed, int[] trainRows) {
        this.workers = trainRows.length;
        this.batch = batch;
        this.h = h;
        this.stepCap = stepCap;
        this.shuffle = shuffle;
        this.seed = seed;
        this.trainRows = trainRows.clone();
    }

    /** Local steps of worker p per epoch. */
    int stepsPerEpoch(int p) {
        int s = (trainRows[p] + batch - 1) / batch;
        return stepCap > 0 ? Math.min(stepCap, s) : s;
    }

    /** The longest epoch of any worker, in local steps: what progress is reported in. */
    int stepsPerEpoch() {
        int s = 0;
        for (int p = 0; p < workers; p++) {
            s = Math.max(s, stepsPerEpoch(p));
        }
        return s;
    }

    int roundsPerEpoch() {
        return (stepsPerEpoch() + h - 1) / h;
    }

    /** Worker p's first local step in round r. */
    int firstStep(int p, int r) {
        return Math.min(r * h, stepsPerEpoch(p));
    }

    /** Worker p's local steps in round r (0 once its epoch is over). */
    int steps(int p, int r) {
        return Math.min((r + 1) * h, stepsPerEpoch(p)) - firstStep(p, r);
    }

    /** The most local steps any worker runs in round r: how far the optimizer step advances. */
    int steps(int r) {
        int s = 0;
        for (int p = 0; p < workers; p++) {
            s = Math.max(s, steps(p, r));
        }
        return s;
    }

    /** Worker p's rows in round r: positions [rowFrom, rowTo) of its epoch order. */
    int rowFrom(int p, int r) {
        return Math.min(firstStep(p, r) * batch, trainRows[p]);
    }

    int rowTo(int p, int r) {
        return Math.min((firstStep(p, r) + steps(p, r)) * batch, trainRows[p]);
    }

    /** Rows trained on in round r by every worker together: the averaging weights' denominator. */
    long rows(int r) {
        long n = 0;
        for (int p = 0; p < workers; p++) {
            n += rowTo(p, r) - rowFrom(p, r);
        }
        return n;
    }

    /** Worker p's epoch order: a permutation of its training rows, drawn from (seed, epoch, p) unless unshuffled. */
    int[] order(int p, int epoch) {
        int[] o = new int[trainRows[p]];
        for (int i = 0; i < o.length; i++) {
            o[i] = i;
        }
        if (shuffle) {
            SplittableRandom rng = new SplittableRandom(Seeds.mix(seed, 1, epoch, p));
            for (int i = o.length - 1; i > 0; i--) {
                int j = rng.nextInt(i + 1);
                int t = o[i];
                o[i] = o[j];
                o[j] = t;
            }
        }
        return o;
    }

    /** The dropout seed of worker p in round r of an epoch. */
    long dropoutSeed(int p, int epoch, int r) {
        return Seeds.mix(seed, 2, epoch, r, p);
    }
}
