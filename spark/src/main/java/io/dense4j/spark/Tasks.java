package io.dense4j.spark;

import io.dense4j.Dense4J;
import io.dense4j.Sequential;
import io.dense4j.ThreadTeam;
import io.dense4j.data.Dataset;
import io.dense4j.data.Normalizer;
import io.dense4j.model.ModelConfig;
import io.dense4j.model.ModelState;
import io.dense4j.tensor.Device;
import io.dense4j.train.LossStats;
import io.dense4j.train.NonFiniteLossException;
import io.dense4j.train.Trainer;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.apache.spark.TaskContext;
import org.apache.spark.resource.ResourceInformation;

/**
 * What runs inside Spark tasks, one call per partition: a round of local training, a validation pass, the feature
 * statistics of the preprocessing. Each call builds its own model (its own native engine, its own buffers) from
 * the broadcast state, so concurrent tasks in one executor share nothing, and a task keeps nothing between calls:
 * a retried or relocated task starts from exactly what the first attempt started from.
 *
 * <p>Data errors and a loss that became NaN are returned to the driver as results (the driver fails the fit with
 * the message) rather than thrown: Spark would retry a deterministic failure for nothing.
 */
final class Tasks {
    private Tasks() {}

    /** Called by every round task after its training, before it returns (tests make a task fail there). */
    interface Hook {
        void afterTraining(int epoch, int round, int partition, int attempt);
    }

    /** Test hook; null in production. Tasks of a local master run in the JVM that sets it. */
    static volatile Hook hook;

    /** Worker {@code shard.partition}'s steps of round r of an epoch, from {@code state}, on the task's device. */
    static Results.Worker trainRound(Shard shard, Schedule plan, int epoch, int round, String config,
                                     Results.State state, int threads) {
        Device device;
        try {
            device = taskDevice();
        } catch (UnsupportedOperationException | IllegalArgumentException e) {
            return Results.Worker.failed(noDevice(shard, e), false);
        }
        try (ThreadTeam team = Dense4J.threadTeam(threads)) {
            return trainRound(shard, plan, epoch, round, config, state, device);
        }
    }

    /** As above, on {@code device}. */
    static Results.Worker trainRound(Shard shard, Schedule plan, int epoch, int round, String config,
                                     Results.State state, Device device) {
        int p = shard.partition;
        int steps = plan.steps(p, round);
        if (steps == 0) {
            return Results.Worker.idle();
        }
        int from = plan.rowFrom(p, round);
        int to = plan.rowTo(p, round);
        try (Sequential model = modelOf(config, state);
             Dataset rows = shard.gather(plan.order(p, epoch), from, to, model.outputSize())) {
            model.to(device);
            LossStats st = Trainer.trainOnBatches(model.trainingTarget(), rows, plan.batch, epoch,
                    plan.dropoutSeed(p, epoch, round));
            ModelState after = model.state();
            Hook h = hook;
            if (h != null) {
                TaskContext tc = TaskContext.get();
                h.afterTraining(epoch, round, p, tc == null ? 0 : tc.attemptNumber());
            }
            float[] params = after.parameters();
            return new Results.Worker(to - from, steps, params, Results.split(after.optimizer().slots(), params.length),
                    st.lossSum(), st.correct(), st.rows(), null, false);
        } catch (NonFiniteLossException e) {
            return Results.Worker.failed("worker " + p + ", epoch " + (epoch + 1) + ", round " + (round + 1) + ": "
                    + e.getMessage(), true);
        } catch (UnsupportedOperationException e) {
            return Results.Worker.failed(noDevice(shard, e), false);
        }
    }

    /** Loss stats of the shard's rows from {@code from} on (its validation rows) under {@code state}. */
    static Results.Stats evaluate(Shard shard, int from, String config, Results.State state, int threads) {
        if (from >= shard.rows) {
            return Results.Stats.ZERO;
        }
        Device device;
        try {
            device = taskDevice();
        } catch (UnsupportedOperationException | IllegalArgumentException e) {
            return new Results.Stats(0, 0, 0, noDevice(shard, e));
        }
        int[] positions = new int[shard.rows];
        Arrays.setAll(positions, i -> i);
        try (ThreadTeam team = Dense4J.threadTeam(threads);
             Sequential model = modelOf(config, state);
             Dataset rows = shard.gather(positions, from, shard.rows, model.outputSize())) {
            model.to(device);
            Normalizer n = model.preprocessing();
            if (n != null) {
                n.apply(rows.features()); // our own copy of the rows
            }
            LossStats st = model.trainingTarget().forward(rows, null);
            return new Results.Stats(st.lossSum(), st.correct(), st.rows(), null);
        } catch (UnsupportedOperationException e) {
            return new Results.Stats(0, 0, 0, noDevice(shard, e));
        }
    }

    private static String noDevice(Shard shard, RuntimeException e) {
        return "worker " + shard.partition + " was given a GPU it cannot use: " + e.getMessage();
    }

    /** Count, sum, min and max of each feature over the shard's first {@code rows} rows. */
    static Results.Columns moments(Shard shard, int rows) {
        Results.Columns c = new Results.Columns();
        if (rows == 0) {
            return c;
        }
        int d = shard.width;
        c.count = rows;
        c.sum = new double[d];
        c.min = new double[d];
        c.max = new double[d];
        Arrays.fill(c.min, Double.POSITIVE_INFINITY);
        Arrays.fill(c.max, Double.NEGATIVE_INFINITY);
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < d; j++) {
                float v = shard.features[i * d + j];
                c.sum[j] += v;
                c.min[j] = Math.min(c.min[j], v);
                c.max[j] = Math.max(c.max[j], v);
            }
        }
        return c;
    }

    /** Squared deviations of each feature from {@code mean} over the shard's first {@code rows} rows. */
    static Results.Columns squares(Shard shard, int rows, double[] mean) {
        Results.Columns c = new Results.Columns();
        if (rows == 0) {
            return c;
        }
        int d = shard.width;
        c.count = rows;
        c.squares = new double[d];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < d; j++) {
                double dev = shard.features[i * d + j] - mean[j];
                c.squares[j] += dev * dev;
            }
        }
        return c;
    }

    private static Sequential modelOf(String config, Results.State state) {
        return Sequential.fromState(new ModelState(ModelConfig.fromJson(config), state.params(), state.optimizer(),
                List.of(), Map.of()));
    }

    /**
     * The device Spark gave this task: the GPU named by its "gpu" resource when it has one (then the CUDA
     * backend trains there), else the CPU. On the CPU the task's kernels run on its own team of {@code threads}
     * (spark.task.cpus by default; opened by the caller around the task's work), so concurrent tasks of one executor
     * each get the cores Spark gave them instead of sharing one pool.
     */
    static Device taskDevice() {
        TaskContext tc = TaskContext.get();
        ResourceInformation gpu = tc == null ? null : tc.resourcesJMap().get("gpu");
        if (gpu != null && gpu.addresses().length > 0) {
            String address = gpu.addresses()[0].trim();
            try {
                return Device.cuda(Integer.parseInt(address));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("GPU address '" + address + "' is not a CUDA device index (the "
                        + "discovery script must report indices such as 0, 1...)");
            }
        }
        return Device.cpu();
    }
}
