package io.dense4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.dense4j.Model;
import io.dense4j.Sequential;
import io.dense4j.data.Dataset;
import io.dense4j.tensor.Device;
import io.dense4j.train.Evaluation;
import io.dense4j.train.Loss;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code dense4j evaluate}: loss, accuracy, per-class metrics and the confusion matrix of a saved model. */
@Command(name = "evaluate", mixinStandardHelpOptions = true,
        description = "Evaluate a saved model on labelled data (an IDX directory's test split, or a CSV file).")
public final class EvaluateCommand implements Callable<Integer> {
    @Option(names = {"-m", "--model"}, required = true, description = "model file (.d4j)")
    Path modelFile;

    @Option(names = "--data", required = true, description = "IDX directory or CSV file")
    Path data;

    @Option(names = "--split", description = "IDX split to use: train or t10k (default: t10k when present)")
    String split;

    @picocli.CommandLine.Mixin
    CsvArgs csv = new CsvArgs();

    @Option(names = "--json", description = "print the results as JSON")
    boolean json;

    @Option(names = "--device", defaultValue = "cpu", description = "cpu or cuda[:N] (default: ${DEFAULT-VALUE})")
    String device;

    @Override
    public Integer call() throws Exception {
        Device dev = Device.parse(device);
        try (Sequential model = (Sequential) Model.load(modelFile);
             Dataset raw = DataArgs.forEvaluation(data, csv, split)) {
            model.to(dev);
            if (model.loss() == null) {
                throw new IllegalArgumentException(modelFile + " was saved without a loss; it cannot be evaluated");
            }
            Dataset d = model.loss() != Loss.SPARSE_CATEGORICAL_CROSSENTROPY && raw.hasLabels() ? raw.oneHot() : raw;
            try {
                Evaluation e = model.evaluate(d);
                if (json) {
                    System.out.println(new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
                            .writeValueAsString(e.toMap()));
                } else {
                    System.out.print(e.report());
                }
            } finally {
                if (d != raw) {
                    d.close();
                }
            }
        }
        return 0;
    }
}
