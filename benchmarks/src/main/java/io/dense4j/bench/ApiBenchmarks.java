package io.dense4j.bench;

import io.dense4j.Dense4J;
import io.dense4j.Sequential;
import io.dense4j.layers.Activation;
import io.dense4j.layers.Dense;
import io.dense4j.optim.Optimizers;
import io.dense4j.train.Losses;
import io.dense4j.train.Metrics;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Single-row predict through the public Java API (Sequential.predict(float[])): input checks, the session
 * pool, two JNI copies and the native forward. Issue 2's goal: under 20 us in-process. CPU only.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xmx2g"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class ApiBenchmarks {
    Sequential model;
    float[] row;

    @Setup
    public void setup() {
        Dense4J.setThreads(1);
        model = Sequential.of(Dense.of(784, 128, Activation.RELU), Dense.of(128, 10, Activation.SOFTMAX));
        model.compile(Optimizers.adam(1e-3), Losses.SPARSE_CATEGORICAL_CROSSENTROPY, Metrics.ACCURACY);
        model.initialize(42);
        row = OpBenchmarks.random(new SplittableRandom(9), 784, 1f);
        for (int i = 0; i < row.length; i++) {
            row[i] = Math.abs(row[i]);
        }
    }

    @TearDown
    public void tearDown() {
        model.close();
    }

    @Benchmark
    public float[] predictOneRow() {
        return model.predict(row);
    }
}
