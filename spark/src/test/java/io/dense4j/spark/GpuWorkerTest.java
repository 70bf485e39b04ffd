package io.dense4j.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.dense4j.Sequential;
import io.dense4j.layers.Activation;
import io.dense4j.layers.Dense;
import io.dense4j.optim.Optimizers;
import io.dense4j.tensor.Device;
import io.dense4j.train.Losses;
import io.dense4j.train.Metrics;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A worker given a GPU trains its round through the CUDA backend, to what the CPU worker computes up to float
 * rounding. Spark hands a task its GPU through TaskContext.resources() ("gpu"), which local masters do not do, so
 * the worker is called here with the device directly. Skipped, with the reason printed, where there is no GPU.
 */
class GpuWorkerTest {
    @Test
    void aWorkerOnTheGpuComputesTheCpuWorkersRound() {
        String noGpu = null;
        try (Device d = Device.cuda(0)) {
            System.out.println("GpuWorkerTest on " + d.description());
        } catch (UnsupportedOperationException e) {
            noGpu = e.getMessage();
            System.out.println("GpuWorkerTest skipped: " + noGpu);
        }
        assumeTrue(noGpu == null, "no GPU: " + noGpu);

        SparkTrainerTest.start();
        Supervision sup = new Supervision(6, 3, Supervision.Kind.CLASS_LABEL, "features", "label");
        Block rows = new Block(sup);
        for (int i = 0; i < SparkTrainerTest.x.size(); i += 2) {
            sup.add(rows, i, SparkTrainerTest.x.get(i), SparkTrainerTest.y.get(i));
        }
        Shard shard = Shard.pack(0, List.of(rows.trim()).iterator(), "training data");
        Schedule plan = new Schedule(32, 8, 0, true, 3, new int[] {shard.rows});
        try (Sequential m = Sequential.of(Dense.of(6, 16, Activation.RELU), Dense.of(3, Activation.SOFTMAX))) {
            m.compile(Optimizers.adam(3e-3), Losses.SPARSE_CATEGORICAL_CROSSENTROPY, Metrics.ACCURACY);
            m.initialize(1);
            var s = m.state();
            Results.State state = new Results.State(s.parameters(), Results.split(null, s.parameters().length), 0);
            String config = m.config().toJson();
            Results.Worker cpu = Tasks.trainRound(shard, plan, 0, 1, config, state, Device.cpu());
            Results.Worker gpu = Tasks.trainRound(shard, plan, 0, 1, config, state, Device.cuda(0));
            assertNull(gpu.error());
            assertEquals(cpu.rows(), gpu.rows());
            for (int i = 0; i < cpu.params().length; i++) {
                assertEquals(cpu.params()[i], gpu.params()[i], 1e-4, "parameter " + i);
            }
            assertEquals(cpu.lossSum(), gpu.lossSum(), 1e-3 * cpu.statRows());
        }
    }
}
