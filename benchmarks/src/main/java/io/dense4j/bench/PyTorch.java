package io.dense4j.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Runs benchmarks/python/reference_workload.py with a Python that has torch (Debian's python3-torch). */
final class PyTorch {
    private PyTorch() {}

    /**
     * The first of $D4J_PYTHON, python3 on the PATH, /usr/bin/python3 that can import torch (a pyenv or venv
     * python3 on the PATH often hides the system one that Debian's python3-torch installs into); null if none.
     */
    static String interpreter() throws Exception {
        List<String> candidates = new ArrayList<>();
        String env = System.getenv("D4J_PYTHON");
        if (env != null && !env.isBlank()) {
            candidates.add(env);
        }
        candidates.add("python3");
        candidates.add("/usr/bin/python3");
        for (String py : candidates) {
            try {
                Process check = new ProcessBuilder(py, "-c", "import torch").redirectErrorStream(true).start();
                check.getInputStream().readAllBytes();
                if (check.waitFor() == 0) {
                    return py;
                }
            } catch (java.io.IOException notThere) {
                // try the next one
            }
        }
        return null;
    }

    /** The BLAS label of a run without preload: Debian's python3-torch links libblas.so.3 (see RESULTS.md). */
    static final String SYSTEM_BLAS = "system libblas.so.3";

    /** Longest a PyTorch process may run (all its batch sizes); -Dd4j.torchTimeout=SECONDS changes it. */
    static final long timeoutSeconds = Long.getLong("d4j.torchTimeout", 600);

    /**
     * One result map per batch size (train_seconds, test_accuracy, ..., plus "blas"), or null when torch is
     * not installed. With {@code preloadBlas} non-null, that BLAS library is LD_PRELOADed into the Python
     * process (its sgemm_ then replaces the system libblas's for PyTorch) with OPENBLAS_NUM_THREADS = threads.
     */
    @SuppressWarnings("unchecked")
    static List<Map<String, Object>> run(Path dir, int epochs, String batches, int threads, Path preloadBlas)
            throws Exception {
        String py = interpreter();
        if (py == null) {
            return null;
        }
        ProcessBuilder pb = new ProcessBuilder(py, locateScript().toString(), dir.toString(), Integer.toString(epochs),
                batches, Integer.toString(threads)).redirectErrorStream(true);
        if (preloadBlas != null) {
            pb.environment().put("LD_PRELOAD", preloadBlas.toString());
            pb.environment().put("OPENBLAS_NUM_THREADS", Integer.toString(threads));
        }
        Process p = pb.start();
        List<Map<String, Object>> out = new ArrayList<>();
        ObjectMapper json = new ObjectMapper();
        // a run that oversubscribes a busy machine (OpenMP + OpenBLAS workers) can take many minutes: bound it
        boolean[] timedOut = {false};
        Thread watchdog = new Thread(() -> {
            try {
                if (!p.waitFor(timeoutSeconds, java.util.concurrent.TimeUnit.SECONDS)) {
                    timedOut[0] = true;
                    p.destroyForcibly();
                }
            } catch (InterruptedException ignored) {
                // the run ended
            }
        });
        watchdog.setDaemon(true);
        watchdog.start();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = r.readLine()) != null) {
                if (line.startsWith("{")) {
                    Map<String, Object> m = json.readValue(line, Map.class);
                    m.put("blas", preloadBlas == null ? SYSTEM_BLAS : "OpenBLAS (LD_PRELOAD " + preloadBlas.getFileName() + ")");
                    out.add(m);
                } else {
                    System.out.println("pytorch: " + line);
                }
            }
        }
        int rc = p.waitFor();
        watchdog.interrupt();
        if (timedOut[0]) {
            System.out.println("pytorch: stopped after " + timeoutSeconds + " s (" + threads + " thread(s), "
                    + (preloadBlas == null ? SYSTEM_BLAS : "OpenBLAS") + "); batch sizes not reached are not measured");
            return out;
        }
        if (rc != 0 || out.isEmpty()) {
            throw new IllegalStateException("the PyTorch run failed (exit " + rc + ")");
        }
        return out;
    }

    static List<Map<String, Object>> run(Path dir, int epochs, String batches, int threads) throws Exception {
        return run(dir, epochs, batches, threads, null);
    }

    /** The libopenblas.so.0 of the JavaCPP OpenBLAS preset the benchmarks measure against (loads it to find it). */
    static Path javacppOpenBlas() throws Exception {
        org.bytedeco.javacpp.Loader.load(org.bytedeco.openblas.global.openblas.class);
        Path cache = Path.of(org.bytedeco.javacpp.Loader.getCacheDir().getPath());
        try (var s = Files.walk(cache)) {
            return s.filter(f -> f.getFileName().toString().equals("libopenblas.so.0")
                            && f.toString().contains("org/bytedeco/openblas"))
                    .findFirst().orElse(null);
        }
    }

    static Path locateScript() {
        for (Path p : new Path[] {Path.of("benchmarks/python/reference_workload.py"), Path.of("python/reference_workload.py"),
                Path.of("../benchmarks/python/reference_workload.py")}) {
            if (Files.exists(p)) {
                return p;
            }
        }
        throw new IllegalStateException("benchmarks/python/reference_workload.py not found; run from the repository root");
    }
}
