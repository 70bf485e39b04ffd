package io.dense4j.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

import java.util.concurrent.Callable;

/** {@code dense4j registry delete}: deletes a version (refused while an alias points at it). */
@Command(name = "delete", mixinStandardHelpOptions = true, description = "Delete a version; refused while an alias points at it.")
public final class RegistryDeleteCommand implements Callable<Integer> {
    @Mixin
    RegistryCommand.Options opts;

    @Parameters(index = "0", description = "model")
    String model;

    @Parameters(index = "1", description = "version")
    int version;

    @Override
    public Integer call() {
        opts.open().deleteVersion(model, version, opts.actor());
        System.out.println("deleted " + model + " version " + version);
        return 0;
    }
}
