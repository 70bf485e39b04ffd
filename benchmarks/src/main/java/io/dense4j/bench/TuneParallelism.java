package io.dense4j.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.dense4j.Dense4J;
import io.dense4j.Sequential;
import io.dense4j.data.Dataset;
import io.dense4j.data.Mnist;
import io.dense4j.train.Evaluation;
import io.dense4j.tune.ConfigAdapter;
import io.dense4j.tune.Json;
import io.dense4j.tune.TrialRecord;
import io.dense4j.tune.TuneResult;
import io.dense4j.tune.TuneSpec;
import io.dense4j.tune.Tuner;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Issue 13's tuning measurement: a 16-trial search around the reference network (784-128-10, Adam, batch 32) on
 * Fashion-MNIST, 2 epochs a trial, run with the trials one after another and then with 2 at a time, in one JVM on
 * the same data: wall-clock of each, their ratio, and the best trial's accuracy (holdout, then test accuracy of its
 * config retrained on all 60,000 training rows). Both runs must produce the same trials and scores (each trial is
 * deterministic), which the program checks. The machine's load average is recorded before and after.
 *
 * <p>Usage: {@code java -cp benchmarks/target/benchmarks.jar io.dense4j.bench.TuneParallelism [data-dir] [trials]
 * [epochs] [parallel] [out.json]} (defaults: /usr/share/datasets/fashion-mnist 16 2 2
 * benchmarks/results/tune-parallel.json). Each trial trains on one thread (OpenBLAS 1 thread): a parallel run uses
 * {@code parallel} cores.
 */
public final class TuneParallelism {
    static final String CONFIG = """
            {"model": {"class_name": "Sequential", "config_version": 2,
                       "layers": [{"type": "dense", "units": 128, "activation": "relu"},
                                  {"type": "dropout", "rate": 0.0},
                                  {"type": "dense", "units": 10, "activation": "softmax"}],
                       "compile_config": {"optimizer": {"type": "adam", "learning_rate": 0.001},
                                          "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]}},
             "fit": {"epochs": %d, "batch_size": 32, "seed": 42}}""";
    static final String SPEC = """
            {"search_space": {
               "/model/compile_config/optimizer/learning_rate": {"type": "log_uniform", "min": 1e-4, "max": 1e-2},
               "/fit/batch_size": {"type": "choice", "values": [32, 64]},
               "/model/layers/0/units": {"type": "choice", "values": [64, 128, 256]},
               "/model/layers/1/rate": {"type": "uniform", "min": 0.0, "max": 0.3}},
             "sampler": {"type": "sobol", "seed": 1},
             "objective": {"type": "holdout", "fraction": 0.1, "seed": 0},
             "max_trials": %d, "max_parallel_trials": %d, "retrain_best": true}""";

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args.length > 0 ? args[0] : "/usr/share/datasets/fashion-mnist");
        int trials = args.length > 1 ? Integer.parseInt(args[1]) : 16;
        int epochs = args.length > 2 ? Integer.parseInt(args[2]) : 2;
        int parallel = args.length > 3 ? Integer.parseInt(args[3]) : 2;
        Path out = Path.of(args.length > 4 ? args[4] : "benchmarks/results/tune-parallel.json");
        Dense4J.setThreads(1);
        JsonNode config = Json.parse(CONFIG.formatted(epochs));
        ObjectNode report = Json.MAPPER.createObjectNode();
        report.put("cores", Runtime.getRuntime().availableProcessors());
        report.put("openblas_coretype", String.valueOf(System.getenv("OPENBLAS_CORETYPE")));
        report.put("load_before", loadAverage());
        report.put("trials", trials);
        report.put("epochs_per_trial", epochs);
        System.out.printf("machine: %d cores, load %s; %d trials x %d epochs; OpenBLAS threads %d, OPENBLAS_CORETYPE=%s%n",
                Runtime.getRuntime().availableProcessors(), loadAverage(), trials, epochs, Dense4J.threads(),
                System.getenv("OPENBLAS_CORETYPE"));
        try (Mnist.Data data = Mnist.load(dir)) {
            TuneResult sequential = run(config, trials, 1, data.train());
            TuneResult concurrent = run(config, trials, parallel, data.train());
            for (int i = 0; i < trials; i++) {
                TrialRecord a = sequential.trials().get(i);
                TrialRecord b = concurrent.trials().get(i);
                if (a.score() != b.score()) {
                    throw new IllegalStateException("trial " + i + " scored " + a.score() + " alone but " + b.score()
                            + " in parallel");
                }
            }
            TrialRecord best = concurrent.best().orElseThrow();
            double testAccuracy;
            double retrainSeconds;
            TuneSpec spec = TuneSpec.parse(Json.parse(SPEC.formatted(trials, parallel)), ConfigAdapter.parse(config));
            long t0 = System.nanoTime();
            try (Sequential m = new Tuner(spec, config).retrain(best, data.train())) {
                retrainSeconds = (System.nanoTime() - t0) / 1e9;
                Evaluation e = m.evaluate(data.test());
                testAccuracy = e.accuracy();
            }
            double ratio = sequential.wallSeconds() / concurrent.wallSeconds();
            System.out.printf("sequential: %.1f s; %d at a time: %.1f s; speed-up %.2fx%n", sequential.wallSeconds(),
                    parallel, concurrent.wallSeconds(), ratio);
            System.out.printf("best trial %d %s: holdout accuracy %.4f; retrained on 60000 rows (%.1f s): test accuracy %.4f%n",
                    best.id(), best.values(), best.score(), retrainSeconds, testAccuracy);
            report.put("sequential_seconds", sequential.wallSeconds());
            report.put("parallel", parallel);
            report.put("parallel_seconds", concurrent.wallSeconds());
            report.put("speedup", ratio);
            report.put("best_trial", best.id());
            report.set("best_params", Json.tree(best.values()));
            report.put("best_holdout_accuracy", best.score());
            report.put("best_retrained_test_accuracy", testAccuracy);
            report.put("retrain_seconds", retrainSeconds);
            ArrayNode ts = report.putArray("trial_scores");
            concurrent.trials().forEach(t -> ts.add(t.score()));
            ArrayNode secs = report.putArray("trial_seconds_sequential");
            sequential.trials().forEach(t -> secs.add(t.seconds()));
        }
        report.put("load_after", loadAverage());
        Files.createDirectories(out.toAbsolutePath().getParent());
        Files.writeString(out, Json.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(report));
        System.out.println("wrote " + out);
    }

    private static TuneResult run(JsonNode config, int trials, int parallel, Dataset train) {
        TuneSpec spec = TuneSpec.parse(Json.parse(SPEC.formatted(trials, parallel)), ConfigAdapter.parse(config));
        TuneResult r = new Tuner(spec, config).search(train);
        System.out.printf("%d at a time: %.1f s wall, trials %s%n", parallel, r.wallSeconds(),
                r.trials().stream().map(t -> String.format("%.4f", t.score())).toList());
        return r;
    }

    private static String loadAverage() {
        try {
            return Files.readString(Path.of("/proc/loadavg")).strip();
        } catch (Exception e) {
            return "unknown";
        }
    }
}
