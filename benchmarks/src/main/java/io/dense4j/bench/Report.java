package io.dense4j.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Turns JMH's JSON result (-rf json) into the markdown tables of RESULTS.md: median time, GFLOP/s or GB/s,
 * % of the vendor GEMM at the same shape, % of the measured peak, speed-up over plain Java.
 *
 * <pre>java -cp benchmarks/target/benchmarks.jar io.dense4j.bench.Report results.json [meta.json] [out.md]</pre>
 *
 * Times are medians of all measurement iterations (JMH's 50th percentile); "spread" is (max - min) / median
 * over the same iterations, a quick indicator of how noisy the machine was.
 */
public final class Report {
    /** One benchmark result: method, parameters, median time in microseconds, spread. */
    record Row(String cls, String method, Map<String, String> params, double medianUs, double spread, int samples) {
        String p(String k) {
            return params.getOrDefault(k, "");
        }

        String device() {
            return p("device").isEmpty() ? "cpu" : p("device");
        }

        String threads() {
            return p("cpuThreads").isEmpty() ? "1" : p("cpuThreads");
        }

        double amount() {
            return Work.amount(method, params);
        }
    }

    private final List<Row> rows = new ArrayList<>();
    private final JsonNode meta;

    Report(JsonNode results, JsonNode meta) {
        this.meta = meta;
        for (JsonNode n : results) {
            String full = n.get("benchmark").asText();
            String[] parts = full.split("\\.");
            Map<String, String> params = new TreeMap<>();
            if (n.has("params")) {
                Iterator<Map.Entry<String, JsonNode>> it = n.get("params").fields();
                while (it.hasNext()) {
                    Map.Entry<String, JsonNode> e = it.next();
                    params.put(e.getKey(), e.getValue().asText());
                }
            }
            if (full.endsWith("OptimizerBenchmarks.optimizer")) {
                params.putIfAbsent("optimizer", "?");
            }
            JsonNode pm = n.get("primaryMetric");
            double scale = toMicros(pm.get("scoreUnit").asText());
            JsonNode pct = pm.get("scorePercentiles");
            double median = (pct != null && pct.has("50.0") ? pct.get("50.0").asDouble() : pm.get("score").asDouble()) * scale;
            double min = pct != null && pct.has("0.0") ? pct.get("0.0").asDouble() * scale : median;
            double max = pct != null && pct.has("100.0") ? pct.get("100.0").asDouble() * scale : median;
            int samples = 0;
            if (pm.has("rawData")) {
                for (JsonNode fork : pm.get("rawData")) {
                    samples += fork.size();
                }
            }
            rows.add(new Row(parts[parts.length - 2], parts[parts.length - 1], params, median, (max - min) / median, samples));
        }
    }

    static double toMicros(String unit) {
        return switch (unit) {
            case "ns/op" -> 1e-3;
            case "us/op" -> 1;
            case "ms/op" -> 1e3;
            case "s/op" -> 1e6;
            default -> throw new IllegalArgumentException("unit " + unit + ": run the benchmarks in average-time mode");
        };
    }

    /** Markdown for a JMH JSON array and the Suite's metadata (may be null). */
    public static String render(JsonNode results, JsonNode meta) {
        return new Report(results, meta).render();
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 1) {
            System.err.println("usage: Report results.json [meta.json] [out.md]");
            System.exit(2);
        }
        ObjectMapper json = new ObjectMapper();
        JsonNode results = json.readTree(Path.of(args[0]).toFile());
        JsonNode meta = args.length > 1 ? json.readTree(Path.of(args[1]).toFile()) : null;
        String md = render(results, meta);
        if (args.length > 2) {
            Files.writeString(Path.of(args[2]), md);
        } else {
            System.out.print(md);
        }
    }

    // ------------------------------------------------------------------------------------------------ lookups

    private Row find(String method, String device, String threads, Map<String, String> same) {
        for (Row r : rows) {
            if (!r.method.equals(method) || !r.device().equals(device)) {
                continue;
            }
            if (threads != null && !r.threads().equals(threads)) {
                continue;
            }
            boolean ok = true;
            for (Map.Entry<String, String> e : same.entrySet()) {
                if (!e.getValue().equals(r.p(e.getKey()))) {
                    ok = false;
                    break;
                }
            }
            if (ok) {
                return r;
            }
        }
        return null;
    }

    /** The measured peak (vendor sgemm, large square) of a device at a thread count, in GFLOP/s; NaN if absent. */
    private double peakGflops(String device, String threads) {
        Row r = find("sgemmPeak", device, device.equals("cpu") ? threads : null, Map.of());
        return r == null ? Double.NaN : r.amount() / r.medianUs / 1e3;
    }

    private double javaUs(Row r, String... keys) {
        Map<String, String> same = new LinkedHashMap<>();
        for (String k : keys) {
            same.put(k, r.p(k));
        }
        Row j = find(r.method, "java", "1", same);
        return j == null ? Double.NaN : j.medianUs;
    }

    private List<Row> of(String... methods) {
        List<Row> out = new ArrayList<>();
        for (String m : methods) {
            for (Row r : rows) {
                if (r.method.equals(m)) {
                    out.add(r);
                }
            }
        }
        return out;
    }

    // ------------------------------------------------------------------------------------------------ output

    static String us(double v) {
        if (Double.isNaN(v)) {
            return "—";
        }
        return v >= 100 ? String.format("%,.0f", v) : v >= 10 ? String.format("%.1f", v) : String.format("%.2f", v);
    }

    static String num(double v, String fmt) {
        return Double.isNaN(v) || Double.isInfinite(v) ? "—" : String.format(fmt, v);
    }

    static String pct(double v) {
        return num(v * 100, "%.0f%%");
    }

    static String times(double v) {
        return num(v, v >= 10 ? "%.0fx" : "%.1fx");
    }

    static String spread(Row r) {
        return num(r.spread * 100, "%.0f%%");
    }

    private String render() {
        StringBuilder b = new StringBuilder();
        if (meta != null) {
            b.append(String.format("Profile `%s` (%s). %s, %d cores, OPENBLAS_CORETYPE %s, %s, %s. "
                            + "Load average at start: %s; at end: %s. Run %s to %s.%n%n",
                    meta.path("profile").asText(), meta.path("settings").asText(), meta.path("cpu_model").asText(),
                    meta.path("cores").asInt(), meta.path("openblas_coretype").asText(),
                    meta.path("openblas_version").asText(), meta.path("java").asText(),
                    meta.path("loadavg_start").asText(), meta.path("loadavg_end").asText(),
                    meta.path("started").asText(), meta.path("finished").asText()));
        }
        b.append("Times are medians over all measurement iterations; spread = (max - min) / median. "
                + "GFLOP/s counts GEMM multiply-adds as 2 FLOPs; GB/s counts each float read or written once.\n\n");
        skipped(b);
        peak(b);
        gemmOps(b);
        biasGrad(b);
        memoryOps(b);
        optimizers(b);
        trainSteps(b);
        inference(b);
        api(b);
        return b.toString();
    }

    private void skipped(StringBuilder b) {
        if (meta == null || !meta.has("skipped")) {
            return;
        }
        Set<String> lines = new LinkedHashSet<>();
        for (JsonNode s : meta.get("skipped")) {
            if (s.has("shape")) {
                lines.add("shape " + s.get("shape").asText() + " on " + s.get("device").asText() + ": not measured ("
                        + s.get("reason").asText() + ")");
            } else {
                lines.add("device `" + s.get("device").asText() + "`: **not measured** — " + s.get("reason").asText());
            }
        }
        if (!lines.isEmpty()) {
            b.append("Not measured in this run:\n\n");
            lines.forEach(l -> b.append("- ").append(l).append('\n'));
            b.append('\n');
        }
    }

    private void peak(StringBuilder b) {
        List<Row> peaks = of("sgemmPeak");
        if (peaks.isEmpty()) {
            return;
        }
        b.append("### Measured peak (vendor sgemm, large square)\n\n");
        b.append("| device | threads | size | median | spread | GFLOP/s |\n|---|---|---|---|---|---|\n");
        for (Row r : peaks) {
            b.append(String.format("| %s | %s | %s³ | %s ms | %s | %s |%n", r.device(), r.threads(), r.p("size"),
                    num(r.medianUs / 1e3, "%.1f"), spread(r), num(r.amount() / r.medianUs / 1e3, "%.1f")));
        }
        b.append('\n');
    }

    private void gemmOps(StringBuilder b) {
        List<Row> list = of("forward", "backward", "backwardFirstLayer", "sgemmForward", "sgemmWeightGrad", "sgemmInputGrad");
        if (list.isEmpty()) {
            return;
        }
        b.append("### GEMM-bound ops (one Dense layer, shape n x in x out)\n\n");
        b.append("Ceiling: the vendor GEMM(s) the op contains, at the same shape (OpenBLAS `cblas_sgemm` on cpu; "
                + "on cuda Dense4J's own `d4j_cuda_gemm`, no cuBLAS binding: cuBLAS is compared in native/scripts/gpu-check.sh's table): forward vs sgemmForward, backward vs sgemmWeightGrad + sgemmInputGrad, "
                + "backwardFirstLayer vs sgemmWeightGrad. % of peak: against the measured peak at the same thread count.\n\n");
        b.append("| op | shape | device | threads | median µs | spread | GFLOP/s | ceiling µs | % of vendor GEMM | % of peak | speed-up over plain Java |\n");
        b.append("|---|---|---|---|---|---|---|---|---|---|---|\n");
        for (String shape : shapesIn(list)) {
            for (Row r : list) {
                if (!r.p("shape").equals(shape)) {
                    continue;
                }
                double gflops = r.amount() / r.medianUs / 1e3;
                double ceil = ceilingUs(r);
                double vendor = r.method.startsWith("sgemm") || r.device().equals("java") ? Double.NaN : ceil / r.medianUs;
                double peak = peakGflops(r.device(), r.threads());
                double speedup = r.device().equals("java") ? Double.NaN : javaUs(r, "shape") / r.medianUs;
                String act = r.method.equals("forward") ? " (" + Shape.parse(shape).activationName() + ")" : "";
                b.append(String.format("| %s%s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |%n", r.method, act, shape,
                        r.device(), r.threads(), us(r.medianUs), spread(r), num(gflops, "%.1f"),
                        r.method.startsWith("sgemm") ? "(is the ceiling)" : us(r.device().equals("java") ? Double.NaN : ceil),
                        pct(vendor), pct(gflops / peak), times(speedup)));
            }
        }
        b.append('\n');
    }

    private List<String> shapesIn(List<Row> list) {
        Set<String> s = new LinkedHashSet<>();
        for (String known : List.of(Shape.REF_HIDDEN, Shape.REF_OUTPUT, Shape.MEDIUM, Shape.LARGE)) {
            for (Row r : list) {
                if (r.p("shape").equals(known)) {
                    s.add(known);
                }
            }
        }
        for (Row r : list) {
            s.add(r.p("shape"));
        }
        return new ArrayList<>(s);
    }

    /** Time of the vendor GEMM(s) an op is compared with, at the same device, shape and threads. */
    private double ceilingUs(Row r) {
        Map<String, String> same = Map.of("shape", r.p("shape"));
        String[] parts = switch (r.method) {
            case "forward" -> new String[] {"sgemmForward"};
            case "backward" -> new String[] {"sgemmWeightGrad", "sgemmInputGrad"};
            case "backwardFirstLayer" -> new String[] {"sgemmWeightGrad"};
            default -> new String[] {r.method};
        };
        double t = 0;
        for (String m : parts) {
            Row c = find(m, r.device(), r.threads(), same);
            if (c == null) {
                return Double.NaN;
            }
            t += c.medianUs;
        }
        return t;
    }

    private void biasGrad(StringBuilder b) {
        List<Row> list = of("backwardFirstLayer");
        List<String> lines = new ArrayList<>();
        for (Row r : list) {
            if (r.device().equals("java")) {
                continue;
            }
            Row g = find("sgemmWeightGrad", r.device(), r.threads(), Map.of("shape", r.p("shape")));
            if (g == null) {
                continue;
            }
            Shape s = Shape.parse(r.p("shape"));
            double diff = r.medianUs - g.medianUs;
            double gbs = diff > 0 ? 4.0 * s.n() * s.out() / diff / 1e3 : Double.NaN;
            lines.add(String.format("| %s | %s | %s | %s | %s | %s | %s |", r.p("shape"), r.device(), r.threads(),
                    us(r.medianUs), us(g.medianUs), diff > 0 ? num(diff, "%.2f") : "≤ 0 (below the noise)", num(gbs, "%.1f")));
        }
        if (lines.isEmpty()) {
            return;
        }
        b.append("### Bias gradient (estimated)\n\n");
        b.append("The bias gradient has no C entry point of its own (it is a pass over dz inside d4j_dense_backward), "
                + "so it is estimated as backwardFirstLayer (dW + db) minus sgemmWeightGrad (dW alone); "
                + "the difference also holds one JNI call. Differences within the spread of the two medians are noise.\n\n");
        b.append("| shape | device | threads | dW + db µs | dW alone µs | db estimate µs | GB/s reading dz |\n");
        b.append("|---|---|---|---|---|---|---|\n");
        lines.forEach(l -> b.append(l).append('\n'));
        b.append('\n');
    }

    private void memoryOps(StringBuilder b) {
        List<Row> list = of("activationBackward", "softmaxCrossEntropy");
        if (list.isEmpty()) {
            return;
        }
        b.append("### Memory-bound ops\n\n");
        b.append("activationBackward: relu over [n, out] (reads y and dy, writes dz). softmaxCrossEntropy: fused softmax + "
                + "sparse categorical cross-entropy over logits [n, out] (loss, gradient and correct count in one pass).\n\n");
        b.append("| op | shape | device | threads | median µs | spread | GB/s | speed-up over plain Java |\n|---|---|---|---|---|---|---|---|\n");
        for (String shape : shapesIn(list)) {
            for (Row r : list) {
                if (r.p("shape").equals(shape)) {
                    b.append(String.format("| %s | %s | %s | %s | %s | %s | %s | %s |%n", r.method, shape, r.device(),
                            r.threads(), us(r.medianUs), spread(r), num(r.amount() / r.medianUs / 1e3, "%.1f"),
                            times(r.device().equals("java") ? Double.NaN : javaUs(r, "shape") / r.medianUs)));
                }
            }
        }
        b.append('\n');
    }

    private void optimizers(StringBuilder b) {
        List<Row> list = of("optimizer");
        if (list.isEmpty()) {
            return;
        }
        b.append("### Optimizer updates (reference model, " + String.format("%,d", Work.REF_PARAMS) + " parameters)\n\n");
        b.append("| optimizer | device | median µs | spread | GB/s | speed-up over plain Java |\n|---|---|---|---|---|---|\n");
        for (Row r : list) {
            b.append(String.format("| %s | %s | %s | %s | %s | %s |%n", r.p("optimizer"), r.device(), us(r.medianUs), spread(r),
                    num(r.amount() / r.medianUs / 1e3, "%.1f"),
                    times(r.device().equals("java") ? Double.NaN : javaUs(r, "optimizer") / r.medianUs)));
        }
        b.append('\n');
    }

    private void trainSteps(StringBuilder b) {
        List<Row> list = of("trainStep");
        if (list.isEmpty()) {
            return;
        }
        b.append("### Training step (reference model 784-128-10, Adam, d4j_net_train)\n\n");
        b.append("steps/call: training steps per native call (1 = one JNI crossing per step). Per-step figures divide "
                + "the call's median by steps/call.\n\n");
        b.append("| batch | steps/call | device | threads | median µs per call | spread | µs per step | samples/s | GFLOP/s | % of peak | speed-up over plain Java |\n");
        b.append("|---|---|---|---|---|---|---|---|---|---|---|\n");
        for (Row r : list) {
            int steps = Work.stepsPerInvocation(r.method, r.params);
            double perStep = r.medianUs / steps;
            double gflops = r.amount() / r.medianUs / 1e3;
            Row j = find("trainStep", "java", "1", Map.of("batch", r.p("batch"), "stepsPerCall", "1"));
            double speedup = r.device().equals("java") || j == null ? Double.NaN : j.medianUs / perStep;
            b.append(String.format("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |%n", r.p("batch"), steps,
                    r.device(), r.threads(), us(r.medianUs), spread(r), us(perStep),
                    num(Integer.parseInt(r.p("batch")) / perStep * 1e6, "%,.0f"), num(gflops, "%.1f"),
                    pct(gflops / peakGflops(r.device(), r.threads())), times(speedup)));
        }
        b.append('\n');
    }

    private void inference(StringBuilder b) {
        List<Row> list = of("inference");
        if (list.isEmpty()) {
            return;
        }
        b.append("### Inference (reference model, d4j_net_forward)\n\n");
        b.append("| batch | device | threads | median µs | spread | samples/s | GFLOP/s | speed-up over plain Java |\n|---|---|---|---|---|---|---|---|\n");
        for (Row r : list) {
            b.append(String.format("| %s | %s | %s | %s | %s | %s | %s | %s |%n", r.p("batch"), r.device(), r.threads(),
                    us(r.medianUs), spread(r), num(Integer.parseInt(r.p("batch")) / r.medianUs * 1e6, "%,.0f"),
                    num(r.amount() / r.medianUs / 1e3, "%.2f"),
                    times(r.device().equals("java") ? Double.NaN : javaUs(r, "batch") / r.medianUs)));
        }
        b.append('\n');
    }

    private void api(StringBuilder b) {
        List<Row> list = of("predictOneRow");
        if (list.isEmpty()) {
            return;
        }
        b.append("### Java API\n\n| benchmark | median µs | spread | goal |\n|---|---|---|---|\n");
        for (Row r : list) {
            b.append(String.format("| Sequential.predict(one row), reference model | %s | %s | < 20 µs |%n", us(r.medianUs), spread(r)));
        }
        b.append('\n');
    }
}
