package io.dense4j.interop;

import java.nio.file.Files;
import java.nio.file.Path;

/** The team's shared data (../shared/data beside the repository root), where a checkout has it. */
public final class SharedData {
    private SharedData() {}

    /** {@code ../shared/data/<sub>} from the repository root, or null when absent. */
    public static Path dir(String sub) {
        for (String base : new String[] {"../shared/data", "../../shared/data"}) {
            Path p = Path.of(base, sub).toAbsolutePath().normalize();
            if (Files.isDirectory(p)) {
                return p;
            }
        }
        return null;
    }
}
