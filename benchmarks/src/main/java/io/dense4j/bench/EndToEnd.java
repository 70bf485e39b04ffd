package io.dense4j.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.dense4j.Dense4J;
import io.dense4j.Sequential;
import io.dense4j.plots.Plots;
import io.dense4j.data.Mnist;
import io.dense4j.layers.Activation;
import io.dense4j.layers.Dense;
import io.dense4j.optim.Optimizers;
import io.dense4j.train.Fit;
import io.dense4j.train.History;
import io.dense4j.train.Losses;
import io.dense4j.train.Metrics;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * End to end, Dense4J against PyTorch in the same run: the reference workload (784-128-10, Adam 1e-3,
 * 5 epochs, Fashion-MNIST) at several batch sizes, Dense4J at 1 and 2 OpenBLAS threads (median of a few
 * repeats), PyTorch once per batch size at 1 and 2 threads, with a ratio table (same thread count, and best
 * against best); then the charts: training curves
 * (loss and accuracy per epoch, training and validation) and training throughput against batch size.
 *
 * <pre>
 * java -cp benchmarks/target/benchmarks.jar io.dense4j.bench.EndToEnd [--data DIR] [--epochs 5]
 *      [--batches 32,128,1024] [--threads 1,2] [--torch-threads 1,2] [--repeats 3] [--curve-epochs 10] [--no-torch]
 *      [--torch-openblas] [--out benchmarks/results]
 * </pre>
 * {@code --torch-openblas} also times PyTorch with OpenBLAS LD_PRELOADed in place of the system libblas.so.3
 * (Debian's python3-torch links the reference BLAS unless an optimized one is installed).
 * <pre>
 * </pre>
 * Writes e2e.json, e2e.md, training-curves.png and throughput-cpu.png under the output directory;
 * {@code --replot} redraws the table and charts from an existing e2e.json without measuring.
 */
public final class EndToEnd {
    record D4jRun(int batch, int threads, double seconds, double accuracy, List<Double> all) {}

    public static void main(String[] args) throws Exception {
        Path dir = Path.of("/usr/share/datasets/fashion-mnist");
        Path out = Path.of("benchmarks/results");
        int epochs = 5;
        int repeats = 3;
        int curveEpochs = 10;
        int[] batches = {32, 128, 1024};
        int[] threads = {1, 2};
        int[] torchThreads = {1, 2};
        boolean torch = true;
        boolean torchOpenBlas = false;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--data" -> dir = Path.of(args[++i]);
                case "--out" -> out = Path.of(args[++i]);
                case "--epochs" -> epochs = Integer.parseInt(args[++i]);
                case "--repeats" -> repeats = Integer.parseInt(args[++i]);
                case "--curve-epochs" -> curveEpochs = Integer.parseInt(args[++i]);
                case "--batches" -> batches = Arrays.stream(args[++i].split(",")).mapToInt(Integer::parseInt).toArray();
                case "--threads" -> threads = Arrays.stream(args[++i].split(",")).mapToInt(Integer::parseInt).toArray();
                case "--torch-threads" -> torchThreads = Arrays.stream(args[++i].split(",")).mapToInt(Integer::parseInt).toArray();
                case "--no-torch" -> torch = false;
                case "--torch-openblas" -> torchOpenBlas = true;
                case "--replot" -> {
                    replot(out);
                    return;
                }
                default -> {
                    System.err.println("unknown argument " + args[i]);
                    System.exit(2);
                }
            }
        }
        Files.createDirectories(out);
        String started = ZonedDateTime.now().toString();
        String load0 = Suite.loadavg();
        List<D4jRun> runs = new ArrayList<>();
        History curves;
        try (Mnist.Data data = Mnist.load(dir)) {
            int rows = data.train().size();
            for (int b : batches) {
                for (int t : threads) {
                    List<Double> secs = new ArrayList<>();
                    double acc = Double.NaN;
                    for (int r = 0; r < repeats; r++) {
                        Dense4J.setThreads(t);
                        try (Sequential m = referenceModel()) {
                            long t0 = System.nanoTime();
                            m.fit(data.train(), Fit.epochs(epochs).batchSize(b).seed(42));
                            secs.add((System.nanoTime() - t0) / 1e9);
                            acc = m.evaluate(data.test()).accuracy();
                        }
                    }
                    double med = median(secs);
                    runs.add(new D4jRun(b, t, med, acc, secs));
                    System.out.printf("dense4j batch %4d, %d thread(s): train %.3f s (median of %d: %s), %.0f samples/s, "
                            + "test accuracy %.4f%n", b, t, med, repeats, secs, rows * (double) epochs / med, acc);
                }
            }
            Dense4J.setThreads(1);
            try (Sequential m = referenceModel()) {
                curves = m.fit(data.train(), Fit.epochs(curveEpochs).batchSize(32).validationSplit(0.1).seed(42));
                curves.epochs().forEach(e -> System.out.println("curves " + e.summary(curves.epochs().size())));
            }
            List<Map<String, Object>> pt = null;
            if (torch) {
                StringBuilder bs = new StringBuilder();
                for (int b : batches) {
                    bs.append(bs.length() > 0 ? "," : "").append(b);
                }
                List<Object[]> variants = new ArrayList<>();
                for (int t : torchThreads) {
                    variants.add(new Object[] {t, null});
                }
                Path ob = torchOpenBlas ? PyTorch.javacppOpenBlas() : null;
                if (torchOpenBlas && ob == null) {
                    System.out.println("pytorch + OpenBLAS: not run (the JavaCPP OpenBLAS library was not found in the cache)");
                }
                for (int t : ob == null ? new int[0] : torchThreads) {
                    variants.add(new Object[] {t, ob});
                }
                for (Object[] v : variants) {
                    int t = (Integer) v[0];
                    List<Map<String, Object>> r = PyTorch.run(dir, epochs, bs.toString(), t, (Path) v[1]);
                    if (r == null) {
                        System.out.println("pytorch: not run (no python3 with torch: apt-get install python3-torch, or set D4J_PYTHON)");
                        break;
                    }
                    pt = pt == null ? new ArrayList<>() : pt;
                    pt.addAll(r);
                    for (Map<String, Object> x : r) {
                        System.out.printf("pytorch %s (%s) batch %4s, %s thread(s): train %.3f s, test accuracy %.4f%n",
                                x.get("torch"), x.get("blas"), x.get("batch"), x.get("threads"), num(x, "train_seconds"),
                                num(x, "test_accuracy"));
                    }
                }
            }
            Map<String, Object> result = new LinkedHashMap<>();
            result.put("started", started);
            result.put("loadavg_start", load0);
            result.put("loadavg_end", Suite.loadavg());
            result.put("machine", Suite.cpuModel() + ", " + Runtime.getRuntime().availableProcessors() + " cores");
            result.put("epochs", epochs);
            result.put("rows", rows);
            result.put("dense4j", runs);
            result.put("pytorch", pt);
            result.put("curves", curves.asMap());
            new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(out.resolve("e2e.json").toFile(), result);
            String md = table(runs, pt, batches, threads, rows, epochs);
            Files.writeString(out.resolve("e2e.md"), md);
            System.out.print(md);
            Plots.trainingCurves(curves, out.resolve("training-curves.png"));
            throughputChart(runs, pt, threads, rows, epochs, out.resolve("throughput-cpu.png"));
            System.out.println("wrote " + out.resolve("e2e.json") + ", e2e.md, training-curves.png, throughput-cpu.png");
        }
    }

    /** Redraws e2e.md and the charts from DIR/e2e.json (DIR given by --out before --replot). */
    @SuppressWarnings("unchecked")
    static void replot(Path out) throws Exception {
        ObjectMapper json = new ObjectMapper();
        Map<String, Object> r = json.readValue(out.resolve("e2e.json").toFile(), Map.class);
        List<D4jRun> runs = new ArrayList<>();
        List<Integer> batchList = new ArrayList<>();
        List<Integer> threadList = new ArrayList<>();
        for (Object o : (List<Object>) r.get("dense4j")) {
            D4jRun d = json.convertValue(o, D4jRun.class);
            runs.add(d);
            if (!batchList.contains(d.batch())) {
                batchList.add(d.batch());
            }
            if (!threadList.contains(d.threads())) {
                threadList.add(d.threads());
            }
        }
        List<Map<String, Object>> pt = (List<Map<String, Object>>) r.get("pytorch");
        int rows = ((Number) r.get("rows")).intValue();
        int epochs = ((Number) r.get("epochs")).intValue();
        int[] batches = batchList.stream().mapToInt(Integer::intValue).toArray();
        int[] threads = threadList.stream().mapToInt(Integer::intValue).toArray();
        String md = table(runs, pt, batches, threads, rows, epochs);
        Files.writeString(out.resolve("e2e.md"), md);
        System.out.print(md);
        Map<String, List<Number>> c = (Map<String, List<Number>>) r.get("curves");
        History h = new History();
        for (int e = 0; e < c.get("loss").size(); e++) {
            h.add(new io.dense4j.train.EpochLog(e, v(c, "loss", e), v(c, "accuracy", e), v(c, "val_loss", e),
                    v(c, "val_accuracy", e), v(c, "learning_rate", e), v(c, "seconds", e)));
        }
        Plots.trainingCurves(h, out.resolve("training-curves.png"));
        throughputChart(runs, pt, threads, rows, epochs, out.resolve("throughput-cpu.png"));
    }

    private static double v(Map<String, List<Number>> c, String k, int e) {
        List<Number> l = c.get(k);
        return l == null || l.get(e) == null ? Double.NaN : l.get(e).doubleValue();
    }

    static Sequential referenceModel() {
        Sequential m = Sequential.of(Dense.of(784, 128, Activation.RELU), Dense.of(128, 10, Activation.SOFTMAX));
        m.compile(Optimizers.adam(1e-3), Losses.SPARSE_CATEGORICAL_CROSSENTROPY, Metrics.ACCURACY);
        return m;
    }

    static double median(List<Double> v) {
        List<Double> s = new ArrayList<>(v);
        s.sort(null);
        int n = s.size();
        return n % 2 == 1 ? s.get(n / 2) : (s.get(n / 2 - 1) + s.get(n / 2)) / 2;
    }

    static double num(Map<String, Object> m, String k) {
        return ((Number) m.get(k)).doubleValue();
    }

    static String blas(Map<String, Object> r) {
        Object b = r.get("blas");
        return b == null ? PyTorch.SYSTEM_BLAS : b.toString();
    }

    static String shortBlas(String blas) {
        return blas.equals(PyTorch.SYSTEM_BLAS) ? "system BLAS" : "OpenBLAS";
    }

    static Map<String, Object> torchAt(List<Map<String, Object>> pt, int batch, int threads, String blas) {
        if (pt != null) {
            for (Map<String, Object> r : pt) {
                if (((Number) r.get("batch")).intValue() == batch && ((Number) r.get("threads")).intValue() == threads
                        && blas(r).equals(blas)) {
                    return r;
                }
            }
        }
        return null;
    }

    static D4jRun d4jAt(List<D4jRun> runs, int batch, int threads) {
        for (D4jRun r : runs) {
            if (r.batch() == batch && r.threads() == threads) {
                return r;
            }
        }
        return null;
    }

    /** Seconds, test accuracy and samples/s per engine and thread count, then PyTorch / Dense4J time ratios. */
    static String table(List<D4jRun> runs, List<Map<String, Object>> pt, int[] batches, int[] threads, int rows, int epochs) {
        List<Integer> ptThreads = new ArrayList<>();
        List<String> blases = new ArrayList<>();
        for (Map<String, Object> r : pt == null ? List.<Map<String, Object>>of() : pt) {
            int t = ((Number) r.get("threads")).intValue();
            if (!ptThreads.contains(t)) {
                ptThreads.add(t);
            }
            if (!blases.contains(blas(r))) {
                blases.add(blas(r));
            }
        }
        StringBuilder b = new StringBuilder("| batch | engine | threads | train s (Dense4J: median; min) | samples/s | test accuracy |");
        for (String bl : blases) {
            b.append(" PyTorch (").append(shortBlas(bl)).append(") / Dense4J, same threads |");
        }
        b.append("\n|---|---|---|---|---|---|");
        b.append("---|".repeat(blases.size())).append('\n');
        for (int batch : batches) {
            for (int t : threads) {
                D4jRun r = d4jAt(runs, batch, t);
                if (r == null) {
                    continue;
                }
                double min = r.all() == null || r.all().isEmpty() ? r.seconds()
                        : r.all().stream().mapToDouble(Double::doubleValue).min().getAsDouble();
                b.append(String.format("| %d | Dense4J | %d | %.2f; %.2f | %,.0f | %.4f |", batch, t, r.seconds(), min,
                        rows * (double) epochs / r.seconds(), r.accuracy()));
                for (String bl : blases) {
                    Map<String, Object> p = torchAt(pt, batch, t, bl);
                    b.append(p == null ? " — |" : String.format(" **%.1fx** |", num(p, "train_seconds") / r.seconds()));
                }
                b.append('\n');
            }
            for (String bl : blases) {
                for (int t : ptThreads) {
                    Map<String, Object> p = torchAt(pt, batch, t, bl);
                    if (p != null) {
                        b.append(String.format("| %d | PyTorch %s, %s | %d | %.2f | %,.0f | %.4f |%s%n", batch, p.get("torch"), shortBlas(bl),
                                t, num(p, "train_seconds"), rows * (double) epochs / num(p, "train_seconds"),
                                num(p, "test_accuracy"), " |".repeat(blases.size())));
                    }
                }
            }
        }
        return b.toString();
    }

    static void throughputChart(List<D4jRun> runs, List<Map<String, Object>> pt, int[] threads, int rows, int epochs,
                                Path png) throws Exception {
        XYChart c = new XYChartBuilder().width(860).height(520)
                .title("Training throughput, reference model, 5 epochs (GPU: not measured, no GPU in this session)")
                .xAxisTitle("batch size").yAxisTitle("samples / s (log)").build();
        Plots.style(c);
        c.getStyler().setXAxisLogarithmic(true);
        c.getStyler().setYAxisLogarithmic(true);
        c.getStyler().setYAxisDecimalPattern("#,###");
        c.getStyler().setChartTitleFont(c.getStyler().getChartTitleFont().deriveFont(14f));
        c.getStyler().setLegendPosition(org.knowm.xchart.style.Styler.LegendPosition.OutsideS);
        c.getStyler().setXAxisDecimalPattern("0");
        for (int t : threads) {
            List<Double> x = new ArrayList<>();
            List<Double> y = new ArrayList<>();
            for (D4jRun r : runs) {
                if (r.threads() == t) {
                    x.add((double) r.batch());
                    y.add(rows * (double) epochs / r.seconds());
                }
            }
            XYSeries s = c.addSeries("Dense4J CPU, " + t + " thread" + (t > 1 ? "s" : ""), x, y);
            s.setMarker(SeriesMarkers.CIRCLE);
        }
        List<String> seen = new ArrayList<>();
        for (Map<String, Object> p : pt == null ? List.<Map<String, Object>>of() : pt) {
            int t = ((Number) p.get("threads")).intValue();
            String key = blas(p) + "|" + t;
            if (seen.contains(key)) {
                continue;
            }
            seen.add(key);
            List<Double> x = new ArrayList<>();
            List<Double> y = new ArrayList<>();
            for (Map<String, Object> r : pt) {
                if (((Number) r.get("threads")).intValue() == t && blas(r).equals(blas(p))) {
                    x.add(num(r, "batch"));
                    y.add(rows * (double) epochs / num(r, "train_seconds"));
                }
            }
            String label = blas(p).equals(PyTorch.SYSTEM_BLAS) ? "system BLAS" : "OpenBLAS";
            XYSeries s = c.addSeries("PyTorch " + p.get("torch") + " CPU (" + label + "), " + t + " thread" + (t > 1 ? "s" : ""), x, y);
            s.setMarker(label.equals("OpenBLAS") ? SeriesMarkers.TRIANGLE_UP : SeriesMarkers.SQUARE);
        }
        Plots.writePng(List.of(c), png);
    }
}
