package io.dense4j.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.dense4j.service.JobService;
import io.dense4j.service.job.JobState;
import io.dense4j.service.store.Records;
import io.javalin.http.Context;
import io.javalin.http.HandlerType;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Job routes: submit, list, get (with progress and trials), cancel, logs, and the live event stream. A caller sees
 * and cancels its own jobs (those its token name owns); an admin sees every job. Another caller's job is answered
 * as if it did not exist.
 */
final class JobHandlers {
    /** Largest job spec accepted: a spec is a config, not data. */
    static final long MAX_SPEC_BYTES = 1 << 20;
    private static final int MAX_LIST = 500;

    private final JobService jobs;
    private final JobEventStreams streams;

    JobHandlers(JobService jobs, JobEventStreams streams) {
        this.jobs = jobs;
        this.streams = streams;
    }

    /** POST /v1/jobs with a job spec (JSON): 201 with the queued job. */
    void submit(Context ctx) {
        Access.Caller caller = Access.Caller.of(ctx);
        String text = new String(Bodies.read(ctx, MAX_SPEC_BYTES), StandardCharsets.UTF_8);
        if (text.isBlank()) {
            throw ApiException.badRequest("the request body is empty; a job spec (JSON object) was expected");
        }
        JsonNode spec = io.dense4j.tune.Json.parse(text); // strict: duplicate keys and trailing tokens are errors
        Records.Job job = jobs.submit(spec, caller.name());
        ctx.header("Location", "/v1/jobs/" + job.id());
        Json.write(ctx, 201, view(job, caller.admin(), false));
    }

    /**
     * GET /v1/jobs?state=&owner=&limit=&page_token=: newest first, a page at a time; a caller's own jobs (an admin:
     * everyone's, or one owner's). Lists read the jobs' summary columns, never their specs or results. When more
     * jobs follow, {@code next_page_token} is returned: pass it back (with the same filters) for the next page; the
     * pages neither skip nor repeat jobs while new ones are queued.
     */
    void list(Context ctx) {
        Access.Caller caller = Access.Caller.of(ctx);
        String owner = caller.admin() ? ctx.queryParam("owner") : caller.name();
        if (!caller.admin() && ctx.queryParam("owner") != null && !ctx.queryParam("owner").equals(caller.name())) {
            throw new ApiException(403, "only an admin lists other owners' jobs");
        }
        JobState state = null;
        String s = ctx.queryParam("state");
        if (s != null) {
            try {
                state = JobState.fromDb(s);
            } catch (IllegalArgumentException e) {
                throw ApiException.badRequest("state is one of queued, running, succeeded, failed, cancelled; got '"
                        + (s.length() > 40 ? s.substring(0, 40) + "..." : s) + "'");
            }
        }
        int limit = intParam(ctx, "limit", 50, 1, MAX_LIST);
        Long before = PageToken.parse(ctx.queryParam("page_token"));
        List<Records.JobSummary> page = jobs.list(owner, state, before, limit + 1);
        List<Object> out = new ArrayList<>();
        for (Records.JobSummary j : page.subList(0, Math.min(limit, page.size()))) {
            out.add(view(j, caller.admin(), jobs.liveProgress(j.id())));
        }
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("jobs", out);
        if (page.size() > limit) {
            body.put("next_page_token", PageToken.after(page.get(limit - 1).id()));
        }
        Json.ok(ctx, body);
    }

    /**
     * The opaque token of the page after the job with a given id: "j" and the id in base 36, Base64url-encoded.
     * Anything else is refused with a 400 before the store is asked.
     */
    static final class PageToken {
        private static final int MAX_CHARS = 32;

        private PageToken() {}

        static String after(long id) {
            return java.util.Base64.getUrlEncoder().withoutPadding().encodeToString(
                    ("j" + Long.toString(id, 36)).getBytes(StandardCharsets.US_ASCII));
        }

        /** The id the next page starts below, or null for the first page. */
        static Long parse(String token) {
            if (token == null) {
                return null;
            }
            if (token.isEmpty() || token.length() > MAX_CHARS || !token.matches("[A-Za-z0-9_-]+")) {
                throw invalid();
            }
            String text;
            try {
                text = new String(java.util.Base64.getUrlDecoder().decode(token), StandardCharsets.US_ASCII);
            } catch (IllegalArgumentException e) {
                throw invalid();
            }
            if (!text.matches("j[0-9a-z]{1,12}")) {
                throw invalid();
            }
            long id = Long.parseLong(text.substring(1), 36);
            if (id < 1) {
                throw invalid();
            }
            return id;
        }

        private static ApiException invalid() {
            return ApiException.badRequest("page_token is not one this server returned (pass next_page_token "
                    + "back unchanged, or leave it out for the first page)");
        }
    }

    /** Characters of trial records one request reads from the store at a time (and a trials page holds at most). */
    static final long TRIAL_PAGE_CHARS = 4L << 20;
    private static final int MAX_TRIALS_PAGE = 100;

    /**
     * GET /v1/jobs/{id}: state, progress, result, error, spec and (tune) each trial's summary: its parameters, state,
     * epochs, score and rungs' scores, without the per-epoch metrics and config of its full record
     * ({@link #trials}), from the store's summary column: a search's full records together can reach hundreds of MB.
     */
    void get(Context ctx) {
        Access.Caller caller = Access.Caller.of(ctx);
        Records.Job j = visibleJob(ctx, caller);
        Map<String, Object> v = view(j, caller.admin(), true);
        if (j.type().equals("tune")) {
            List<Object> trials = new ArrayList<>();
            int after = -1;
            for (List<Map.Entry<Integer, String>> page; !(page = jobs.trialSummaries(j.id(), after, 1000)).isEmpty(); ) {
                for (Map.Entry<Integer, String> t : page) {
                    trials.add(new com.fasterxml.jackson.databind.util.RawValue(t.getValue()));
                }
                after = page.get(page.size() - 1).getKey();
            }
            v.put("trials", trials);
        }
        Json.ok(ctx, v);
    }

    /**
     * GET /v1/jobs/{id}/trials?after=TRIAL&limit=N: a tune job's full trial records (config, and each rung's metrics
     * per fold and epoch), by trial number, at most {@code limit} (default 20, at most 100) and about 4 MiB a page;
     * {@code next_after} is there when more follow. The records go out as stored, without a tree in between.
     */
    void trials(Context ctx) {
        Access.Caller caller = Access.Caller.of(ctx);
        long after = longParam(ctx, "after", -1);
        if (after < -1 || after > Integer.MAX_VALUE) {
            throw ApiException.badRequest("after is a trial number (0 and up), got " + after);
        }
        int limit = intParam(ctx, "limit", 20, 1, MAX_TRIALS_PAGE);
        Records.Job j = visibleJob(ctx, caller);
        if (!j.type().equals("tune")) {
            throw ApiException.notFound("job " + j.id() + " is a " + j.type() + " job: only tune jobs have trials");
        }
        List<Records.Trial> page = jobs.trials(j.id(), (int) after, limit, TRIAL_PAGE_CHARS);
        // more follow whether the page ended at its count or at its size: asked without reading another record
        boolean more = !page.isEmpty() && jobs.hasTrialAfter(j.id(), page.get(page.size() - 1).trial());
        Map<String, Object> out = new LinkedHashMap<>();
        List<Object> records = new ArrayList<>(page.size());
        for (Records.Trial t : page) {
            records.add(new com.fasterxml.jackson.databind.util.RawValue(t.record()));
        }
        out.put("trials", records);
        if (more) {
            out.put("next_after", page.get(page.size() - 1).trial());
        }
        Json.ok(ctx, out);
    }

    /**
     * DELETE /v1/jobs/{id}: a queued job is cancelled at once; a running one stops within one chunk of steps (on
     * whichever server runs it) and frees its resources. 202 while it stops, 409 when it had already finished.
     */
    void cancel(Context ctx) {
        Access.Caller caller = Access.Caller.of(ctx);
        Records.Job j = visibleJob(ctx, caller);
        Records.CancelOutcome o = jobs.cancel(j.id());
        if (o == Records.CancelOutcome.ALREADY_FINISHED) {
            throw new ApiException(409, "job " + j.id() + " already " + jobs.get(j.id()).map(x -> x.state().dbName())
                    .orElse("finished"));
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("id", j.id());
        out.put("outcome", o == Records.CancelOutcome.CANCELLED ? "cancelled" : "cancel_requested");
        out.put("state", jobs.get(j.id()).map(x -> x.state().dbName()).orElse(null));
        Json.write(ctx, o == Records.CancelOutcome.CANCELLED ? 200 : 202, out);
    }

    /** Most events a /logs request returns: pass the last one's seq back as {@code after} for more. */
    static final int MAX_LOG_EVENTS = 10_000;

    /**
     * GET /v1/jobs/{id}/logs?after=SEQ&limit=N&format=text|json: the job's log (state changes, phases, epochs,
     * trials), one line per event, oldest first, at most {@link #MAX_LOG_EVENTS}.
     */
    void logs(Context ctx) {
        Access.Caller caller = Access.Caller.of(ctx);
        long after = longParam(ctx, "after", 0);
        // more than the cap is not an error (it was allowed before the cap): the client pages on with `after`
        int limit = Math.min(intParam(ctx, "limit", MAX_LOG_EVENTS, 1, Integer.MAX_VALUE), MAX_LOG_EVENTS);
        String format = ctx.queryParam("format");
        if (format != null && !format.equals("text") && !format.equals("json")) {
            throw ApiException.badRequest("format is text or json, got '" + format + "'");
        }
        Records.Job j = visibleJob(ctx, caller);
        List<Records.Event> events = jobs.events(j.id(), after, limit);
        if ("json".equals(format)) {
            List<Object> out = new ArrayList<>();
            for (Records.Event e : events) {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("seq", e.seq());
                m.put("at", Instant.ofEpochMilli(e.at()).toString());
                m.put("kind", e.kind());
                m.put("data", new com.fasterxml.jackson.databind.util.RawValue(e.payload())); // stored JSON, as is
                out.add(m);
            }
            Json.ok(ctx, Map.of("events", out));
            return;
        }
        StringBuilder sb = new StringBuilder();
        for (Records.Event e : events) {
            sb.append(Instant.ofEpochMilli(e.at())).append("  ").append(String.format(Locale.ROOT, "%-8s", e.kind()))
                    .append(' ').append(io.dense4j.service.job.EventText.describe(e.kind(), io.dense4j.tune.Json.parse(e.payload()))).append('\n');
        }
        ctx.contentType("text/plain; charset=utf-8").result(sb.toString());
    }

    /**
     * GET /v1/jobs/{id}/events: Server-Sent Events. Replays the log after {@code Last-Event-ID} (or {@code ?after=}),
     * then follows it live (state changes, phases, epochs with ETA, trials, progress) until the job ends.
     */
    void events(Context ctx) {
        Access.Caller caller = Access.Caller.of(ctx);
        String last = ctx.header("Last-Event-ID");
        long after = last != null && !last.isBlank() ? parseSeq(last.trim(), "Last-Event-ID") : longParam(ctx, "after", 0);
        Records.Job j = visibleJob(ctx, caller);
        if (ctx.method() == HandlerType.HEAD) {
            ctx.status(200).contentType(JobEventStreams.CONTENT_TYPE); // what a GET would start, without a stream
            return;
        }
        streams.open(ctx, j.id(), caller, after);
    }

    // ------------------------------------------------------------------------------------------ helpers

    private Records.Job visibleJob(Context ctx, Access.Caller caller) {
        String raw = ctx.pathParam("id");
        long id = parseSeq(raw, "job id");
        Records.Job j = jobs.get(id).orElseThrow(() -> ApiException.notFound("no job " + id));
        if (!caller.mayAccess(j.owner())) {
            throw ApiException.notFound("no job " + id); // another owner's job: not even its existence is told
        }
        return j;
    }

    private static long parseSeq(String s, String what) {
        if (!s.matches("[0-9]{1,18}")) {
            throw ApiException.badRequest(what + " must be a non-negative integer, got '"
                    + (s.length() > 40 ? s.substring(0, 40) + "..." : s) + "'");
        }
        return Long.parseLong(s);
    }

    private static long longParam(Context ctx, String name, long dflt) {
        String v = ctx.queryParam(name);
        return v == null ? dflt : parseSeq(v, name);
    }

    private static int intParam(Context ctx, String name, int dflt, int min, int max) {
        String v = ctx.queryParam(name);
        if (v == null) {
            return dflt;
        }
        long n = parseSeq(v, name);
        if (n < min || n > max) {
            throw ApiException.badRequest(name + " must be in [" + min + ", " + max + "], got " + n);
        }
        return (int) n;
    }

    /**
     * A job as clients see it. Non-admins do not see which server runs it or where its files lie (the server's own
     * layout); {@code full} adds the spec and the whole result (a list shows the result's headline).
     */
    Map<String, Object> view(Records.Job j, boolean admin, boolean full) {
        return view(j, admin, full, jobs.liveProgress(j.id()));
    }

    /** @param live the progress of a job running in this process (fresher than the stored one), or null */
    static Map<String, Object> view(Records.Job j, boolean admin, boolean full, String live) {
        Map<String, Object> m = view(Records.JobSummary.of(j), admin, live);
        if (full) {
            JsonNode result = j.result() == null ? null : io.dense4j.tune.Json.parse(j.result());
            if (result instanceof ObjectNode o && !admin) {
                o.remove("model_file");
            }
            m.put("result", result);
            m.put("spec", io.dense4j.tune.Json.parse(j.spec()));
        }
        return m;
    }

    /** A job as lists show it: from its summary columns. */
    static Map<String, Object> view(Records.JobSummary j, boolean admin, String live) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", j.id());
        m.put("type", j.type());
        m.put("name", j.name() == null ? "" : j.name());
        m.put("state", j.state().dbName());
        m.put("owner", j.owner());
        m.put("priority", j.priority());
        m.put("resources", Map.of("cpus", j.cpus(), "gpus", j.gpus()));
        m.put("dataset_sha256", j.datasetSha256());
        m.put("register_as", j.registerAs());
        m.put("submitted_at", time(j.submittedAt()));
        m.put("started_at", time(j.startedAt()));
        m.put("finished_at", time(j.finishedAt()));
        m.put("attempt", j.attempt());
        if (admin) {
            m.put("server", j.server());
        }
        m.put("cancel_requested", j.cancelRequested());
        String progress = live != null ? live : j.progress();
        m.put("progress", j.state() == JobState.RUNNING && progress != null ? io.dense4j.tune.Json.parse(progress) : null);
        m.put("result", j.resultSummary() == null ? null : io.dense4j.tune.Json.parse(j.resultSummary()));
        m.put("error", j.error());
        return m;
    }

    private static String time(Long millis) {
        return millis == null ? null : Instant.ofEpochMilli(millis).toString();
    }
}
