package io.dense4j.http;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The access log, written off the request threads: a request thread only builds its line (a StringBuilder,
 * no String.format) and offers it to a bounded queue; one daemon thread formats the timestamps and writes
 * whole batches to standard error with one write and one flush each, in the same layout as the other log
 * lines (slf4j-simple's, as configured in simplelogger.properties), when the logger {@code dense4j.access} is
 * enabled for INFO. Going through the logger line by line would cost a write system call per request (its
 * stream flushes every line). When the queue is full (output slower than the traffic) lines are dropped and
 * counted rather than slowing the requests down; the count is logged.
 */
final class AccessLog implements AutoCloseable {
    static final Logger LOG = LoggerFactory.getLogger("dense4j.access");
    private static final int CAPACITY = 16_384;

    private static final java.time.format.DateTimeFormatter TIME =
            java.time.format.DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSXXX").withZone(java.time.ZoneId.systemDefault());

    private record Line(long epochMillis, String text) {
    }

    private final BlockingQueue<Line> queue = new ArrayBlockingQueue<>(CAPACITY);
    private final AtomicLong dropped = new AtomicLong();
    private final Thread writer;
    private volatile boolean closed;

    AccessLog() {
        writer = new Thread(this::drain, "dense4j-access-log");
        writer.setDaemon(true);
        writer.start();
    }

    /** logfmt: one line per request, key=value, easy to grep and to ship to a log pipeline. */
    void log(String method, String path, String route, int status, float millis, long bytesIn, Object model,
             Object version, String remote) {
        StringBuilder b = new StringBuilder(160);
        b.append("method=").append(clean(method))
                .append(" path=\"").append(clean(path)).append('"')
                .append(" route=\"").append(clean(route)).append('"')
                .append(" status=").append(status)
                .append(" ms=").append(Math.round(millis * 1000) / 1000.0)
                .append(" bytes_in=").append(bytesIn)
                .append(" model=").append(model == null ? "-" : clean(String.valueOf(model)))
                .append(" version=").append(version == null ? "-" : clean(String.valueOf(version)))
                .append(" remote=").append(clean(remote));
        if (!queue.offer(new Line(System.currentTimeMillis(), b.toString()))) {
            dropped.incrementAndGet();
        }
    }

    /**
     * A client-controlled value as one logfmt token: anything but printable ASCII other than space, quote and
     * backslash is percent-encoded (UTF-8), so that no value can end a line, start another, break the quoting or
     * carry terminal escapes (C1 controls such as U+0085 and U+009B included).
     */
    static String clean(String v) {
        if (v == null) {
            return "-";
        }
        int i = 0;
        while (i < v.length() && kept(v.charAt(i))) {
            i++;
        }
        if (i == v.length()) {
            return v; // every request's common case: no copy
        }
        StringBuilder b = new StringBuilder(v.length() + 16);
        for (byte x : v.getBytes(java.nio.charset.StandardCharsets.UTF_8)) {
            int c = x & 0xff;
            if (kept(c)) {
                b.append((char) c);
            } else {
                b.append('%').append(Character.toUpperCase(Character.forDigit(c >> 4, 16)))
                        .append(Character.toUpperCase(Character.forDigit(c & 15, 16)));
            }
        }
        return b.toString();
    }

    /** Printable ASCII but space, quote and backslash: what a logfmt token holds as it is. */
    private static boolean kept(int c) {
        return c > 0x20 && c < 0x7f && c != '"' && c != '\\';
    }

    long dropped() {
        return dropped.get();
    }

    private void drain() {
        List<Line> batch = new ArrayList<>(512);
        StringBuilder out = new StringBuilder(1 << 16);
        long reportedDrops = 0;
        while (!closed || !queue.isEmpty()) {
            try {
                Line first = queue.poll(200, TimeUnit.MILLISECONDS);
                if (first == null) {
                    continue;
                }
                batch.add(first);
                queue.drainTo(batch, 511);
                for (Line line : batch) {
                    out.append(TIME.format(java.time.Instant.ofEpochMilli(line.epochMillis())))
                            .append(" INFO dense4j.access - ").append(line.text()).append('\n');
                }
                java.io.PrintStream err = System.err;
                err.print(out);
                err.flush();
                out.setLength(0);
                batch.clear();
                long d = dropped.get();
                if (d > reportedDrops) {
                    LOG.warn("access log: {} lines dropped so far (the log output is slower than the traffic)", d);
                    reportedDrops = d;
                }
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    /** Writes what is queued, then stops the writer. */
    @Override
    public void close() {
        closed = true;
        try {
            writer.join(2000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
