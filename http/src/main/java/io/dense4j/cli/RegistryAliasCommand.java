package io.dense4j.cli;

import io.dense4j.registry.ModelRegistry;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.util.Optional;
import java.util.concurrent.Callable;

/** {@code dense4j registry alias}: points an alias at a version, or removes it. */
@Command(name = "alias", mixinStandardHelpOptions = true,
        description = "Point an alias (stable, canary, champion, ...) at a version, or remove it with --remove.")
public final class RegistryAliasCommand implements Callable<Integer> {
    @Mixin
    RegistryCommand.Options opts;

    @Parameters(index = "0", description = "model")
    String model;

    @Parameters(index = "1", description = "alias")
    String alias;

    @Parameters(index = "2", arity = "0..1", description = "version")
    Integer version;

    @Option(names = "--remove", description = "remove the alias")
    boolean remove;

    @Override
    public Integer call() {
        ModelRegistry reg = opts.open();
        if (remove) {
            reg.removeAlias(model, alias, opts.actor());
            System.out.println("removed alias " + alias);
            return 0;
        }
        if (version == null) {
            throw new IllegalArgumentException("give the version to point '" + alias + "' at, or --remove");
        }
        Optional<Integer> previous = reg.setAlias(model, alias, version, opts.actor());
        System.out.println(alias + ": " + previous.map(String::valueOf).orElse("(none)") + " -> " + version);
        return 0;
    }
}
