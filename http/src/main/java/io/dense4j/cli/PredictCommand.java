package io.dense4j.cli;

import io.dense4j.Model;
import io.dense4j.data.Dataset;
import io.dense4j.tensor.Device;
import io.dense4j.tensor.ElementType;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code dense4j predict}: class and top probabilities for rows of a data source or one row given inline. */
@Command(name = "predict", mixinStandardHelpOptions = true,
        description = "Predict with a saved model: rows of an IDX directory / CSV file, or --values for one row.")
public final class PredictCommand implements Callable<Integer> {
    @Option(names = {"-m", "--model"}, required = true, description = "model file (.d4j)")
    Path modelFile;

    @Option(names = "--data", description = "IDX directory or CSV file (its label column is ignored)")
    Path data;

    @Option(names = "--split", description = "IDX split: train or t10k (default: t10k when present)")
    String split;

    @picocli.CommandLine.Mixin
    CsvArgs csv = new CsvArgs();

    @Option(names = "--rows", defaultValue = "0-9", description = "row range of --data, e.g. 0-9 or 17 (default: ${DEFAULT-VALUE})")
    String rows;

    @Option(names = "--values", split = ",", description = "one row of comma-separated feature values")
    float[] values;

    @Option(names = "--top", defaultValue = "3", description = "probabilities shown per row (default: ${DEFAULT-VALUE})")
    int top;

    @Option(names = "--device", defaultValue = "cpu", description = "cpu or cuda[:N] (default: ${DEFAULT-VALUE})")
    String device;

    @Option(names = "--repeat", description = "also time N more predict calls of these rows from Java (after N/5 warm-up"
            + " calls) and print the latency per call")
    Integer repeat;

    @Option(names = "--write-request", description = "also write these rows as a KServe V2 infer request body (JSON) to this file")
    Path requestFile;

    @Override
    public Integer call() throws Exception {
        if ((data == null) == (values == null)) {
            throw new IllegalArgumentException("give either --data or --values");
        }
        Device dev = Device.parse(device);
        try (Model model = Model.load(modelFile)) {
            model.to(dev);
            List<float[]> input = new ArrayList<>();
            List<String> truth = new ArrayList<>();
            List<Integer> index = new ArrayList<>();
            if (values != null) {
                input.add(values);
                truth.add(null);
                index.add(0);
            } else {
                try (Dataset d = DataArgs.forEvaluation(data, csv, split)) {
                    int[] range = parseRange(rows, d.size());
                    for (int r = range[0]; r <= range[1]; r++) {
                        input.add(d.features().row(r));
                        // the data's own name for its label (a file's text labels are numbered within the file)
                        int y = d.hasLabels() ? d.labels().getInt(r) : -1;
                        truth.add(y < 0 ? null : y < d.classNames().size() ? d.classNames().get(y) : name(model, y));
                        index.add(r);
                    }
                }
            }
            float[][] rowsIn = input.toArray(new float[0][]);
            float[][] p = model.predict(rowsIn);
            if (repeat != null && repeat > 0) {
                printLatency(model, rowsIn, repeat);
            }
            if (requestFile != null) {
                writeV2Request(requestFile, input, model.inputSize());
            }
            for (int i = 0; i < p.length; i++) {
                Integer[] order = new Integer[p[i].length];
                for (int j = 0; j < order.length; j++) {
                    order[j] = j;
                }
                float[] row = p[i];
                java.util.Arrays.sort(order, (a, b) -> Float.compare(row[b], row[a]));
                StringBuilder b = new StringBuilder(String.format("row %d: %s", index.get(i), name(model, order[0])));
                if (truth.get(i) != null) {
                    b.append(" (true: ").append(truth.get(i)).append(')');
                }
                b.append(" -");
                for (int j = 0; j < Math.min(top, order.length); j++) {
                    b.append(String.format(" %s %.4f", name(model, order[j]), row[order[j]]));
                }
                System.out.println(b);
            }
        }
        return 0;
    }

    /** End-to-end latency of {@code Model.predict} from Java (input validation, copies, kernels, copy back). */
    private static void printLatency(Model model, float[][] rows, int n) {
        for (int i = 0; i < Math.max(1, n / 5); i++) {
            model.predict(rows);
        }
        long[] ns = new long[n];
        long t0 = System.nanoTime();
        for (int i = 0; i < n; i++) {
            long a = System.nanoTime();
            model.predict(rows);
            ns[i] = System.nanoTime() - a;
        }
        double mean = (System.nanoTime() - t0) / 1e3 / n;
        java.util.Arrays.sort(ns);
        System.out.printf(java.util.Locale.ROOT,
                "latency: mean %.2f us, p50 %.2f us, p99 %.2f us per predict call of %d row(s) (%d calls, device %s)%n",
                mean, ns[n / 2] / 1e3, ns[Math.min(n - 1, (int) (n * 0.99))] / 1e3, rows.length, n, model.device());
    }

    /** A ready-to-send body for POST /v2/models/{m}/infer: one FP32 input [rows, features] named "input". */
    private static void writeV2Request(Path file, List<float[]> rows, int width) throws java.io.IOException {
        var json = new com.fasterxml.jackson.databind.ObjectMapper();
        var body = json.createObjectNode();
        var in = body.putArray("inputs").addObject();
        in.put("name", "input");
        in.putArray("shape").add(rows.size()).add(width);
        in.put("datatype", ElementType.FLOAT32.v2Name());
        var data = in.putArray("data");
        for (float[] r : rows) {
            for (float v : r) {
                data.add(v);
            }
        }
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) {
            java.nio.file.Files.createDirectories(parent);
        }
        java.nio.file.Files.writeString(file, json.writeValueAsString(body));
    }

    private static String name(Model m, int c) {
        return c < m.classNames().size() ? m.classNames().get(c) : Integer.toString(c);
    }

    static int[] parseRange(String spec, int size) {
        String[] parts = spec.split("-", -1);
        try {
            if (parts.length > 2) {
                throw new NumberFormatException();
            }
            int a = Integer.parseInt(parts[0].trim());
            int b = parts.length > 1 ? Integer.parseInt(parts[1].trim()) : a;
            if (b < a) {
                throw new IllegalArgumentException("--rows " + spec + " runs backwards: give the first row first, e.g. "
                        + b + "-" + a);
            }
            if (a < 0 || b >= size) {
                throw new IllegalArgumentException("--rows " + spec + " is outside the data's rows 0-" + (size - 1));
            }
            return new int[] {a, b};
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--rows must look like 0-9 or 17, got " + spec);
        }
    }
}
