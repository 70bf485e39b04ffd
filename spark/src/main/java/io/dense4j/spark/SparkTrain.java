package io.dense4j.spark;

import io.dense4j.Sequential;
import io.dense4j.data.Csv;
import io.dense4j.data.Dataset;
import io.dense4j.data.Mnist;
import io.dense4j.model.ModelConfig;
import io.dense4j.model.TrainingConfig;
import io.dense4j.registry.ModelRegistry;
import io.dense4j.registry.ModelVersionInfo;
import io.dense4j.registry.RegisterOptions;
import io.dense4j.train.Callback;
import io.dense4j.train.EarlyStopping;
import io.dense4j.train.Evaluation;
import io.dense4j.train.Fit;
import io.dense4j.train.History;
import io.dense4j.train.ModelCheckpoint;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The spark-submit entry point: {@code dense4j train --config} on a cluster. It reads the same model config file
 * (schema v2: a model config, or {@code {"model": ..., "fit": ...}}), trains it data-parallel with
 * {@link SparkTrainer} on an IDX directory, a CSV file or a Parquet table, evaluates it on the IDX test split when
 * there is one, and writes an ordinary .d4j model (optionally registering it).
 *
 * <pre>
 * spark-submit --master spark://host:7077 --class io.dense4j.spark.SparkTrain dense4j-spark.jar \
 *     --config model.json --data /shared/fashion-mnist --workers 8 --averaging-frequency 16 -o fashion.d4j
 * </pre>
 */
@Command(name = "spark-submit --class io.dense4j.spark.SparkTrain dense4j-spark.jar", mixinStandardHelpOptions = true,
        sortOptions = false,
        description = "Train a Dense4J model config data-parallel on Spark (parameter averaging), then save it.")
public final class SparkTrain implements Callable<Integer> {
    @Option(names = "--config", required = true, description = "JSON model config (ModelConfig, or {\"model\": ..., "
            + "\"fit\": ...}), as dense4j train --config; a first Dense layer without input_dim takes the data's width")
    Path config;

    @Option(names = "--data", required = true, description = "IDX directory (MNIST layout; its train split), CSV file, "
            + "or Parquet file or directory; files must be readable at this path by every executor")
    String data;

    @Option(names = "--format", description = "idx, csv or parquet (default: idx for a directory of IDX files, csv for "
            + "*.csv, parquet otherwise)")
    String format;

    @Option(names = "--features-column", defaultValue = "features",
            description = "Parquet: the column of feature arrays or ML vectors (default: ${DEFAULT-VALUE})")
    String featuresColumn;

    @Option(names = "--label-column", description = "CSV: the label column (default: the last); Parquet: the label "
            + "column (default: label)")
    String labelColumn;

    @Option(names = "--ignore-columns", split = ",", description = "CSV columns that are not features, e.g. id")
    List<String> ignoreColumns;

    @Option(names = "--workers", description = "workers (partitions) the rows are dealt to (default: one per task slot)")
    Integer workers;

    @Option(names = {"--averaging-frequency", "-H"}, defaultValue = "16",
            description = "local steps between averages (default: ${DEFAULT-VALUE})")
    int averagingFrequency;

    @Option(names = "--threads-per-task", description = "CPU threads of each task (default: spark.task.cpus)")
    Integer threadsPerTask;

    @Option(names = "--epochs", description = "overrides the config's fit (default there: 5)")
    Integer epochs;

    @Option(names = "--batch-size", description = "overrides the config's fit (default there: 32)")
    Integer batchSize;

    @Option(names = "--seed", description = "overrides the config's fit")
    Long seed;

    @Option(names = "--validation-split", description = "overrides the config's fit: last fraction of the rows held out")
    Double validationSplit;

    @Option(names = "--early-stopping", description = "stop after this many epochs without val_loss improvement "
            + "(restores the best weights)")
    Integer patience;

    @Option(names = "--checkpoint", description = "save after every epoch to this path (on the driver); {epoch} is "
            + "replaced")
    String checkpoint;

    @Option(names = {"-o", "--output"}, required = true, description = "where the driver saves the model (.d4j)")
    Path output;

    @Option(names = "--registry", description = "also register the saved model in this registry directory")
    Path registry;

    @Option(names = "--model", description = "the registered model's name (with --registry)")
    String modelName;

    @Option(names = "--alias", description = "an alias for the registered version, e.g. stable (with --registry)")
    String alias;

    @Option(names = "--progress-seconds", defaultValue = "5",
            description = "a progress line at most this often (0: epoch summaries only; default: ${DEFAULT-VALUE})")
    double progressSeconds;

    private SparkSession spark;

    public static void main(String[] args) {
        SparkSession spark = SparkSession.builder().appName("dense4j-train").getOrCreate();
        int code;
        try {
            code = run(spark, args);
        } finally {
            spark.stop();
        }
        System.exit(code);
    }

    /** Runs the command in an existing session; returns the exit code (errors: one line, 1). */
    public static int run(SparkSession spark, String... args) {
        SparkTrain cmd = new SparkTrain();
        cmd.spark = spark;
        CommandLine cl = new CommandLine(cmd);
        cl.setExecutionExceptionHandler((e, line, parsed) -> {
            if (System.getenv("DENSE4J_DEBUG") != null) {
                e.printStackTrace();
            }
            line.getErr().println("error: " + (e.getMessage() == null ? e.toString() : e.getMessage()));
            return 1;
        });
        return cl.execute(args);
    }

    @Override
    public Integer call() throws Exception {
        if ((registry == null) != (modelName == null) || (alias != null && registry == null)) {
            throw new IllegalArgumentException("--registry and --model go together (and --alias needs them)");
        }
        TrainingConfig tc = TrainingConfig.fromJson(config);
        if (tc.model().compile() == null) {
            throw new IllegalArgumentException(config + ": the config has no compile_config; training needs an "
                    + "optimizer and a loss");
        }
        Fit fit = fitSettings(tc.fit());
        String kind = format != null ? format.toLowerCase(Locale.ROOT) : guessFormat();
        SparkData train = source(kind);
        SparkData.Layout layout = train.layout();
        System.out.printf("data: %s (%s), %d features%n", data, kind, layout.width());
        SparkTrainer trainer = trainer();
        try (Sequential model = Sequential.fromConfig(tc.model().withInputs(layout.width()))) {
            if (!layout.classNames().isEmpty() && layout.classNames().size() == model.outputSize()) {
                model.classNames(layout.classNames());
            }
            System.out.print(model.summary());
            List<Callback> callbacks = new ArrayList<>();
            callbacks.add(new ConsoleProgress(System.out, progressSeconds));
            if (patience != null) {
                callbacks.add(EarlyStopping.onValLoss(patience, true));
            }
            if (checkpoint != null) {
                callbacks.add(ModelCheckpoint.everyEpoch(checkpoint));
            }
            History h = trainer.fit(model, train, fit.callbacks(callbacks.toArray(new Callback[0])));
            System.out.printf("trained %d epochs in %.2fs on %s workers, H = %d%n", h.epochs().size(),
                    h.totalSeconds(), ((java.util.Map<?, ?>) model.trainingInfo().get("distributed")).get("workers"),
                    averagingFrequency);
            RegisterOptions reg = RegisterOptions.defaults().source("spark").actor("dense4j-spark");
            if (kind.equals("idx") && Mnist.hasSplit(Path.of(data), Mnist.TEST)) {
                try (Dataset test = Mnist.loadSplit(Path.of(data), Mnist.TEST)) {
                    Evaluation e = model.evaluate(model.loss().sparseLabels() ? test : test.oneHot());
                    System.out.print("test: " + e.report());
                    reg = reg.metric("test_accuracy", e.accuracy()).metric("test_loss", e.loss());
                }
            }
            model.save(output);
            System.out.println("saved " + output);
            if (registry != null) {
                ModelRegistry r = ModelRegistry.open(registry);
                ModelVersionInfo v = r.register(modelName, output, reg);
                if (alias != null) {
                    r.setAlias(modelName, alias, v.version(), "dense4j-spark");
                }
                System.out.println("registered " + modelName + " version " + v.version()
                        + (alias == null ? "" : " as " + alias) + " in " + registry);
            }
        }
        return 0;
    }

    private String guessFormat() {
        Path p = Path.of(data);
        if (Files.isDirectory(p) && (Mnist.hasSplit(p, Mnist.TRAIN) || Mnist.hasSplit(p, Mnist.TEST))) {
            return "idx";
        }
        return data.toLowerCase(Locale.ROOT).endsWith(".csv") ? "csv" : "parquet";
    }

    private SparkData source(String kind) {
        return switch (kind) {
            case "idx" -> {
                Path dir = Path.of(data);
                yield SparkData.idx(spark, dir, Mnist.hasSplit(dir, Mnist.TRAIN) ? Mnist.TRAIN : Mnist.TEST);
            }
            case "csv" -> {
                Csv.Options o = Csv.options();
                if (labelColumn != null) {
                    o = o.labelColumn(labelColumn);
                }
                if (ignoreColumns != null) {
                    o = o.ignoreColumns(ignoreColumns.toArray(new String[0]));
                }
                yield SparkData.csv(spark, Path.of(data), o);
            }
            case "parquet" -> SparkData.dataFrame(spark.read().parquet(data), featuresColumn,
                    labelColumn == null ? "label" : labelColumn, "training data");
            default -> throw new IllegalArgumentException("--format must be idx, csv or parquet, got " + format);
        };
    }

    private SparkTrainer trainer() {
        SparkTrainer.Builder b = SparkTrainer.builder().averagingFrequency(averagingFrequency)
                .featuresColumn(featuresColumn).labelColumn(labelColumn == null ? "label" : labelColumn);
        if (workers != null) {
            b.workers(workers);
        }
        if (threadsPerTask != null) {
            b.threadsPerTask(threadsPerTask);
        }
        return b.build();
    }

    /** The config's fit settings (or Keras's defaults, 5 epochs), with the options given here on top. */
    private Fit fitSettings(Fit fromFile) {
        Fit f = fromFile != null ? fromFile : Fit.epochs(5);
        if (epochs != null) {
            f = f.withEpochs(epochs);
        }
        if (batchSize != null) {
            f = f.batchSize(batchSize);
        }
        if (seed != null) {
            f = f.seed(seed);
        }
        if (validationSplit != null) {
            f = f.validationSplit(validationSplit);
        }
        return f;
    }
}
