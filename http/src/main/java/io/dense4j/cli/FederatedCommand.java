package io.dense4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.dense4j.data.Dataset;
import io.dense4j.federated.FederatedClient;
import io.dense4j.federated.HttpServerConnection;
import io.dense4j.federated.LocalTrainer;
import io.dense4j.model.TrainingConfig;
import io.dense4j.train.Fit;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.io.PrintStream;
import java.io.Writer;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code dense4j federated ...}: an admin creates, lists, inspects and cancels federated tasks on a server; each
 * party joins a task with its client token and its own data, which never leaves its machine.
 */
@Command(name = "federated", mixinStandardHelpOptions = true, description = "Federated learning: create, list, inspect "
        + "and cancel tasks on a server (admin), or join one as a party with your own data.")
public final class FederatedCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /** {@code --server}, the admin {@code --token} and {@code --trust} of the admin subcommands. */
    static final class AdminOptions {
        @Option(names = "--server", defaultValue = "${env:DENSE4J_SERVER:-http://127.0.0.1:8080}",
                description = "server URL (default: $DENSE4J_SERVER, else http://127.0.0.1:8080)")
        String server;

        @Option(names = "--token", defaultValue = "${env:DENSE4J_ADMIN_TOKEN}",
                description = "the server's admin token (default: $DENSE4J_ADMIN_TOKEN)")
        String token;

        @Mixin
        TrustOptions trust = new TrustOptions();

        ApiClient client() {
            return new ApiClient(server, token, trust.sslContext());
        }
    }

    // ------------------------------------------------------------------------------------------ create

    @Command(name = "create", mixinStandardHelpOptions = true, description = "Create a federated task (admin): prints "
            + "its id and one token per enrolled client (shown only now), or writes the tokens to --tokens-file.")
    int create(@Mixin AdminOptions api,
               @Option(names = "--model-config", required = true, paramLabel = "FILE", description = "the model config "
                       + "(schema v2, as train --config reads it; its compile_config is the clients' local optimizer "
                       + "and loss; a \"fit\" section gives the defaults of --batch-size, --local-epochs and --seed)")
               Path modelConfig,
               @Option(names = "--name", description = "a name for the task") String name,
               @Option(names = "--rounds", description = "rounds to run (default 10)") Integer rounds,
               @Option(names = "--clients-per-round", description = "expected clients per round: each enrolled client "
                       + "is sampled with probability clients-per-round / enrolled (default 10)") Integer clientsPerRound,
               @Option(names = "--min-clients", description = "fewest updates a round may aggregate (default 2)")
               Integer minClients,
               @Option(names = "--clients", description = "enrol this many clients, named client-01, client-02, ... "
                       + "(default: --clients-per-round)") Integer clients,
               @Option(names = "--client-names", split = ",", description = "enrol these clients by name instead")
               List<String> clientNames,
               @Option(names = "--local-epochs", description = "local epochs per round (default 1, or the config's "
                       + "fit.epochs)") Integer localEpochs,
               @Option(names = "--batch-size", description = "the clients' default batch size (default 32, or the "
                       + "config's fit.batch_size)") Integer batchSize,
               @Option(names = "--secure-aggregation", description = "mask the updates: the server sees only their sum "
                       + "(needs --dp-clip)") boolean secureAggregation,
               @Option(names = "--secagg-threshold", description = "Shamir threshold as a fraction of a round's "
                       + "clients, in [0.5, 1) (default 0.5: a majority)") Double secAggThreshold,
               @Option(names = {"--dp-clip", "--clip-norm"}, description = "L2 clip of every update (needed by secure "
                       + "aggregation and differential privacy)") Double clip,
               @Option(names = "--dp-noise", description = "noise multiplier z of DP-FedAvg (Gaussian noise of std "
                       + "z x clip on the sum; 0: no differential privacy)") Double noise,
               @Option(names = "--dp-delta", description = "delta of the reported (epsilon, delta) (default 1e-5)")
               Double delta,
               @Option(names = "--epsilon-budget", description = "refuse a round that would take epsilon above this")
               Double epsilonBudget,
               @Option(names = "--fedprox-mu", description = "FedProx's proximal term (default 0: FedAvg)") Double mu,
               @Option(names = "--server-lr", description = "server learning rate (default 1)") Double serverLr,
               @Option(names = "--example-weight-cap", description = "without DP, an update weighs min(examples, cap)"
                       + "/cap (default 10000)") Long weightCap,
               @Option(names = "--aggregator", description = "how a round's updates are combined: mean (FedAvg's "
                       + "example-weighted mean, the default), median or trimmed_mean (coordinate-wise, one vote per "
                       + "client: one client cannot drag the model anywhere; not with secure aggregation or DP)")
               String aggregator,
               @Option(names = "--trim-fraction", description = "trimmed_mean: the fraction of updates dropped at each "
                       + "end of every coordinate, in [0, 0.5) (default 0.2)") Double trimFraction,
               @Option(names = "--max-update-norm", description = "refuse an update whose L2 norm (the client's model "
                       + "change) is above this; it is left out of its round (default 0: no bound)") Double maxUpdateNorm,
               @Option(names = "--phase-timeout", description = "deadline of a key-exchange or unmasking phase, e.g. "
                       + "60s (default 60s)") String phaseTimeout,
               @Option(names = "--training-timeout", description = "deadline of local training, e.g. 10m (default 10m)")
               String trainingTimeout,
               @Option(names = "--seed", description = "initialize round 1's weights with this seed (default: the "
                       + "config's fit.seed, else random)") Long seed,
               @Option(names = "--initial-model", paramLabel = "MODEL[:VERSION]", description = "start from a registered "
                       + "version instead (VERSION a number or an alias; default stable)") String initialModel,
               @Option(names = "--register-as", description = "the registry model of the global models (default "
                       + "federated-<id>)") String registerAs,
               @Option(names = "--tokens-file", description = "write 'CLIENT TOKEN' lines to this new file (mode 600) "
                       + "instead of printing the tokens") Path tokensFile,
               @Option(names = "--json", description = "print the server's answer as JSON") boolean json)
            throws IOException {
        if (tokensFile != null && Files.exists(tokensFile)) {
            throw new IllegalArgumentException(tokensFile + " exists: give a new file for the client tokens");
        }
        TrainingConfig tc = TrainingConfig.fromJson(modelConfig);
        Fit fit = tc.fit();
        ObjectNode body = ApiClient.JSON.createObjectNode();
        if (name != null) {
            body.put("name", name);
        }
        body.set("model", ApiClient.JSON.readTree(tc.model().toJson()));
        ObjectNode f = body.putObject("federated");
        putIf(f, "rounds", rounds);
        putIf(f, "clients_per_round", clientsPerRound);
        putIf(f, "min_clients", minClients);
        putIf(f, "local_epochs", localEpochs != null ? localEpochs : fit != null ? (Integer) fit.epochs() : null);
        putIf(f, "batch_size", batchSize != null ? batchSize : fit != null ? (Integer) fit.batchSize() : null);
        if (secureAggregation) {
            f.put("secure_aggregation", true);
        }
        putIf(f, "secagg_threshold", secAggThreshold);
        putIf(f, "clip_norm", clip);
        putIf(f, "noise_multiplier", noise);
        putIf(f, "delta", delta);
        putIf(f, "epsilon_budget", epsilonBudget);
        putIf(f, "prox_mu", mu);
        putIf(f, "server_learning_rate", serverLr);
        putIf(f, "example_weight_cap", weightCap);
        putIf(f, "aggregator", aggregator);
        putIf(f, "trim_fraction", trimFraction);
        putIf(f, "max_update_norm", maxUpdateNorm);
        putIf(f, "phase_timeout_ms", phaseTimeout == null ? null : millis(phaseTimeout, "--phase-timeout"));
        putIf(f, "training_timeout_ms", trainingTimeout == null ? null : millis(trainingTimeout, "--training-timeout"));
        if (clients != null && clientNames != null) {
            throw new IllegalArgumentException("give --clients or --client-names, not both");
        }
        if (clientNames != null) {
            ArrayNode a = body.putArray("clients");
            clientNames.forEach(a::add);
        } else if (clients != null) {
            body.put("clients", clients);
        }
        if (initialModel != null) {
            if (seed != null) {
                throw new IllegalArgumentException("give --seed or --initial-model, not both");
            }
            int colon = initialModel.lastIndexOf(':');
            ObjectNode i = body.putObject("initial");
            i.put("model", colon < 0 ? initialModel : initialModel.substring(0, colon));
            i.put("version", colon < 0 ? "stable" : initialModel.substring(colon + 1));
        } else if (seed != null || fit != null) {
            body.putObject("initial").put("seed", seed != null ? seed : fit.seed());
        }
        if (registerAs != null) {
            body.put("register_as", registerAs);
        }
        JsonNode r = api.client().post("/admin/federated/tasks", "application/json",
                HttpRequest.BodyPublishers.ofString(body.toString()));
        JsonNode task = r.path("task");
        JsonNode tokens = r.path("client_tokens");
        if (tokensFile != null) {
            writeTokens(tokensFile, tokens);
            ((ObjectNode) r).remove("client_tokens");
        }
        if (json) {
            System.out.println(RegistryCommand.JSON.writeValueAsString(r));
            return 0;
        }
        System.out.println(task.path("id").asLong());
        if (tokensFile != null) {
            System.err.println(tokens.size() + " client tokens written to " + tokensFile + " (mode 600); they are shown "
                    + "nowhere else");
        } else {
            tokens.fields().forEachRemaining(e -> System.out.println(e.getKey() + " " + e.getValue().asText()));
            System.err.println("each client token is shown only now: give each party its own over a secure channel");
        }
        return 0;
    }

    private static void putIf(ObjectNode o, String key, Object v) {
        if (v instanceof Integer i) {
            o.put(key, i);
        } else if (v instanceof Long l) {
            o.put(key, l);
        } else if (v instanceof Double d) {
            o.put(key, d);
        } else if (v instanceof String t) {
            o.put(key, t);
        }
    }

    /** "90s", "10m", "1h", "1500ms" or a plain number of seconds, as milliseconds. */
    static long millis(String s, String option) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("([0-9]+)(ms|s|m|h)?").matcher(s.strip());
        if (!m.matches()) {
            throw new IllegalArgumentException(option + " is a duration like 90s, 10m, 1h or 1500ms, got '" + s + "'");
        }
        long n = Long.parseLong(m.group(1));
        String unit = m.group(2) == null ? "s" : m.group(2);
        return switch (unit) {
            case "ms" -> n;
            case "s" -> n * 1000;
            case "m" -> n * 60_000;
            default -> n * 3_600_000;
        };
    }

    /** The tokens into a new file readable by its owner only (created so before anything is written). */
    private static void writeTokens(Path file, JsonNode tokens) throws IOException {
        try {
            Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        } catch (UnsupportedOperationException e) {
            Files.createFile(file); // not a POSIX file system: the directory's protection applies
        } catch (FileAlreadyExistsException e) {
            throw new IllegalArgumentException(file + " exists: give a new file for the client tokens");
        }
        StringBuilder sb = new StringBuilder("# federated client tokens: one 'CLIENT TOKEN' per line; give each party its "
                + "own\n");
        tokens.fields().forEachRemaining(e -> sb.append(e.getKey()).append(' ').append(e.getValue().asText()).append('\n'));
        try (Writer w = Files.newBufferedWriter(file, StandardCharsets.UTF_8, StandardOpenOption.TRUNCATE_EXISTING)) {
            w.write(sb.toString());
        }
    }

    // ------------------------------------------------------------------------------------------ admin views

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List federated tasks, newest first (admin).")
    int list(@Mixin AdminOptions api,
             @Option(names = "--state", description = "running, finished, cancelled or failed") String state,
             @Option(names = "--limit", defaultValue = "50", description = "at most this many (default 50)") int limit) {
        Map<String, String> q = new LinkedHashMap<>();
        q.put("state", state);
        q.put("limit", Integer.toString(limit));
        JsonNode tasks = api.client().get("/admin/federated/tasks" + ApiClient.query(q)).path("tasks");
        System.out.printf("%-6s %-10s %-9s %-8s %-10s %-22s  %s%n", "ID", "STATE", "ROUNDS", "CLIENTS", "EPSILON",
                "MODEL", "NAME");
        for (JsonNode t : tasks) {
            System.out.printf(Locale.ROOT, "%-6d %-10s %-9s %-8d %-10s %-22s  %s%n", t.path("id").asLong(),
                    t.path("state").asText(), t.path("rounds_run").asLong() + "/" + t.path("rounds").asLong(),
                    t.at("/clients/enrolled").asInt(), epsilon(t.at("/privacy/epsilon")),
                    DatasetsCommand.clip(t.path("register_as").asText() + " v" + t.path("model_version").asText(), 22),
                    t.path("name").asText());
        }
        return 0;
    }

    @Command(name = "status", mixinStandardHelpOptions = true, description = "Show a federated task (admin): state, "
            + "phase, rounds with participants, epsilon, seconds and bytes; never weights or updates.")
    int status(@Mixin AdminOptions api, @Parameters(index = "0", paramLabel = "TASK") long id,
               @Option(names = "--json", description = "print the server's JSON") boolean json) throws IOException {
        JsonNode t = api.client().get("/admin/federated/tasks/" + id);
        if (json) {
            System.out.println(RegistryCommand.JSON.writeValueAsString(t));
            return 0;
        }
        PrintStream out = System.out;
        out.printf(Locale.ROOT, "task %d '%s': %s (%s)%n", t.path("id").asLong(), t.path("name").asText(),
                t.path("state").asText(), t.path("phase").asText());
        JsonNode p = t.path("privacy");
        out.printf(Locale.ROOT, "rounds %d of %d; %d clients enrolled (sampling rate %.3g); secure aggregation %s; "
                        + "differential privacy %s%n", t.path("rounds_run").asLong(), t.path("rounds").asLong(),
                t.at("/clients/enrolled").asInt(), t.at("/clients/sampling_rate").asDouble(),
                p.path("secure_aggregation").asBoolean() ? "on" : "off", p.path("differential_privacy").asBoolean()
                        ? String.format(Locale.ROOT, "epsilon %s at delta %s (noise %s, clip %s%s)",
                        epsilon(p.path("epsilon")), p.path("delta").asText(), p.path("noise_multiplier").asText(),
                        p.path("clip_norm").asText(), p.path("epsilon_budget").isNumber()
                                ? ", budget " + p.path("epsilon_budget").asText() : "") : "off");
        JsonNode c = t.path("config");
        out.printf(Locale.ROOT, "aggregation: %s%s; update norm bound %s%n", c.path("aggregator").asText("mean"),
                "trimmed_mean".equals(c.path("aggregator").asText()) ? " (trim " + c.path("trim_fraction").asText() + ")"
                        : "", c.path("max_update_norm").asDouble() > 0 ? c.path("max_update_norm").asText() : "none");
        out.printf("global model: %s version %s%n", t.path("register_as").asText(), t.path("model_version").asText());
        if (t.hasNonNull("finished_reason")) {
            out.println("ended: " + t.path("finished_reason").asText());
        }
        out.printf("%-6s %-9s %-9s %-8s %-10s %-8s %-12s %-12s  %s%n", "ROUND", "STATUS", "SELECTED", "SUMMED",
                "EPSILON", "SECONDS", "UP/CLIENT", "DOWN/CLIENT", "REASON");
        for (JsonNode r : t.path("history")) {
            int seen = Math.max(1, r.path("clients_seen").asInt());
            out.printf(Locale.ROOT, "%-6d %-9s %-9d %-8d %-10s %-8.2f %-12d %-12d  %s%n", r.path("round").asLong(),
                    r.path("status").asText(), r.path("selected").asInt(), r.path("participants").asInt(),
                    epsilon(r.path("epsilon")), r.path("seconds").asDouble(), r.path("bytes_up").asLong() / seen,
                    r.path("bytes_down").asLong() / seen, r.path("reason").asText()
                            + (r.path("updates_refused").asInt() > 0 ? (r.path("reason").asText().isEmpty() ? "" : "; ")
                            + r.path("updates_refused").asInt() + " update(s) refused above the max update norm" : ""));
        }
        return 0;
    }

    private static String epsilon(JsonNode e) {
        return e.isNumber() ? String.format(Locale.ROOT, "%.4g", e.asDouble()) : "-";
    }

    @Command(name = "cancel", mixinStandardHelpOptions = true, description = "Stop a running federated task (admin); "
            + "its clients are told it is over.")
    int cancel(@Mixin AdminOptions api, @Parameters(index = "0", paramLabel = "TASK") long id) {
        JsonNode r = api.client().delete("/admin/federated/tasks/" + id);
        System.out.println("task " + id + ": " + r.path("outcome").asText() + " after round "
                + r.at("/task/rounds_run").asLong());
        return 0;
    }

    // ------------------------------------------------------------------------------------------ join

    @Command(name = "join", mixinStandardHelpOptions = true, description = "Take part in a federated task with your "
            + "own data, until the task ends: train locally when sampled and send only the (masked) update. The data "
            + "never leaves this machine.")
    int join(@Option(names = "--server", defaultValue = "${env:DENSE4J_SERVER:-http://127.0.0.1:8080}",
                     description = "server URL (default: $DENSE4J_SERVER, else http://127.0.0.1:8080)") String server,
             @Option(names = "--token", defaultValue = "${env:DENSE4J_FEDERATED_TOKEN}",
                     description = "this party's client token, from the admin (default: $DENSE4J_FEDERATED_TOKEN)")
             String token,
             @Option(names = "--task", required = true, description = "the task id, from the admin") String task,
             @Option(names = "--data", required = true, description = "your data: an MNIST-format IDX directory (its "
                     + "training split) or a CSV file with a header row, read as train reads them") Path data,
             @Mixin CsvArgs csv,
             @Mixin TrustOptions trust,
             @Option(names = "--batch-size", description = "your local batch size (default: the task's)") Integer batch,
             @Option(names = "--seed", description = "seed of local shuffling (default random)") Long seed,
             @Option(names = "--require-secure-aggregation", description = "sit out rounds that would send a plain "
                     + "update") boolean requireSecAgg,
             @Option(names = "--min-secagg-cohort", defaultValue = "3", description = "the smallest secure-aggregation "
                     + "round to take part in (default 3)") int minCohort,
             @Option(names = "--threads", description = "CPU threads for local training (default 1)") Integer threads,
             @Option(names = "--quiet", description = "print only the end") boolean quiet)
            throws IOException, InterruptedException {
        if (token == null || token.isBlank()) {
            throw new IllegalArgumentException("give this party's client token: --token or $DENSE4J_FEDERATED_TOKEN");
        }
        if (threads != null) {
            io.dense4j.Dense4J.setThreads(threads);
        }
        HttpServerConnection.Builder cb = HttpServerConnection.builder(server, task, token);
        javax.net.ssl.SSLContext ssl = trust.sslContext();
        if (ssl != null) {
            cb.sslContext(ssl);
        }
        HttpServerConnection connection = cb.build();
        JsonNode identity;
        try {
            identity = connection.identity(); // checks the token and the task before the data is loaded
        } catch (HttpServerConnection.RefusedException e) {
            throw new ApiClient.ClientException(e.getMessage(), e.status() == 404 ? 3 : 1);
        }
        String client = connection.clientId();
        try (DataArgs.Loaded loaded = DataArgs.forTraining(data, csv)) {
            Dataset rows = loaded.train();
            int inputs = identity.path("inputs").asInt();
            if (inputs > 0 && rows.numFeatures() != inputs) {
                throw new IllegalArgumentException("task " + task + "'s model takes " + inputs + " features; " + data
                        + " has " + rows.numFeatures());
            }
            PrintStream out = System.out;
            out.printf("joined federated task %s as %s with %d rows of %d features from %s%n", task, client, rows.size(),
                    rows.numFeatures(), data);
            FederatedClient.Builder b = FederatedClient.builder(task, client, rows, connection)
                    .requireSecureAggregation(requireSecAgg).minSecAggCohort(minCohort);
            if (batch != null) {
                b.batchSize(batch);
            }
            if (seed != null) {
                b.seed(seed);
            }
            if (!quiet) {
                b.listener((c, step, refused) -> progress(out, c, step, refused));
            }
            try (FederatedClient fc = b.build()) {
                try {
                    fc.run(Duration.ofSeconds(5));
                } catch (HttpServerConnection.RefusedException e) {
                    throw new ApiClient.ClientException(e.getMessage(), e.status() == 404 ? 3 : 1);
                } catch (java.io.UncheckedIOException e) {
                    throw new ApiClient.ClientException(e.getCause().getMessage(), 1);
                }
                out.printf("task %s finished: %s (%s contributed to %d rounds; %d messages, %d bytes sent, %d received)%n",
                        task, fc.finishedReason().replaceFirst("^(finished: )+", ""), client, fc.roundsContributed(),
                        connection.exchanges(),
                        connection.bytesSent(), connection.bytesReceived());
            }
        }
        return 0;
    }

    /** One line per step that did something (polls that only wait print nothing). */
    private static void progress(PrintStream out, FederatedClient c, FederatedClient.Step step,
                                 io.dense4j.federated.protocol.ProtocolException refused) {
        String round = "round " + c.round() + ": ";
        LocalTrainer.Result t = c.lastTraining();
        String training = t == null ? "" : String.format(Locale.ROOT, "trained on %d rows (%d steps, loss %.4f, %.1f s); ",
                t.examples(), t.steps(), t.loss(), t.seconds());
        String line = switch (step) {
            case UPDATE_SENT -> round + training + "update sent";
            case KEYS_ADVERTISED -> round + "selected; keys advertised";
            case KEYS_SHARED -> round + "key shares sent";
            case INPUT_SENT -> round + training + "masked update sent";
            case UNMASKED -> round + "unmasking shares sent; done";
            case DECLINED -> round + "declined (the round does not use secure aggregation)";
            case ROUND_OVER -> refused != null ? round + "left the round: " + refused.getMessage() : null;
            default -> null;
        };
        if (line != null) {
            out.println(line);
        }
    }
}
