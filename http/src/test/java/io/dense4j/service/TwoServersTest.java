package io.dense4j.service;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dense4j.registry.ModelRegistry;
import io.dense4j.service.job.JobRunner;
import io.dense4j.service.job.JobState;
import io.dense4j.service.scheduler.Capacity;
import io.dense4j.service.store.Database;
import io.dense4j.service.store.JobStore;
import io.dense4j.service.store.PostgresDatabases;
import io.dense4j.service.store.Records;
import io.dense4j.tune.Json;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two job services (two "servers", each with its own store connection, scheduler and threads) sharing one queue
 * and one registry: every job runs exactly once, both servers take part, each version is registered once.
 */
class TwoServersTest {
    @RegisterExtension
    static final PostgresDatabases POSTGRES = new PostgresDatabases();

    @TempDir
    Path dir;

    @Test
    void sqlite() throws Exception {
        shareOneQueue(Database.sqlite(dir.resolve("state.db")));
    }

    @Test
    void postgres() throws Exception {
        shareOneQueue(POSTGRES.newDatabase());
    }

    private void shareOneQueue(Database db) throws Exception {
        ModelRegistry registry = ModelRegistry.open(dir.resolve("registry"));
        JobStore setup = new JobStore(db);
        setup.putDataset(new Records.Dataset(TestData.BLOBS, "blobs", "generated", 600, 8, 3, List.of("a", "b", "c"),
                "-", 1, 0, io.dense4j.service.job.JobRunner.ADMIN_OWNER));
        List<JobService> servers = new ArrayList<>();
        for (String id : List.of("east", "west")) {
            servers.add(new JobService(new JobStore(db), new JobRunner(registry, TestData.resolver(), registry::setAlias),
                    new JobService.Settings(id, Capacity.of(1, List.of(), 0), 10, dir.resolve("work"),
                            Duration.ofSeconds(10), Duration.ofSeconds(2), Duration.ofMillis(30))));
        }
        try {
            List<Long> ids = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                ids.add(servers.get(i % 2).submit(Json.parse(JobServiceTest.train(TestData.BLOBS,
                        "{\"type\": \"adam\", \"learning_rate\": 0.01}", 1, ", \"register_as\": \"shared\"")), "u").id());
            }
            servers.forEach(JobService::start);
            Set<String> ranOn = new HashSet<>();
            for (long id : ids) {
                Records.Job j = null;
                for (int t = 0; t < 3000; t++) {
                    j = setup.job(id).orElseThrow();
                    if (j.state().terminal()) {
                        break;
                    }
                    Thread.sleep(20);
                }
                assertEquals(JobState.SUCCEEDED, j.state(), "job " + id + ": " + j.error());
                assertEquals(1, j.attempt(), "job " + id + " was claimed once");
                ranOn.add(setup.events(id, 0, 100).stream().filter(e -> e.payload().contains("\"running\""))
                        .map(e -> Json.parse(e.payload()).get("server").asText()).findFirst().orElseThrow());
            }
            assertEquals(Set.of("east", "west"), ranOn, "both servers ran jobs");
            assertEquals(8, registry.versionNumbers("shared").size());
            Set<String> sources = new HashSet<>();
            registry.versions("shared").forEach(v -> sources.add(v.source()));
            assertEquals(8, sources.size(), "one version per job");
            // a job's thread lets go of it just after its end is stored: a bound, not a wait
            long until = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(10);
            while (!servers.stream().allMatch(s -> s.runningHere().isEmpty()) && System.nanoTime() < until) {
                Thread.sleep(10);
            }
            assertTrue(servers.stream().allMatch(s -> s.runningHere().isEmpty()));
        } finally {
            servers.forEach(JobService::close);
        }
    }
}
