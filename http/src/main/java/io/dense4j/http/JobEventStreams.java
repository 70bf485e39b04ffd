package io.dense4j.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.dense4j.service.JobService;
import io.dense4j.service.QuotaException;
import io.dense4j.service.store.Records;
import io.javalin.http.Context;
import jakarta.servlet.AsyncContext;
import jakarta.servlet.ServletOutputStream;
import jakarta.servlet.WriteListener;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The live job event streams (Server-Sent Events) of one server.
 *
 * <h2>Threads</h2>
 * A stream holds no request thread: the handler puts the request in async mode and returns, and every write is
 * non-blocking (a servlet {@link WriteListener}): frames wait in the stream's own bounded queue until the client's
 * socket takes them. A client that reads slowly or not at all therefore costs a little memory, never a thread; one
 * whose queue stays over its bound is sent nothing more until it drains (events are replayed from the store, so
 * nothing is lost), and Jetty's idle timeout closes a connection whose writes make no progress. One pump thread reads
 * the store for every stream.
 *
 * <h2>Sources</h2>
 * Events come from the state store's job log, so a stream follows a job wherever it runs (another server sharing
 * the queue) and replays from {@code Last-Event-ID} after a reconnect; the store is read once a second. Jobs running
 * in this process also tell the pump at once (the job service's listener), so their events arrive with no poll delay;
 * their progress (kept out of the log) is pushed from the listener too, and read from the job row otherwise.
 *
 * <h2>Coexisting with the connection guard</h2>
 * A stream's request is past its body, so the guard's request deadlines do not apply; a comment line goes out every
 * 15 s so that idle-timeouts (Jetty's, proxies') never close a healthy stream. Open streams are bounded per token name
 * and in all (429 beyond), on top of the guard's per-address connection limit.
 */
final class JobEventStreams implements JobService.Listener, AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(JobEventStreams.class);
    static final String CONTENT_TYPE = "text/event-stream;charset=utf-8";
    private static final long POLL_MS = 1000;
    private static final long KEEP_ALIVE_NANOS = TimeUnit.SECONDS.toNanos(15);
    /** A stream with this much unsent is not given more until the client catches up. */
    private static final int HIGH_WATER_BYTES = 256 << 10;
    private static final int PAGE = 500;
    private static final int MAX_STREAMS = 1024;

    private final JobService jobs;
    private final int maxPerCaller;
    private final Map<Long, Set<Stream>> byJob = new ConcurrentHashMap<>();
    private final Map<String, AtomicInteger> perCaller = new ConcurrentHashMap<>();
    private final AtomicInteger open = new AtomicInteger();
    private final Set<Long> wakeups = ConcurrentHashMap.newKeySet();
    private final ScheduledExecutorService pump = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "dense4j-job-events");
        t.setDaemon(true);
        return t;
    });

    JobEventStreams(JobService jobs, int maxPerCaller) {
        this.jobs = jobs;
        this.maxPerCaller = maxPerCaller;
        jobs.addListener(this);
        pump.scheduleWithFixedDelay(this::tick, POLL_MS, POLL_MS, TimeUnit.MILLISECONDS);
    }

    /** Open streams now (for tests and metrics). */
    int openStreams() {
        return open.get();
    }

    /** Starts a stream of job {@code jobId}'s events after {@code afterSeq}; 429 over the caller's limit. */
    void open(Context ctx, long jobId, Access.Caller caller, long afterSeq) {
        AtomicInteger mine = perCaller.computeIfAbsent(caller.name(), k -> new AtomicInteger());
        if (mine.incrementAndGet() > maxPerCaller) {
            mine.decrementAndGet();
            throw new QuotaException(caller.name() + " already has " + maxPerCaller + " event streams open; close one");
        }
        if (open.incrementAndGet() > MAX_STREAMS) {
            open.decrementAndGet();
            mine.decrementAndGet();
            throw ApiException.unavailable("too many event streams are open on this server; retry later");
        }
        Stream s = new Stream(jobId, caller, afterSeq);
        ctx.status(200);
        ctx.res().setContentType(CONTENT_TYPE);
        ctx.res().setHeader("Cache-Control", "no-cache");
        ctx.res().setHeader("X-Accel-Buffering", "no"); // proxies such as nginx must not hold frames back
        try {
            ctx.future(() -> {
                AsyncContext async = ctx.req().getAsyncContext();
                async.setTimeout(0); // the stream ends with the job, or when the client leaves
                byJob.computeIfAbsent(jobId, k -> ConcurrentHashMap.newKeySet()).add(s);
                s.offer("retry: 2000\n\n".getBytes(StandardCharsets.UTF_8), true); // reconnect delay for browsers
                try {
                    s.listen(ctx.res().getOutputStream());
                } catch (IOException | RuntimeException e) {
                    s.close();
                    return s.done;
                }
                wake(jobId);
                return s.done;
            });
        } catch (RuntimeException e) {
            s.release();
            throw e;
        }
    }

    // ------------------------------------------------------------------------------------------ sources

    @Override
    public void onEvent(long jobId, String kind, String payloadJson) {
        Set<Stream> ss = byJob.get(jobId);
        if (ss == null || ss.isEmpty()) {
            return;
        }
        if (kind.equals("progress")) {
            byte[] frame = frame(-1, "progress", payloadJson);
            pump.execute(() -> ss.forEach(s -> s.offer(frame, false)));
        } else {
            wake(jobId);
        }
    }

    /** Reads the store for this job's streams soon (once, however many wake-ups arrive meanwhile). */
    private void wake(long jobId) {
        if (wakeups.add(jobId)) {
            try {
                pump.execute(() -> {
                    wakeups.remove(jobId);
                    refresh(jobId);
                });
            } catch (java.util.concurrent.RejectedExecutionException e) {
                wakeups.remove(jobId); // shutting down
            }
        }
    }

    private void tick() {
        for (Long jobId : byJob.keySet()) {
            refresh(jobId);
        }
        long now = System.nanoTime();
        byJob.values().forEach(ss -> ss.forEach(s -> {
            if (now - s.lastWrite > KEEP_ALIVE_NANOS) {
                s.offer(": keep-alive\n\n".getBytes(StandardCharsets.UTF_8), false);
            }
        }));
    }

    /** New log events of a job for each of its streams; the progress from the job row; the end once it is final. */
    private void refresh(long jobId) {
        Set<Stream> ss = byJob.get(jobId);
        if (ss == null || ss.isEmpty()) {
            byJob.remove(jobId, Set.of());
            return;
        }
        try {
            long from = ss.stream().filter(Stream::wantsMore).mapToLong(s -> s.lastSeq).min().orElse(Long.MAX_VALUE);
            if (from == Long.MAX_VALUE) {
                return; // every stream is still sending what it has
            }
            // the job before its events: a job's final state and its last event are committed together, so a job
            // read as terminal has every event in the read that follows (read the other way round, a job finishing
            // between the two reads ended the stream without its last "state" event)
            Records.Job job = jobs.get(jobId).orElse(null);
            List<Records.Event> events = jobs.events(jobId, from, PAGE);
            boolean complete = events.size() < PAGE;
            byte[][] frames = new byte[events.size()][]; // each event framed once, whatever number of streams sends it
            for (Stream s : ss) {
                if (!s.wantsMore()) {
                    continue;
                }
                for (int i = 0; i < frames.length; i++) {
                    Records.Event e = events.get(i);
                    if (e.seq() > s.lastSeq) {
                        if (frames[i] == null) {
                            frames[i] = frame(e.seq(), e.kind(), stamped(e.payload(), e.at()));
                        }
                        s.offer(frames[i], true);
                        s.lastSeq = e.seq();
                    }
                }
                if (job == null) {
                    s.end("{\"error\":\"the job no longer exists\"}");
                } else if (complete && job.state().terminal()) {
                    s.end(io.dense4j.tune.Json.write(JobHandlers.view(job, s.caller.admin(), false, null)));
                } else if (job.progress() != null && !job.progress().equals(s.lastProgress)
                        && job.state() == io.dense4j.service.job.JobState.RUNNING
                        && job.progress().contains("\"step\"")) { // the row also holds epochs, which the log has
                    s.lastProgress = job.progress();
                    s.offer(frame(-1, "progress", job.progress()), false);
                }
            }
            if (!complete) {
                pump.schedule(() -> refresh(jobId), 10, TimeUnit.MILLISECONDS); // the next page of a long replay
            }
        } catch (RuntimeException e) {
            LOG.warn("reading the events of job {} failed: {}", jobId, e.getMessage());
        }
    }

    /**
     * The event's payload with the time it was written ({@code "at"}, as in {@code /logs}) first: a stream that
     * replays a job's past events must not leave its reader to stamp them with the time they arrived.
     */
    static String stamped(String payload, long atMillis) {
        try {
            JsonNode p = Json.MAPPER.readTree(payload);
            if (!(p instanceof ObjectNode o) || o.has("at")) {
                return payload;
            }
            ObjectNode out = Json.MAPPER.createObjectNode();
            out.put("at", Instant.ofEpochMilli(atMillis).toString());
            out.setAll(o);
            return Json.MAPPER.writeValueAsString(out);
        } catch (IOException e) {
            return payload; // not JSON: sent as it was written
        }
    }

    private static byte[] frame(long seq, String event, String data) {
        StringBuilder sb = new StringBuilder(data.length() + 48);
        if (seq >= 0) {
            sb.append("id: ").append(seq).append('\n');
        }
        sb.append("event: ").append(event).append('\n');
        for (String line : data.split("\n", -1)) { // compact JSON has none; kept correct for any text
            sb.append("data: ").append(line).append('\n');
        }
        return sb.append('\n').toString().getBytes(StandardCharsets.UTF_8);
    }

    /** Ends every stream (the server is stopping); clients reconnect, to this server or another. */
    @Override
    public void close() {
        pump.shutdownNow();
        byJob.values().forEach(ss -> ss.forEach(Stream::close));
        byJob.clear();
    }

    // ------------------------------------------------------------------------------------------ one stream

    /** One client's stream: its position in the job log, and the frames not yet taken by its socket. */
    private final class Stream implements WriteListener {
        final long jobId;
        final Access.Caller caller;
        final CompletableFuture<Void> done = new CompletableFuture<>();
        final ArrayDeque<byte[]> queue = new ArrayDeque<>();
        volatile long lastSeq;
        volatile long lastWrite = System.nanoTime();
        String lastProgress;
        private ServletOutputStream out;
        private boolean listening;
        private int queuedBytes;
        private boolean unflushed;
        private boolean ending;
        private boolean closed;
        private boolean released;

        Stream(long jobId, Access.Caller caller, long afterSeq) {
            this.jobId = jobId;
            this.caller = caller;
            this.lastSeq = afterSeq;
        }

        /** Switches the response to non-blocking writes and sends what is queued (the headers go out with it). */
        void listen(ServletOutputStream stream) {
            synchronized (this) {
                out = stream;
                out.setWriteListener(this); // may call onWritePossible at once, on any thread: it waits for listening
                listening = true;
            }
            drain();
        }

        synchronized boolean wantsMore() {
            return !closed && !ending && queuedBytes < HIGH_WATER_BYTES;
        }

        /** Queues a frame; a lossy one (progress, keep-alive) is dropped while the client is behind. */
        void offer(byte[] frame, boolean lossless) {
            synchronized (this) {
                if (closed || ending || (!lossless && queuedBytes >= HIGH_WATER_BYTES)) {
                    return;
                }
                queue.add(frame);
                queuedBytes += frame.length;
            }
            drain();
        }

        /** Sends a last {@code end} event (the job's final view), then completes the response. */
        void end(String jobJson) {
            offer(frame(-1, "end", jobJson), true);
            synchronized (this) {
                ending = true;
            }
            drain();
        }

        @Override
        public void onWritePossible() {
            drain();
        }

        @Override
        public void onError(Throwable t) {
            close(); // the client went away, or its writes made no progress until the idle timeout
        }

        private void drain() {
            boolean finished = false;
            synchronized (this) {
                if (closed || !listening) {
                    return;
                }
                try {
                    while (out.isReady()) {
                        byte[] f = queue.poll();
                        if (f != null) {
                            queuedBytes -= f.length;
                            out.write(f);
                            unflushed = true;
                            lastWrite = System.nanoTime();
                        } else if (unflushed) {
                            unflushed = false;
                            out.flush(); // isReady() turns false until the bytes are out
                        } else {
                            finished = ending;
                            break;
                        }
                    }
                } catch (IOException | IllegalStateException e) {
                    finished = true;
                }
            }
            if (finished) {
                close();
            }
        }

        void close() {
            synchronized (this) {
                if (closed) {
                    return;
                }
                closed = true;
                queue.clear();
            }
            release();
            done.complete(null); // Javalin completes the async request
        }

        /** Gives back this stream's place in the limits (once). */
        void release() {
            synchronized (this) {
                if (released) {
                    return;
                }
                released = true;
            }
            Set<Stream> ss = byJob.get(jobId);
            if (ss != null) {
                ss.remove(this);
            }
            open.decrementAndGet();
            AtomicInteger mine = perCaller.get(caller.name());
            if (mine != null) {
                mine.decrementAndGet();
            }
        }
    }
}
