package io.dense4j.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.dense4j.registry.HistoryEntry;
import io.dense4j.registry.ModelRegistry;
import io.dense4j.registry.ModelVersionInfo;
import io.dense4j.registry.RegisterOptions;
import io.dense4j.registry.VerifyResult;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * {@code dense4j registry ...}: the model registry from the command line. Each subcommand is one method
 * below, calling {@link ModelRegistry}; every one takes {@code --registry} and {@code --actor}.
 */
@Command(name = "registry", mixinStandardHelpOptions = true, description = "Manage a model registry directory.")
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

        /** The registry to register into: created when the directory does not exist yet. */
        ModelRegistry openOrCreate() {
            return ModelRegistry.open(registry);
        }

        /** An existing registry: reading or changing one that is not there (a mistyped path) creates nothing. */
        ModelRegistry open() {
            if (!java.nio.file.Files.isDirectory(registry)) {
                throw new IllegalArgumentException("no registry at " + registry + " (give the directory that `serve "
                        + "--registry` uses; `registry register` creates one)");
            }
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

    @Command(name = "register", mixinStandardHelpOptions = true, description = "Register a saved model file as a new version.")
    int register(@Mixin Options opts,
                 @Option(names = "--model", required = true, description = "model name") String model,
                 @Parameters(index = "0", paramLabel = "FILE", description = "the model file: a Dense4J .d4j, or a Keras .h5 / .keras (converted once)") Path file,
                 @Option(names = "--source", description = "where it came from (default: the file path)") String source,
                 @Option(names = "--metric", description = "training metric name=value (repeatable), e.g. accuracy=0.98")
                 Map<String, Double> metrics,
                 @Option(names = "--alias", description = "also point this alias at the new version (e.g. stable)") String alias) {
        ModelRegistry reg = opts.openOrCreate();
        ModelVersionInfo info;
        try {
            info = reg.register(model, file, RegisterOptions.defaults().actor(opts.actor())
                    .source(source != null ? source : file.toAbsolutePath().toString())
                    .metrics(metrics == null ? Map.of() : metrics));
        } catch (io.dense4j.registry.RegistryException e) {
            if (e.kind() != io.dense4j.registry.RegistryException.Kind.INVALID) {
                throw e;
            }
            // the registry does not name the file (an upload's is a staging file): here it is the user's
            throw new io.dense4j.registry.RegistryException(e.kind(), file + ": " + e.getMessage(), e);
        }
        System.out.println("registered " + model + " version " + info.version() + " (sha256 " + info.sha256() + ")");
        // a version that takes or gives other widths than the one before breaks its clients: said, not refused
        reg.versions(model).stream().filter(v -> v.version() < info.version())
                .max(java.util.Comparator.comparingInt(ModelVersionInfo::version))
                .filter(p -> p.inputSize() != info.inputSize() || p.outputSize() != info.outputSize())
                .ifPresent(p -> System.out.println("note: version " + info.version() + " takes " + info.inputSize()
                        + " inputs and gives " + info.outputSize() + " outputs; version " + p.version() + " takes "
                        + p.inputSize() + " and gives " + p.outputSize() + ": clients of " + model
                        + " must change before an alias or the latest-version policy serves it"));
        if (alias != null) {
            reg.setAlias(model, alias, info.version(), opts.actor());
            System.out.println(alias + " -> " + info.version());
        }
        return 0;
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List models, or the versions of one model.")
    int list(@Mixin Options opts,
             @Parameters(index = "0", arity = "0..1", paramLabel = "MODEL", description = "model (omit to list every model)") String model) {
        ModelRegistry reg = opts.open();
        if (model == null) {
            for (String m : reg.models()) {
                System.out.println(m + "  versions " + reg.versionNumbers(m) + "  aliases " + reg.aliases(m)
                        + reg.traffic(m).map(t -> "  traffic " + t.canaryPercent() + "% " + t.canary() + " / "
                        + t.baseline()).orElse(""));
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

    @Command(name = "describe", mixinStandardHelpOptions = true, description = "Show a model's or a version's metadata as JSON.")
    int describe(@Mixin Options opts,
                 @Parameters(index = "0", description = "model", paramLabel = "MODEL") String model,
                 @Parameters(index = "1", arity = "0..1", paramLabel = "VERSION", description = "version (omit for every version and the aliases)")
                 Integer version) throws JsonProcessingException {
        ModelRegistry reg = opts.open();
        Object out;
        if (version != null) {
            out = reg.describe(model, version);
        } else {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("name", model);
            m.put("aliases", reg.aliases(model));
            m.put("traffic", reg.traffic(model).orElse(null));
            m.put("versions", reg.versions(model));
            out = m;
        }
        System.out.println(JSON.writeValueAsString(out));
        return 0;
    }

    @Command(name = "alias", mixinStandardHelpOptions = true,
            description = "Point an alias (stable, canary, champion, ...) at a version, or remove it with --remove.")
    int alias(@Mixin Options opts,
              @Parameters(index = "0", description = "model", paramLabel = "MODEL") String model,
              @Parameters(index = "1", description = "alias", paramLabel = "ALIAS") String alias,
              @Parameters(index = "2", arity = "0..1", description = "version", paramLabel = "VERSION") Integer version,
              @Option(names = "--remove", description = "remove the alias") boolean remove) {
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

    @Command(name = "rollback", mixinStandardHelpOptions = true, description = "Move an alias back to the version it pointed at before.")
    int rollback(@Mixin Options opts,
                 @Parameters(index = "0", description = "model", paramLabel = "MODEL") String model,
                 @Parameters(index = "1", description = "alias", paramLabel = "ALIAS") String alias) {
        int v = opts.open().rollback(model, alias, opts.actor());
        System.out.println(alias + " -> " + v);
        return 0;
    }

    @Command(name = "delete", mixinStandardHelpOptions = true,
            description = "Delete a version; refused while an alias or the traffic split uses it.")
    int delete(@Mixin Options opts,
               @Parameters(index = "0", description = "model", paramLabel = "MODEL") String model,
               @Parameters(index = "1", description = "version", paramLabel = "VERSION") int version) {
        opts.open().deleteVersion(model, version, opts.actor());
        System.out.println("deleted " + model + " version " + version);
        return 0;
    }

    @Command(name = "verify", mixinStandardHelpOptions = true, description = "Check every model file against its recorded SHA-256.")
    int verify(@Mixin Options opts,
               @Parameters(index = "0", arity = "0..1", paramLabel = "MODEL", description = "model (omit for all)") String model) {
        List<VerifyResult> results = opts.open().verify(model);
        boolean ok = true;
        for (VerifyResult r : results) {
            System.out.println(r.model() + " " + r.version() + ": " + r.message());
            ok &= r.ok();
        }
        System.out.println(ok ? "all " + results.size() + " versions ok" : "VERIFICATION FAILED");
        return ok ? 0 : 2;
    }

    @Command(name = "history", mixinStandardHelpOptions = true,
            description = "Show who registered, promoted, rolled back, split or deleted what, when.")
    int history(@Mixin Options opts, @Parameters(index = "0", description = "model", paramLabel = "MODEL") String model) {
        for (HistoryEntry e : opts.open().history(model)) {
            StringBuilder sb = new StringBuilder().append(e.time()).append("  ").append(e.actor()).append("  ");
            boolean cleared = HistoryEntry.UNTRAFFIC.equals(e.action());
            sb.append(cleared ? "traffic cleared" : e.action());
            if (e.traffic() != null) {
                sb.append(cleared ? " (was " : " ").append(e.traffic().canaryPercent()).append("% -> ")
                        .append(e.traffic().canary()).append(", rest -> ").append(e.traffic().baseline())
                        .append(cleared ? ")" : "");
            } else {
                if (e.alias() != null) {
                    sb.append(' ').append(e.alias());
                }
                if (e.version() != null) {
                    sb.append(e.alias() != null ? " -> " : " version ").append(e.version());
                }
                if (e.previous() != null) {
                    sb.append(" (was ").append(e.previous()).append(')');
                }
            }
            System.out.println(sb);
        }
        return 0;
    }

    @Command(name = "traffic", mixinStandardHelpOptions = true,
            description = "Split the default route: PERCENT%% of requests without a version go to CANARY, the rest to "
                    + "BASELINE; --clear removes the split. Servers sharing the registry pick it up.")
    int traffic(@Mixin Options opts,
                @Parameters(index = "0", description = "model", paramLabel = "MODEL") String model,
                @Option(names = "--baseline", description = "version for the rest") Integer baseline,
                @Option(names = "--canary", description = "version for the canary share") Integer canary,
                @Option(names = "--percent", description = "canary share, 0..100") Integer percent,
                @Option(names = "--clear", description = "remove the split") boolean clear) {
        ModelRegistry reg = opts.open();
        if (clear) {
            reg.clearTraffic(model, opts.actor());
            System.out.println("cleared the traffic split of " + model);
            return 0;
        }
        if (baseline == null || canary == null || percent == null) {
            throw new IllegalArgumentException("give --baseline, --canary and --percent, or --clear");
        }
        reg.setTraffic(model, new io.dense4j.registry.TrafficSplit(baseline, canary, percent), opts.actor());
        System.out.println(model + ": " + percent + "% -> " + canary + ", rest -> " + baseline);
        return 0;
    }
}
