package io.dense4j.cli;

import io.dense4j.registry.ModelRegistry;
import io.dense4j.registry.ModelVersionInfo;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;

/** {@code dense4j registry list}: models, or the versions of one model. */
@Command(name = "list", mixinStandardHelpOptions = true, description = "List models, or the versions of one model.")
public final class RegistryListCommand implements Callable<Integer> {
    @Mixin
    RegistryCommand.Options opts;

    @Parameters(index = "0", arity = "0..1", description = "model (omit to list every model)")
    String model;

    @Override
    public Integer call() {
        ModelRegistry reg = opts.open();
        if (model == null) {
            for (String m : reg.models()) {
                System.out.println(m + "  versions " + reg.versionNumbers(m) + "  aliases " + reg.aliases(m));
            }
            return 0;
        }
        Map<String, Integer> aliases = reg.aliases(model);
        System.out.printf("%-8s %-25s %-12s %-10s %s%n", "VERSION", "CREATED", "SHA256", "ALIASES", "METRICS");
        for (ModelVersionInfo v : reg.versions(model)) {
            List<String> names = aliases.entrySet().stream().filter(e -> e.getValue() == v.version())
                    .map(Map.Entry::getKey).collect(Collectors.toList());
            System.out.printf("%-8d %-25s %-12s %-10s %s%n", v.version(), v.createdAt(), v.sha256().substring(0, 12),
                    String.join(",", names), v.metrics());
        }
        return 0;
    }
}
