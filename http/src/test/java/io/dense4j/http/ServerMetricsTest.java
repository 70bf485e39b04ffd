package io.dense4j.http;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Metric series follow what is served: no lost gauges on reloads, no series left for models that are gone. */
class ServerMetricsTest {
    @Test
    void queueGaugeSurvivesAReloadWhileTheRetiredCopyIsAlive() throws Exception {
        ServerMetrics m = new ServerMetrics();
        AutoCloseable retired = m.queueGauge("iris", 3, () -> 2);
        AutoCloseable reloaded = m.queueGauge("iris", 3, () -> 5); // same version loaded again before the old one closed
        assertTrue(m.scrape().contains("dense4j_batch_queue_depth{model=\"iris\",version=\"3\"} 7.0"), m.scrape());
        retired.close(); // the retired copy finishes its last request
        assertTrue(m.scrape().contains("dense4j_batch_queue_depth{model=\"iris\",version=\"3\"} 5.0"), m.scrape());
        reloaded.close();
        assertFalse(m.scrape().contains("dense4j_batch_queue_depth{model=\"iris\""), m.scrape());
    }

    @Test
    void modelSeriesGoWithTheModel() {
        ServerMetrics m = new ServerMetrics();
        m.loadedVersionsGauge(() -> java.util.Map.of("iris", 1));
        m.trackModel("iris");
        m.batchSize("iris").record(4);
        assertTrue(m.scrape().contains("model=\"iris\""));
        m.untrackModel("iris");
        assertFalse(m.scrape().contains("model=\"iris\""), m.scrape());
    }
}
