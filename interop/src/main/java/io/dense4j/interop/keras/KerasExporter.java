package io.dense4j.interop.keras;

import io.dense4j.interop.NetworkSpec;
import java.nio.file.Path;

final class KerasExporter {
    private KerasExporter() {}

    static void write(NetworkSpec spec, Path file) {
        throw new UnsupportedOperationException("not yet");
    }
}
