package io.dense4j.cli;

import io.dense4j.registry.ModelRegistry;
import io.dense4j.registry.ModelVersionInfo;
import io.dense4j.registry.RegisterOptions;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code dense4j registry register}: adds a saved model as the next version. */
@Command(name = "register", mixinStandardHelpOptions = true, description = "Register a saved model file as a new version.")
public final class RegistryRegisterCommand implements Callable<Integer> {
    @Mixin
    RegistryCommand.Options opts;

    @Option(names = "--model", required = true, description = "model name")
    String model;

    @Parameters(index = "0", description = "the saved model file (.d4j)")
    Path file;

    @Option(names = "--source", description = "where it came from (default: the file path)")
    String source;

    @Option(names = "--metric", description = "training metric name=value (repeatable), e.g. accuracy=0.98")
    Map<String, Double> metrics = new LinkedHashMap<>();

    @Option(names = "--alias", description = "also point this alias at the new version (e.g. stable)")
    String alias;

    @Override
    public Integer call() {
        ModelRegistry reg = opts.open();
        ModelVersionInfo info = reg.register(model, file, RegisterOptions.defaults().actor(opts.actor())
                .source(source != null ? source : file.toAbsolutePath().toString()).metrics(metrics));
        System.out.println("registered " + model + " version " + info.version() + " (sha256 " + info.sha256() + ")");
        if (alias != null) {
            reg.setAlias(model, alias, info.version(), opts.actor());
            System.out.println(alias + " -> " + info.version());
        }
        return 0;
    }
}
