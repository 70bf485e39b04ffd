package io.dense4j.service.job;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;

/**
 * The code that trained a model, for lineage: the Dense4J version and the git commit the build came from
 * ({@code git describe --always --dirty}, written into the jar at build time; "unknown" outside a checkout).
 */
public final class CodeVersion {
    private CodeVersion() {}

    private static final String VALUE = compute();

    public static String get() {
        return VALUE;
    }

    private static String compute() {
        String version = CodeVersion.class.getPackage().getImplementationVersion();
        String commit = "unknown";
        try (InputStream in = CodeVersion.class.getResourceAsStream("/io/dense4j/service/git-commit.txt")) {
            if (in != null) {
                commit = new String(in.readAllBytes(), StandardCharsets.UTF_8).strip();
            }
        } catch (IOException ignored) {
            // keep "unknown"
        }
        return "dense4j " + (version == null ? "0.1.0-SNAPSHOT" : version) + " (git " + (commit.isEmpty() ? "unknown" : commit) + ")";
    }
}
