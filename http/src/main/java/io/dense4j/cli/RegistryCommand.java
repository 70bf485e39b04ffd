package io.dense4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.dense4j.registry.ModelRegistry;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;

/** {@code dense4j registry ...}: the model registry from the command line. */
@Command(name = "registry", mixinStandardHelpOptions = true, description = "Manage a model registry directory.",
        subcommands = {RegistryRegisterCommand.class, RegistryListCommand.class, RegistryDescribeCommand.class,
                RegistryAliasCommand.class, RegistryRollbackCommand.class, RegistryDeleteCommand.class,
                RegistryVerifyCommand.class, RegistryHistoryCommand.class})
public final class RegistryCommand implements Runnable {
    static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /** The --registry option and the actor every registry subcommand shares. */
    static final class Options {
        @Option(names = "--registry", required = true, description = "registry directory")
        Path registry;

        @Option(names = "--actor", description = "who acts, for the history (default: the OS user)")
        String actor;

        ModelRegistry open() {
            return ModelRegistry.open(registry);
        }

        String actor() {
            if (actor != null && !actor.isBlank()) {
                return actor;
            }
            String u = System.getProperty("user.name");
            return u == null || u.isBlank() ? "cli" : u;
        }
    }
}
