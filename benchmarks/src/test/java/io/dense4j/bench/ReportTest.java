package io.dense4j.bench;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.InputStream;
import org.junit.jupiter.api.Test;

/** The JSON-to-markdown report on a small JMH fixture with known numbers. */
class ReportTest {
    @Test
    void rendersTablesWithDerivedFigures() throws Exception {
        ObjectMapper json = new ObjectMapper();
        JsonNode results;
        try (InputStream in = getClass().getResourceAsStream("/jmh-fixture.json")) {
            results = json.readTree(in);
        }
        JsonNode meta = json.readTree("{\"profile\":\"quick\",\"settings\":\"s\",\"cpu_model\":\"Test CPU\",\"cores\":2,"
                + "\"openblas_coretype\":\"ZEN\",\"skipped\":[{\"device\":\"cuda\",\"reason\":\"no CUDA binding\"}]}");
        String md = Report.render(results, meta);
        // forward 32x784x128: 2*32*784*128 = 6,422,528 FLOP in 100 us -> 64.2 GFLOP/s
        assertTrue(md.contains("| forward (relu) | 32x784x128 | cpu | 1 | 100 | 20% | 64.2 |"), md);
        // ceiling sgemmForward 80 us -> 80% of the vendor GEMM; peak 2*2048^3 FLOP in 200 ms = 85.9 GFLOP/s -> 75%
        assertTrue(md.contains("| 80.0 | 80% | 75% | 25x |"), md);
        // plain Java forward 2500 us -> speed-up 25x; the java row has no ceiling
        assertTrue(md.contains("| forward (relu) | 32x784x128 | java | 1 | 2,500 |"), md);
        // adam: 7 floats x 4 bytes x 101,770 params in 50 us = 57.0 GB/s, 10x over Java's 500 us
        assertTrue(md.contains("| adam | cpu | 50.0 | 0% | 57.0 | 10x |"), md);
        // train step: 64 steps per call in 6400 us -> 100 us per step, 320,000 samples/s
        assertTrue(md.contains("| 32 | 64 | cpu | 1 | 6,400 | 0% | 100 | 320,000 |"), md);
        assertTrue(md.contains("device `cuda`: **not measured** — no CUDA binding"), md);
        assertTrue(md.contains("| cpu | 1 | 2048³ | 200.0 ms | 0% | 85.9 |"), md);
    }
}
