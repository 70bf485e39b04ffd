package io.dense4j.federated;

import io.dense4j.Sequential;
import io.dense4j.data.Dataset;
import io.dense4j.federated.protocol.TrainingPlan;
import io.dense4j.train.EpochLog;
import io.dense4j.train.Fit;
import io.dense4j.train.History;
import io.dense4j.train.Metric;
import java.util.SplittableRandom;

/**
 * A client's local training in one round: E epochs over its own rows at its batch size, starting from the global
 * weights with a fresh optimizer state (clients keep no state between rounds), returning the update
 * Δ = w_local − w_global.
 *
 * <p><b>FedProx.</b> FedProx minimises F_k(w) + (μ/2)‖w − w_t‖² locally. The engine's training step cannot add a
 * term to the loss, so the proximal term is applied by operator splitting (proximal gradient, forward-backward):
 * the engine takes {@code proxEverySteps} optimizer steps on F_k, then the proximal operator of the quadratic is
 * applied exactly, w ← w_t + (w − w_t) · Π_s 1/(1 + μ·η_s), η_s being the learning rates of those steps (from the
 * optimizer's schedule). With plain SGD and one step per proximal step this is proximal SGD, whose fixed points are
 * exactly those of FedProx's local objective (∇F_k(w) + μ(w − w_t) = 0); per step it differs from a gradient step
 * on the summed loss by O(η²μ‖∇F_k‖). With momentum or Adam the proximal pull is not accumulated in the momentum
 * nor rescaled by Adam's preconditioner (it uses the raw learning rate), and with more than one step between
 * proximal steps the pull lags by up to that many steps. Each chunk of steps is one {@code fit} call over the rows
 * of that chunk (shuffled once per epoch here, without replacement), so per-epoch learning-rate schedules see epoch
 * 0 throughout; per-step schedules continue across chunks.
 */
public final class LocalTrainer {
    /** What one round of local training produced. */
    public record Result(float[] delta, int examples, double loss, long steps, double seconds) {}

    private LocalTrainer() {}

    /**
     * Trains {@code model} (compiled; its optimizer state is reset) on {@code data} from {@code global}. The model
     * keeps the locally trained weights afterwards.
     */
    public static Result train(Sequential model, Dataset data, float[] global, TrainingPlan plan, int batchSize, long seed) {
        if (model.loss() == null) {
            throw new IllegalStateException("compile the model before federated training");
        }
        long t0 = System.nanoTime();
        model.compile(model.optimizer(), model.loss(), model.metrics().toArray(new Metric[0])); // fresh optimizer state
        model.setParameters(global);
        int n = data.size();
        int batch = Math.min(batchSize, n);
        double lossSum = 0;
        double rows = 0;
        long step0 = model.optimizerStep();
        if (plan.proxMu() == 0) {
            History h = model.fit(data, Fit.epochs(plan.epochs()).batchSize(batch).seed(seed));
            for (EpochLog e : h.epochs()) {
                lossSum += e.loss() * n;
                rows += n;
            }
        } else {
            SplittableRandom rng = new SplittableRandom(seed);
            int stepsPerEpoch = (n + batch - 1) / batch;
            int every = plan.proxEverySteps();
            int[] order = new int[n];
            for (int epoch = 0; epoch < plan.epochs(); epoch++) {
                for (int i = 0; i < n; i++) {
                    order[i] = i;
                }
                for (int i = n - 1; i > 0; i--) {
                    int j = rng.nextInt(i + 1);
                    int t = order[i];
                    order[i] = order[j];
                    order[j] = t;
                }
                for (int s = 0; s < stepsPerEpoch; s += every) {
                    int from = s * batch;
                    int to = Math.min(n, (s + every) * batch);
                    int[] rowsOfChunk = java.util.Arrays.copyOfRange(order, from, to);
                    long before = model.optimizerStep();
                    History h;
                    try (Dataset part = data.subset(rowsOfChunk)) {
                        h = model.fit(part, Fit.epochs(1).batchSize(batch).shuffle(false).seed(rng.nextLong()));
                    }
                    lossSum += h.last().loss() * rowsOfChunk.length;
                    rows += rowsOfChunk.length;
                    double shrink = 1;
                    for (long st = before; st < model.optimizerStep(); st++) {
                        shrink /= 1 + plan.proxMu() * model.optimizer().schedule().at(st, 0);
                    }
                    applyProximal(model, global, shrink);
                }
            }
        }
        float[] w = model.parameters();
        float[] delta = new float[w.length];
        for (int i = 0; i < w.length; i++) {
            delta[i] = w[i] - global[i];
        }
        return new Result(delta, n, lossSum / rows, model.optimizerStep() - step0, (System.nanoTime() - t0) / 1e9);
    }

    /** w ← w_t + (w − w_t)·shrink: the proximal operator of (μ/2)‖w − w_t‖² for the accumulated step. */
    private static void applyProximal(Sequential model, float[] global, double shrink) {
        float[] w = model.parameters();
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) (global[i] + (w[i] - global[i]) * shrink);
        }
        model.setParameters(w);
    }

    /**
     * The vector a client uploads: Δ clipped to L2 norm S (when S &gt; 0), times its weight w (1 with uniform
     * weights, else min(n_k, cap)/cap), with w appended as the last coordinate unless weights are uniform. The
     * server sums these vectors and divides the first part by the summed weight (or, with DP, by the expected
     * number of clients).
     */
    public static float[] uploadVector(float[] delta, int examples, TrainingPlan plan) {
        double norm = l2(delta);
        double clip = plan.clipNorm() > 0 && norm > plan.clipNorm() ? plan.clipNorm() / norm : 1;
        double weight = plan.uniformWeights() ? 1 : Math.min(examples, plan.exampleWeightCap()) / (double) plan.exampleWeightCap();
        float[] v = new float[plan.vectorLength(delta.length)];
        for (int i = 0; i < delta.length; i++) {
            v[i] = (float) (delta[i] * clip * weight);
        }
        if (!plan.uniformWeights()) {
            v[delta.length] = (float) weight;
        }
        return v;
    }

    static double l2(float[] v) {
        double s = 0;
        for (float x : v) {
            s += (double) x * x;
        }
        return Math.sqrt(s);
    }
}
