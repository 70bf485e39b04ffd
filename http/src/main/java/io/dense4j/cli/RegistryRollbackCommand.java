package io.dense4j.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

import java.util.concurrent.Callable;

/** {@code dense4j registry rollback}: moves an alias back to its previous version. */
@Command(name = "rollback", mixinStandardHelpOptions = true, description = "Move an alias back to the version it pointed at before.")
public final class RegistryRollbackCommand implements Callable<Integer> {
    @Mixin
    RegistryCommand.Options opts;

    @Parameters(index = "0", description = "model")
    String model;

    @Parameters(index = "1", description = "alias")
    String alias;

    @Override
    public Integer call() {
        int v = opts.open().rollback(model, alias, opts.actor());
        System.out.println(alias + " -> " + v);
        return 0;
    }
}
