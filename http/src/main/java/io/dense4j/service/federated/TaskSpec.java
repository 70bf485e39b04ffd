package io.dense4j.service.federated;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.dense4j.federated.FederatedConfig;
import io.dense4j.model.ModelConfig;
import io.dense4j.registry.ModelRegistry;
import io.dense4j.tune.ConfigAdapter;
import io.dense4j.tune.ConfigException;
import io.dense4j.tune.Json;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * What an admin asks for when creating a federated task ({@code POST /admin/federated/tasks}), checked completely
 * before anything is stored or built:
 *
 * <pre>{@code
 * {"name": "fashion across hospitals",
 *  "model": {<model config, schema v2, with compile_config: the clients' local optimizer and loss>},
 *  "federated": {"rounds": 20, "clients_per_round": 8, "min_clients": 6, "local_epochs": 1,
 *                "secure_aggregation": true, "clip_norm": 1.0, "noise_multiplier": 0.8, ...},
 *  "clients": ["hospital-a", "hospital-b", ...]   or a count: 10 (client-01 .. client-10),
 *  "initial": {"seed": 42}   or   {"model": "fashion", "version": "stable"},
 *  "register_as": "fashion-federated"}
 * }</pre>
 *
 * {@code federated} takes {@link FederatedConfig#toMap()}'s keys (absent ones take the defaults); {@code clients}
 * defaults to {@code clients_per_round} generated names; {@code initial} defaults to a random seed;
 * {@code model} may be left out when {@code initial} names a registry version (its config is used).
 * Errors are {@link ConfigException}s naming the field.
 */
public record TaskSpec(String name, FederatedConfig config, ModelConfig model, List<String> clients, Initial initial,
                       String registerAs) {
    /** Most clients one task may enrol (secure aggregation's key material grows with the square of a cohort). */
    public static final int MAX_CLIENTS = 10_000;
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");

    /** Where round 1's global weights come from. */
    public sealed interface Initial {
        /** Fresh weights: the model's initializers with this seed. */
        record Seed(long seed) implements Initial {}

        /** The weights of a registered version (a number or an alias). */
        record Version(String model, String version) implements Initial {}
    }

    public static TaskSpec parse(JsonNode json, long defaultSeed) {
        ObjectNode o = Json.object(json, "");
        Json.allowOnly(o, "", Set.of("name", "model", "federated", "clients", "initial", "register_as"));
        String name = Json.text(o, "name", "", "federated task");
        if (name.length() > 200) {
            throw new ConfigException("/name", "at most 200 characters");
        }
        FederatedConfig config = federated(o.get("federated"));
        Initial initial = initial(o.get("initial"), defaultSeed);
        ModelConfig model = null;
        if (o.hasNonNull("model")) {
            model = model(o.get("model"), config);
        } else if (!(initial instanceof Initial.Version)) {
            throw new ConfigException("/model", "is required (a model config with its compile_config), unless "
                    + "/initial names a registered version to start from");
        }
        List<String> clients = clients(o.get("clients"), config);
        String registerAs = null;
        if (o.hasNonNull("register_as")) {
            registerAs = Json.text(o, "register_as", "", null);
            try {
                ModelRegistry.checkModelName(registerAs);
            } catch (RuntimeException e) {
                throw new ConfigException("/register_as", e.getMessage());
            }
        }
        return new TaskSpec(name, config, model, clients, initial, registerAs);
    }

    private static FederatedConfig federated(JsonNode n) {
        if (n == null || n.isNull()) {
            return FederatedConfig.builder().build();
        }
        Map<String, Object> m = Json.toMap(Json.object(n, "/federated"));
        try {
            return FederatedConfig.fromMap(m);
        } catch (IllegalArgumentException | ArithmeticException e) {
            throw new ConfigException("/federated", e.getMessage());
        }
    }

    private static Initial initial(JsonNode n, long defaultSeed) {
        if (n == null || n.isNull()) {
            return new Initial.Seed(defaultSeed);
        }
        ObjectNode o = Json.object(n, "/initial");
        if (o.has("seed")) {
            Json.allowOnly(o, "/initial", Set.of("seed"));
            return new Initial.Seed(Json.integer(o, "seed", "/initial", null, Long.MIN_VALUE, Long.MAX_VALUE));
        }
        Json.allowOnly(o, "/initial", Set.of("model", "version"));
        String model = Json.text(o, "model", "/initial", null);
        String version = Json.text(o, "version", "/initial", "stable");
        if (!version.matches("[0-9]{1,9}") && !ModelRegistry.isAliasName(version)) {
            throw new ConfigException("/initial/version", "a version number or an alias, got '" + version + "'");
        }
        return new Initial.Version(model, version);
    }

    /**
     * The model config, bounded and validated as a job's is ({@link ConfigAdapter}: layers, units, parameters, a
     * compile_config, the loss against the output layer), plus what a federated task needs: the input width (the
     * server has no data to take it from) and fitted preprocessing or none (each party fitting its own normalizer
     * would train on differently scaled features).
     */
    static ModelConfig model(JsonNode n, FederatedConfig config) {
        ObjectNode doc = Json.MAPPER.createObjectNode();
        doc.set("model", n);
        doc.set("fit", Json.MAPPER.createObjectNode().put("epochs", config.localEpochs()).put("batch_size", config.batchSize()));
        ModelConfig m = ConfigAdapter.parse(doc).model();
        if (!m.hasInputs()) {
            throw new ConfigException("/model/layers/0/input_dim", "is required for a federated task: the server has "
                    + "no data to take the input width from");
        }
        if (m.preprocessing() != null && !m.preprocessing().isFitted()) {
            throw new ConfigException("/model/preprocessing", "must be fitted (carry its statistics) or absent in a "
                    + "federated task: each party fitting its own would train on differently scaled features");
        }
        return m;
    }

    private static List<String> clients(JsonNode n, FederatedConfig config) {
        List<String> out = new ArrayList<>();
        if (n == null || n.isNull() || n.isIntegralNumber()) {
            long count = n == null || n.isNull() ? config.clientsPerRound()
                    : Json.integer(Json.MAPPER.createObjectNode().set("clients", n), "clients", "", null, 1, MAX_CLIENTS);
            int width = Math.max(2, Long.toString(count).length());
            for (long i = 1; i <= count; i++) {
                out.add(String.format("client-%0" + width + "d", i));
            }
        } else if (n.isArray()) {
            if (n.isEmpty() || n.size() > MAX_CLIENTS) {
                throw new ConfigException("/clients", "between 1 and " + MAX_CLIENTS + " client names, got " + n.size());
            }
            Set<String> seen = new LinkedHashSet<>();
            for (int i = 0; i < n.size(); i++) {
                JsonNode c = n.get(i);
                if (!c.isTextual() || !NAME.matcher(c.asText()).matches()) {
                    throw new ConfigException("/clients/" + i, "a client name is 1 to 64 letters, digits, '.', '_' or "
                            + "'-' (starting with a letter or digit), got " + Json.kind(c));
                }
                if (!seen.add(c.asText())) {
                    throw new ConfigException("/clients/" + i, "'" + c.asText() + "' is enrolled twice");
                }
            }
            out.addAll(seen);
        } else {
            throw new ConfigException("/clients", "a list of client names or a count, got " + Json.kind(n));
        }
        if (out.size() < config.clientsPerRound()) {
            throw new ConfigException("/clients", out.size() + " enrolled clients, fewer than clients_per_round ("
                    + config.clientsPerRound() + "): enrol at least that many");
        }
        return List.copyOf(out);
    }
}
