package io.dense4j.cli;

import io.dense4j.data.Csv;
import io.dense4j.data.Dataset;
import io.dense4j.data.Mnist;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * How the command line finds data: a directory of MNIST-format IDX files (train and/or t10k, .gz or raw), or
 * a CSV file with a header row and a label column.
 */
final class DataArgs {
    private DataArgs() {}

    /** Training rows and, when the source has them, held-out test rows (null otherwise). */
    record Loaded(Dataset train, Dataset test) implements AutoCloseable {
        @Override
        public void close() {
            train.close();
            if (test != null) {
                test.close();
            }
        }
    }

    static Loaded forTraining(Path source, CsvArgs csv) throws IOException {
        if (Files.isDirectory(source)) {
            // the pixels stay bytes: a quarter of the memory, and training converts each batch while gathering it
            if (Mnist.hasSplit(source, Mnist.TRAIN)) {
                Dataset train = Mnist.loadSplit(source, Mnist.TRAIN, Mnist.Pixels.UINT8);
                Dataset test = Mnist.hasSplit(source, Mnist.TEST)
                        ? Mnist.loadSplit(source, Mnist.TEST, Mnist.Pixels.UINT8) : null;
                return new Loaded(train, test);
            }
            if (Mnist.hasSplit(source, Mnist.TEST)) {
                return new Loaded(Mnist.loadSplit(source, Mnist.TEST, Mnist.Pixels.UINT8), null);
            }
            throw new IOException(source + " holds no MNIST-format IDX files (train-images-idx3-ubyte[.gz], ...)");
        }
        return new Loaded(csv(source, csv), null);
    }

    /** Evaluation rows: the test split of an IDX directory (or its only split), or a whole CSV file. */
    static Dataset forEvaluation(Path source, CsvArgs csv, String split) throws IOException {
        if (Files.isDirectory(source)) {
            if (split != null) {
                if (!Mnist.hasSplit(source, split)) {
                    java.util.List<String> has = java.util.stream.Stream.of(Mnist.TRAIN, Mnist.TEST)
                            .filter(s -> Mnist.hasSplit(source, s)).toList();
                    throw new IOException(source + " has no split '" + split + "' (" + split + "-images-idx3-ubyte[.gz]); "
                            + (has.isEmpty() ? "it holds no IDX files" : "it has " + String.join(" and ", has)));
                }
                return Mnist.loadSplit(source, split, Mnist.Pixels.UINT8);
            }
            return Mnist.loadSplit(source, Mnist.hasSplit(source, Mnist.TEST) ? Mnist.TEST : Mnist.TRAIN,
                    Mnist.Pixels.UINT8);
        }
        return csv(source, csv);
    }

    private static Dataset csv(Path file, CsvArgs csv) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new IOException("no such data file or directory: " + file);
        }
        return Csv.read(file, csv.options());
    }
}
