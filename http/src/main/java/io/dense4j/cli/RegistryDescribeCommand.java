package io.dense4j.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import io.dense4j.registry.ModelRegistry;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code dense4j registry describe}: the metadata of a version (or of every version), as JSON. */
@Command(name = "describe", mixinStandardHelpOptions = true, description = "Show a model's or a version's metadata as JSON.")
public final class RegistryDescribeCommand implements Callable<Integer> {
    @Mixin
    RegistryCommand.Options opts;

    @Parameters(index = "0", description = "model")
    String model;

    @Parameters(index = "1", arity = "0..1", description = "version (omit for every version and the aliases)")
    Integer version;

    @Override
    public Integer call() throws JsonProcessingException {
        ModelRegistry reg = opts.open();
        Object out;
        if (version != null) {
            out = reg.describe(model, version);
        } else {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("name", model);
            m.put("aliases", reg.aliases(model));
            m.put("versions", reg.versions(model));
            out = m;
        }
        System.out.println(RegistryCommand.JSON.writeValueAsString(out));
        return 0;
    }
}
