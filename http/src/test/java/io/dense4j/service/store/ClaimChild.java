package io.dense4j.service.store;

import java.time.Duration;
import java.util.Optional;

/**
 * A second JVM that claims jobs from a shared state store until none is left, printing each claimed id: the
 * two-process half of the "never claimed twice" test. Args: sqlite-path | jdbc:postgresql URL, server name.
 */
public final class ClaimChild {
    public static void main(String[] args) {
        Database db = args[0].startsWith("jdbc:") ? Database.postgres(args[0], "dense4j", null)
                : Database.sqlite(java.nio.file.Path.of(args[0]));
        JobStore store = new JobStore(db);
        System.out.println("READY");
        while (true) {
            Optional<Records.Claim> c = store.claimNext(args[1], Duration.ofMinutes(5));
            if (c.isEmpty()) {
                break;
            }
            System.out.println("CLAIMED " + c.get().jobId());
        }
        System.out.println("DONE");
    }
}
