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
        b.append("method=").append(method)
                .append(" path=\"").append(path.replace("\"", "%22")).append('"')
                .append(" route=\"").append(route).append('"')
                .append(" status=").append(status)
                .append(" ms=").append(Math.round(millis * 1000) / 1000.0)
                .append(" bytes_in=").append(bytesIn)
                .append(" model=").append(model == null ? "-" : model)
                .append(" version=").append(version == null ? "-" : version)
                .append(" remote=").append(remote);
        if (!queue.offer(new Line(System.currentTimeMillis(), b.toString()))) {
            dropped.incrementAndGet();
        }
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
