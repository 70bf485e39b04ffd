package io.dense4j.bench;

import io.dense4j.data.Csv;
import io.dense4j.data.Dataset;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * What checking a CSV upload costs against loading it: {@code read} loads the file as a training job does,
 * {@code inspect} checks it as the dataset upload does (Csv.inspect). Run under /usr/bin/time for the peak RSS, or
 * with a small -Xmx to see which fits (benchmarks/RESULTS.md, "CSV upload check").
 * <pre>java -Xmx4g -cp benchmarks/target/benchmarks.jar io.dense4j.bench.CsvCheckMemory read|inspect FILE</pre>
 * {@code FILE} defaults to a generated worst case: a header and 54 million rows {@code 0,0} (216 MB, 4 bytes a row).
 */
public final class CsvCheckMemory {
    private CsvCheckMemory() {
    }

    public static void main(String[] args) throws Exception {
        Path file = args.length > 1 ? Path.of(args[1]) : worstCase();
        long t0 = System.nanoTime();
        if (args.length > 0 && args[0].equals("read")) {
            try (Dataset d = Csv.read(file)) {
                System.out.println("read: " + d.size() + " rows, " + d.numFeatures() + " features");
            }
        } else {
            System.out.println("inspect: " + Csv.inspect(file, Csv.options()));
        }
        System.out.printf("%.1f s; heap max %d MiB%n", (System.nanoTime() - t0) / 1e9,
                Runtime.getRuntime().maxMemory() >> 20);
    }

    private static Path worstCase() throws Exception {
        Path f = Path.of(System.getProperty("java.io.tmpdir"), "dense4j-csv-worst-case.csv");
        if (!Files.exists(f)) {
            byte[] chunk = "0,0\n".repeat(1_000_000).getBytes(java.nio.charset.StandardCharsets.US_ASCII);
            try (var out = Files.newOutputStream(f)) {
                out.write("a,b\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
                for (int i = 0; i < 54; i++) {
                    out.write(chunk);
                }
            }
        }
        return f;
    }
}
