package io.dense4j.registry;

import java.nio.file.Path;

/**
 * Entry point of the second JVM in the multi-process tests: registers {@code count} copies of a model
 * file as new versions of {@code model}. With {@code -Ddense4j.registry.crashPoint=...} it halts in
 * the middle of its first registration instead.
 */
public final class RegistryChild {
    public static void main(String[] args) {
        ModelRegistry reg = ModelRegistry.open(Path.of(args[0]));
        String model = args[1];
        Path file = Path.of(args[2]);
        int count = Integer.parseInt(args[3]);
        for (int i = 0; i < count; i++) {
            reg.register(model, file, RegisterOptions.defaults().actor("child-" + ProcessHandle.current().pid()));
        }
        System.exit(0);
    }
}
