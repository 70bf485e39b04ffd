package io.dense4j.cli;

import io.dense4j.registry.HistoryEntry;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

import java.util.concurrent.Callable;

/** {@code dense4j registry history}: the audit trail of a model. */
@Command(name = "history", mixinStandardHelpOptions = true, description = "Show who registered, promoted, rolled back or deleted what, when.")
public final class RegistryHistoryCommand implements Callable<Integer> {
    @Mixin
    RegistryCommand.Options opts;

    @Parameters(index = "0", description = "model")
    String model;

    @Override
    public Integer call() {
        for (HistoryEntry e : opts.open().history(model)) {
            StringBuilder sb = new StringBuilder().append(e.time()).append("  ").append(e.actor()).append("  ").append(e.action());
            if (e.alias() != null) {
                sb.append(' ').append(e.alias());
            }
            if (e.version() != null) {
                sb.append(e.alias() != null ? " -> " : " version ").append(e.version());
            }
            if (e.previous() != null) {
                sb.append(" (was ").append(e.previous()).append(')');
            }
            System.out.println(sb);
        }
        return 0;
    }
}
