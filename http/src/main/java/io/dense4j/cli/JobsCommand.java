package io.dense4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.dense4j.service.job.EventText;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalTime;
import java.time.format.DateTimeFormatter;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/** {@code dense4j jobs ...}: submit, follow, list, inspect and cancel the jobs of a training server. */
@Command(name = "jobs", mixinStandardHelpOptions = true, description = "Submit, watch, list, inspect and cancel "
        + "training, tuning and evaluation jobs on a training server.")
public final class JobsCommand implements Runnable {
    private static final DateTimeFormatter CLOCK = DateTimeFormatter.ofPattern("HH:mm:ss");
    /** Reconnections of {@code watch} after the stream broke, before it gives up. */
    private static final int RECONNECTS = 30;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    @Command(name = "submit", mixinStandardHelpOptions = true, description = "Submit a job spec (job.json; '-' reads "
            + "standard input); prints the job id.")
    int submit(@Mixin ApiClient.Options api, @Parameters(index = "0", paramLabel = "JOB.json") String file)
            throws IOException {
        String body = file.equals("-") ? new String(System.in.readAllBytes(), StandardCharsets.UTF_8)
                : Files.readString(Path.of(file));
        JsonNode job = api.client().post("/v1/jobs", "application/json", HttpRequest.BodyPublishers.ofString(body));
        System.out.println(job.path("id").asLong());
        return 0;
    }

    @Command(name = "watch", mixinStandardHelpOptions = true, description = "Follow a job live (state, phases, epochs "
            + "with loss, accuracy and ETA, trials) until it ends; exits 0 when it succeeded, 1 otherwise.")
    int watch(@Mixin ApiClient.Options api, @Parameters(index = "0", paramLabel = "ID") long id,
              @Option(names = "--no-progress", description = "do not show the progress within epochs (about once a second)")
              boolean noProgress) throws IOException {
        return new Watcher(api.client(), id, !noProgress, System.out, System.console() != null).run();
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List your jobs, newest first (an admin: "
            + "everyone's).")
    int list(@Mixin ApiClient.Options api,
             @Option(names = "--state", description = "queued, running, succeeded, failed or cancelled") String state,
             @Option(names = "--owner", description = "admin: one owner's jobs") String owner,
             @Option(names = "--limit", defaultValue = "50", description = "at most this many (default 50)") int limit,
             @Option(names = "--page-token", description = "the next page: the token the previous list printed")
             String pageToken) {
        Map<String, String> q = new LinkedHashMap<>();
        q.put("state", state);
        q.put("owner", owner);
        q.put("limit", Integer.toString(limit));
        q.put("page_token", pageToken);
        JsonNode page = api.client().get("/v1/jobs" + ApiClient.query(q));
        JsonNode jobs = page.path("jobs");
        System.out.printf("%-6s %-8s %-10s %-12s %-20s  %s%n", "ID", "TYPE", "STATE", "OWNER", "SUBMITTED", "PROGRESS / RESULT");
        for (JsonNode j : jobs) {
            System.out.printf(Locale.ROOT, "%-6d %-8s %-10s %-12s %-20s  %s%n", j.path("id").asLong(), j.path("type").asText(),
                    j.path("state").asText(), DatasetsCommand.clip(j.path("owner").asText(), 12),
                    j.path("submitted_at").asText().replace('T', ' ').replaceAll("\\.[0-9]+Z$|Z$", ""), outcome(j));
        }
        if (page.hasNonNull("next_page_token")) {
            System.out.println("more: --page-token " + page.get("next_page_token").asText());
        }
        return 0;
    }

    @Command(name = "get", mixinStandardHelpOptions = true, description = "Show a job as JSON: state, progress, spec, "
            + "result (metrics per epoch, registered version, promotion), trials.")
    int get(@Mixin ApiClient.Options api, @Parameters(index = "0", paramLabel = "ID") long id) throws IOException {
        System.out.println(RegistryCommand.JSON.writeValueAsString(api.client().get("/v1/jobs/" + id)));
        return 0;
    }

    @Command(name = "cancel", mixinStandardHelpOptions = true, description = "Cancel a job: a queued one at once, a "
            + "running one within one chunk of training steps.")
    int cancel(@Mixin ApiClient.Options api, @Parameters(index = "0", paramLabel = "ID") long id) {
        JsonNode r = api.client().delete("/v1/jobs/" + id);
        System.out.println("job " + id + ": " + r.path("outcome").asText().replace('_', ' '));
        return 0;
    }

    @Command(name = "logs", mixinStandardHelpOptions = true, description = "Print a job's log: state changes, phases, "
            + "epochs, trials.")
    int logs(@Mixin ApiClient.Options api, @Parameters(index = "0", paramLabel = "ID") long id) {
        // a page at a time (the server returns at most LOG_PAGE events a request), in the server's text layout
        long after = 0;
        for (int got = LOG_PAGE; got == LOG_PAGE; ) {
            JsonNode events = api.client().get("/v1/jobs/" + id + "/logs?format=json&limit=" + LOG_PAGE + "&after="
                    + after).path("events");
            got = events.size();
            StringBuilder sb = new StringBuilder();
            for (JsonNode e : events) {
                String kind = e.path("kind").asText();
                sb.append(e.path("at").asText()).append("  ").append(String.format(Locale.ROOT, "%-8s", kind))
                        .append(' ').append(EventText.describe(kind, e.path("data"))).append('\n');
                after = e.path("seq").asLong();
            }
            System.out.print(sb);
        }
        return 0;
    }

    /** Events asked for per request by {@code jobs logs}: the most the server returns at once. */
    static final int LOG_PAGE = 10_000;

    /** One line about where a job is: its progress, its result, or its error. */
    static String outcome(JsonNode j) {
        JsonNode p = j.path("progress");
        if (!p.isMissingNode() && !p.isNull()) {
            return EventText.describe(p.has("step") ? "progress" : "epoch", p);
        }
        JsonNode r = j.path("result");
        if (j.hasNonNull("error")) {
            return j.get("error").asText();
        }
        if (r.isObject()) {
            StringBuilder sb = new StringBuilder();
            if (r.has("registered")) {
                sb.append(r.at("/registered/model").asText()).append(" v").append(r.at("/registered/version").asInt());
            }
            if (r.at("/metrics/accuracy").isNumber()) {
                sb.append(String.format(Locale.ROOT, " holdout accuracy %.4f", r.at("/metrics/accuracy").asDouble()));
            }
            if (r.at("/promotion/promoted").asBoolean(false)) {
                sb.append(", promoted to stable");
            }
            if (r.at("/evaluation/accuracy").isNumber()) {
                sb.append(String.format(Locale.ROOT, "accuracy %.4f on %d rows", r.at("/evaluation/accuracy").asDouble(),
                        r.at("/evaluation/rows").asInt()));
            }
            return sb.toString().strip();
        }
        return "";
    }

    /**
     * Follows a job's Server-Sent Events, printing each as a line; reconnects with {@code Last-Event-ID} when the
     * stream breaks (the server restarted, a proxy timed out), so nothing is missed or printed twice.
     */
    static final class Watcher {
        private final ApiClient client;
        private final long id;
        private final boolean progress;
        private final PrintStream out;
        /** On a terminal, progress rewrites one line instead of scrolling. */
        private final boolean inPlace;
        private boolean progressShown;
        private long lastId;
        private JsonNode end;

        Watcher(ApiClient client, long id, boolean progress, PrintStream out, boolean inPlace) {
            this.client = client;
            this.id = id;
            this.progress = progress;
            this.out = out;
            this.inPlace = inPlace;
        }

        private void line(String text) {
            line(stamp(), text);
        }

        private void line(String stamp, String text) {
            if (progressShown) {
                out.println();
                progressShown = false;
            }
            out.println(stamp + text);
        }

        int run() throws IOException {
            int failures = 0;
            while (end == null) {
                HttpRequest.Builder r = client.request("/v1/jobs/" + id + "/events").header("Accept", "text/event-stream");
                if (lastId > 0) {
                    r.header("Last-Event-ID", Long.toString(lastId));
                }
                try {
                    HttpResponse<InputStream> resp = client.stream(r.GET().build());
                    failures = 0;
                    read(resp.body());
                } catch (IOException | ApiClient.ClientException e) {
                    boolean unreachable = e instanceof IOException || e.getMessage().startsWith("cannot reach")
                            || e.getMessage().startsWith("request to") || e.getMessage().contains("(HTTP 503)");
                    if (!unreachable || ++failures > RECONNECTS) {
                        throw e instanceof ApiClient.ClientException ce ? ce
                                : new ApiClient.ClientException("the event stream broke: " + e.getMessage(), 1);
                    }
                }
                if (end == null) {
                    sleep(failures == 0 ? 200 : 2000);
                }
            }
            String state = end.path("state").asText();
            String outcome = outcome(end);
            outcome = outcome.equals(state) ? "" : outcome; // "cancelled: cancelled" said nothing twice
            line("job " + id + " " + state + (outcome.isEmpty() ? "" : ": " + outcome));
            return state.equals("succeeded") ? 0 : 1;
        }

        /** Parses one stream: fields until a blank line make an event (the SSE format). */
        private void read(InputStream body) throws IOException {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(body, StandardCharsets.UTF_8))) {
                String event = "message";
                StringBuilder data = new StringBuilder();
                String eventId = null;
                for (String line; (line = in.readLine()) != null; ) {
                    if (line.isEmpty()) {
                        if (data.length() > 0) {
                            dispatch(event, data.toString(), eventId);
                            if (end != null) {
                                return;
                            }
                        }
                        event = "message";
                        data.setLength(0);
                        eventId = null;
                    } else if (line.startsWith(":")) {
                        continue; // keep-alive comment
                    } else if (line.startsWith("event:")) {
                        event = line.substring(6).strip();
                    } else if (line.startsWith("data:")) {
                        if (data.length() > 0) {
                            data.append('\n');
                        }
                        data.append(line.substring(5).stripLeading());
                    } else if (line.startsWith("id:")) {
                        eventId = line.substring(3).strip();
                    }
                }
            }
        }

        private void dispatch(String event, String data, String eventId) {
            JsonNode p;
            try {
                p = ApiClient.JSON.readTree(data);
            } catch (IOException e) {
                return;
            }
            if (eventId != null && eventId.matches("[0-9]+")) {
                lastId = Long.parseLong(eventId);
            }
            switch (event) {
                case "end" -> end = p;
                case "progress" -> {
                    if (progress && inPlace) {
                        out.print("\r" + stamp() + EventText.describe(event, p) + "\u001b[K");
                        out.flush();
                        progressShown = true;
                    } else if (progress) {
                        out.println(stamp() + EventText.describe(event, p));
                    }
                }
                case "trial_epoch" -> { }
                default -> line(stamp(p), EventText.describe(event, p));
            }
        }

        private static String stamp() {
            return LocalTime.now().format(CLOCK) + "  ";
        }

        /** The time the server wrote the event (a replayed event is old), in this machine's zone; else now. */
        private static String stamp(JsonNode event) {
            try {
                return java.time.Instant.parse(event.path("at").asText())
                        .atZone(java.time.ZoneId.systemDefault()).format(CLOCK) + "  ";
            } catch (java.time.format.DateTimeParseException e) {
                return stamp();
            }
        }

        private static void sleep(long ms) {
            try {
                Thread.sleep(ms);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new ApiClient.ClientException("interrupted", 1);
            }
        }
    }
}
