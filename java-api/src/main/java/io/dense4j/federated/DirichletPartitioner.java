package io.dense4j.federated;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Non-IID partitions for simulations, per label (Yurochkin et al. 2019; the NIID-Bench generator): for each class c,
 * draw proportions p_c ~ Dirichlet_N(α) and give client j the fraction p_{c,j} of class c's (shuffled) rows. Small
 * α gives clients few classes each (α = 0.5 is NIID-Bench's default; α → ∞ tends to IID). The whole draw is
 * repeated until every client has at least {@code minPartitionSize} rows.
 */
public final class DirichletPartitioner {
    private static final int MAX_DRAWS = 10_000;

    private DirichletPartitioner() {}

    /** Row indices of each client's partition (every row goes to exactly one client). */
    public static int[][] partition(int[] labels, int clients, double alpha, int minPartitionSize, long seed) {
        if (clients < 1) {
            throw new IllegalArgumentException("clients must be >= 1, got " + clients);
        }
        if (!(alpha > 0) || Double.isInfinite(alpha)) {
            throw new IllegalArgumentException("alpha must be finite and > 0, got " + alpha);
        }
        if ((long) minPartitionSize * clients > labels.length) {
            throw new IllegalArgumentException(clients + " partitions of at least " + minPartitionSize + " rows need more than "
                    + labels.length + " rows");
        }
        int classes = 0;
        for (int l : labels) {
            if (l < 0) {
                throw new IllegalArgumentException("labels must be >= 0, got " + l);
            }
            classes = Math.max(classes, l + 1);
        }
        List<List<Integer>> byClass = new ArrayList<>();
        for (int c = 0; c < classes; c++) {
            byClass.add(new ArrayList<>());
        }
        for (int i = 0; i < labels.length; i++) {
            byClass.get(labels[i]).add(i);
        }
        SplittableRandom rng = new SplittableRandom(seed);
        for (int draw = 0; draw < MAX_DRAWS; draw++) {
            List<List<Integer>> parts = new ArrayList<>();
            for (int j = 0; j < clients; j++) {
                parts.add(new ArrayList<>());
            }
            for (List<Integer> rows : byClass) {
                List<Integer> shuffled = new ArrayList<>(rows);
                for (int i = shuffled.size() - 1; i > 0; i--) {
                    int k = rng.nextInt(i + 1);
                    Integer t = shuffled.get(i);
                    shuffled.set(i, shuffled.get(k));
                    shuffled.set(k, t);
                }
                double[] p = dirichlet(clients, alpha, rng);
                int start = 0;
                double cumulative = 0;
                for (int j = 0; j < clients; j++) {
                    cumulative += p[j];
                    int end = j == clients - 1 ? shuffled.size() : (int) Math.round(cumulative * shuffled.size());
                    end = Math.max(start, Math.min(end, shuffled.size()));
                    parts.get(j).addAll(shuffled.subList(start, end));
                    start = end;
                }
            }
            boolean ok = parts.stream().allMatch(l -> l.size() >= minPartitionSize);
            if (ok) {
                int[][] out = new int[clients][];
                for (int j = 0; j < clients; j++) {
                    out[j] = parts.get(j).stream().mapToInt(Integer::intValue).sorted().toArray();
                }
                return out;
            }
        }
        throw new IllegalArgumentException("no Dirichlet(" + alpha + ") draw in " + MAX_DRAWS + " gave every one of "
                + clients + " clients " + minPartitionSize + " rows; lower the minimum or raise alpha");
    }

    /** A draw from the symmetric Dirichlet(α, ..., α): normalized Gamma(α, 1) draws. */
    static double[] dirichlet(int k, double alpha, SplittableRandom rng) {
        double[] g = new double[k];
        double sum = 0;
        for (int i = 0; i < k; i++) {
            g[i] = gamma(alpha, rng);
            sum += g[i];
        }
        if (sum == 0) { // every draw underflowed (tiny α): one client takes all
            g[rng.nextInt(k)] = 1;
            sum = 1;
        }
        for (int i = 0; i < k; i++) {
            g[i] /= sum;
        }
        return g;
    }

    /** Gamma(shape, 1) by Marsaglia and Tsang (2000); shape &lt; 1 through Gamma(shape + 1)·U^(1/shape). */
    static double gamma(double shape, SplittableRandom rng) {
        if (shape < 1) {
            double u = rng.nextDouble();
            return gamma(shape + 1, rng) * Math.pow(u, 1 / shape);
        }
        double d = shape - 1.0 / 3;
        double c = 1 / Math.sqrt(9 * d);
        while (true) {
            double x = rng.nextGaussian();
            double v = 1 + c * x;
            if (v <= 0) {
                continue;
            }
            v = v * v * v;
            double u = rng.nextDouble();
            if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) {
                return d * v;
            }
        }
    }
}
