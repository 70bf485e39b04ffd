package io.dense4j.http;

import io.dense4j.http.GuardedConnection.Phase;
import io.javalin.http.Context;
import org.eclipse.jetty.http.HttpException;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpMethod;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.io.SelectorManager;
import org.eclipse.jetty.io.SocketChannelEndPoint;
import org.eclipse.jetty.io.ssl.SslConnection;
import org.eclipse.jetty.io.ssl.SslHandshakeListener;
import org.eclipse.jetty.server.AbstractConnector;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.internal.HttpConnection;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.component.AbstractLifeCycle;
import org.eclipse.jetty.util.component.Graceful;
import org.eclipse.jetty.util.thread.ThreadPool;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SelectableChannel;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Supplier;

/**
 * Keeps slow and greedy clients of one connector from starving the others, while every client, whatever its
 * neighbours on the same address do, can still reach the public routes (health, readiness, metrics, OpenAPI).
 *
 * <p><b>Shares.</b> Each client (remote address, see {@link ClientShares}) is served in full on up to
 * {@code maxConnectionsPerClient} connections. Its further connections are accepted on <i>probation</i>: a
 * short header deadline (the probation timeout), one request, then the connection closes; a request to a public
 * route is answered, anything else gets 429 {@code {"error": ...}} with {@code Retry-After} at once (a body is
 * not waited for). So a probe or a load balancer that shares an attacker's address is still answered, and a
 * client that opens connections without end only makes itself the heaviest client. Past the connector's
 * pressure line (1/{@link #PRESSURE_RESERVE} below its cap) each new connection sheds connections of clients
 * holding at least the average number, back to the line (answered ones first, then idle ones, slow bodies, which
 * get 503, and those still sending their headers, see {@link GuardedConnection#shedOrder}); so a client with few
 * connections always finds room. At the cap itself accepting pauses (new connections wait in the kernel's queue,
 * none is closed unanswered), which bounds file descriptors.
 *
 * <p><b>Threads.</b> At most {@code maxActiveRequestsPerClient} requests of one client are handled at once
 * ({@link #threadShare}); more get 429. When the requests being handled near the connector's threads, clients
 * holding at least the average number of them get no more (429), so that a few clients each within its limit
 * (slow readers on several addresses) cannot hold every thread.
 *
 * <p><b>Deadlines</b>, by the phase of each connection ({@link GuardedConnection.Phase}): the headers of a
 * request within the header timeout of its first byte, or of the connection's opening (TLS handshake
 * included; on probation, the shorter probation timeout, from the end of the TLS handshake if there is one:
 * a probe's handshake may wait behind a flood of others); a pipelined request behind the previous one counts
 * from when the previous one is answered (noticed within one sweep); the body within the body timeout of the
 * headers, else 408 (an upload that streams its body in: at least the minimum upload rate over each body
 * timeout, else 408); an answered connection that ends, or a request being failed, is cut after
 * {@link #LINGER_MS} ({@link #SHORT_LINGER_MS} once shed, or while the server stops). Idle kept-alive connections are left to the idle timeout. Bodies up to
 * {@link ServerConnectors#EAGER_BODY_BYTES} arrive before any thread is given to the request; a sweeper checks
 * every connection four times a second.
 */
final class ConnectionGuard extends AbstractLifeCycle implements Connection.Listener, SelectorManager.AcceptListener,
        SslHandshakeListener, Graceful {
    private static final Logger LOG = LoggerFactory.getLogger(ConnectionGuard.class);
    private static final long SWEEP_MS = 250;
    /**
     * How long a connection that is answered and ending, or whose request is being failed, may stay open: the
     * time its lingering close ({@link LingeringConnectionFactory}) may read what its client still sends.
     */
    static final long LINGER_MS = 2000;
    /**
     * The same for a connection that was shed, or while the server stops (a graceful stop waits for every
     * connection to end): long enough for a client that is reading to see its answer.
     */
    static final long SHORT_LINGER_MS = 500;
    /** Shedding starts this fraction of the cap below it, so that new connections find room before accepting stops. */
    static final int PRESSURE_RESERVE = 16;
    /** Seconds a refused client is asked to wait: connections of its share free up as their requests end. */
    static final int RETRY_AFTER_SECONDS = 1;

    /**
     * Request attribute holding a {@link Runnable} the handler calls once it has the whole body, or once it is
     * trusted to stream it slowly (an authenticated upload): the body deadline stops there.
     */
    static final String BODY_READ_ATTRIBUTE = "dense4j.body-read";
    /**
     * Request attribute holding a {@link Runnable} an upload's handler calls when it starts streaming the body in:
     * the body deadline gives way to the minimum upload rate.
     */
    static final String BODY_STREAMING_ATTRIBUTE = "dense4j.body-streaming";
    /**
     * Request attribute present on requests over a connection on probation: a {@link Supplier} that counts one
     * refused request and gives the message of its 429.
     */
    static final String PROBATION_ATTRIBUTE = "dense4j.probation";
    /** Request attribute holding the {@link Refusal} of a request the guard failed (body deadline, shed). */
    static final String REFUSAL_ATTRIBUTE = "dense4j.refusal";
    private static final String BINDING_ATTRIBUTE = "dense4j.guarded-connection"; // on the HttpConnection

    /** A request failed by the guard: the status and message its client gets. */
    static final class Refusal extends IOException implements HttpException {
        private final int status;

        Refusal(int status, String message) {
            super(message, null);
            this.status = status;
        }

        @Override
        public int getCode() {
            return status;
        }

        @Override
        public String getReason() {
            return getMessage();
        }

        /** The answer to the request: this status and message, and Retry-After when the server was busy. */
        ApiException answer(Context ctx) {
            if (status == 503) {
                ctx.header("Retry-After", Integer.toString(RETRY_AFTER_SECONDS));
            }
            return new ApiException(status, getMessage());
        }
    }

    private record Binding(ConnectionGuard guard, GuardedConnection connection) {
    }

    private final ServerConfig.ClientLimits limits;
    private final int maxConnections;
    private final int pressure;
    private final ClientShares shares;
    private final Map<EndPoint, GuardedConnection> bySocket = new ConcurrentHashMap<>();
    private final LongAdder admitted = new LongAdder();
    private final LongAdder probationAdmitted = new LongAdder();
    private final LongAdder refused = new LongAdder();
    private final LongAdder busy = new LongAdder();
    private final LongAdder shed = new LongAdder();
    private final LongAdder headerTimeouts = new LongAdder();
    private final LongAdder bodyTimeouts = new LongAdder();
    private final LongAdder lingeringCloses = new LongAdder();
    private final LongAdder drainedBytes = new LongAdder();
    private ScheduledExecutorService sweeper;
    private AbstractConnector connector;
    /**
     * Channels accepted and not yet admitted (onOpened) nor failed: each channel is counted by the set until the
     * shares count it. Jetty 12.1 calls onAccepted BEFORE createEndPoint (whose onOpened admits the channel), so
     * onAccepted must not take a channel out: between the two it would be counted nowhere, the cap would read one
     * under, and the acceptor could resume and take one connection over the cap (CI: 121 of 120). A channel Jetty
     * closes without telling us (a selector stopping) is dropped by the sweeper once closed.
     */
    private final Set<SelectableChannel> accepting = ConcurrentHashMap.newKeySet();
    private final AtomicInteger leaving = new AtomicInteger(); // shed, not closed yet
    private volatile boolean shuttingDown;

    /** @param maxConnections this connector's cap on open connections */
    ConnectionGuard(ServerConfig.ClientLimits limits, int maxConnections) {
        this.limits = limits;
        this.maxConnections = maxConnections;
        this.pressure = maxConnections - Math.max(1, maxConnections / PRESSURE_RESERVE);
        this.shares = new ClientShares(limits.maxConnectionsPerClient());
    }

    /** Guards {@code connector}: connection tracking, deadlines and its cap on open connections. */
    void attach(AbstractConnector connector) {
        this.connector = connector;
        connector.addBean(this);
    }

    /** Connections the cap counts: open ones (TCP connections, once each under TLS) and those being accepted. */
    int cappedConnections() {
        return accepting.size() + shares.connections();
    }

    /**
     * The cap on open connections: at it the connector stops accepting, so new connections wait in the kernel's
     * queue, and it resumes below it. (Jetty's ConnectionLimit closes a connection accepted over the cap without
     * a word, and counts a TLS connection twice.) Called after every change of the counts; the last call sees the
     * last counts.
     */
    private synchronized void limitAccepting() {
        boolean room = cappedConnections() < maxConnections;
        if (connector != null && connector.isAccepting() != room) {
            connector.setAccepting(room);
        }
    }

    @Override
    public void onAccepting(SelectableChannel channel) {
        accepting.add(channel); // in the acceptor thread, before it accepts the next one
        limitAccepting();
    }

    @Override
    public void onAcceptFailed(SelectableChannel channel, Throwable cause) {
        accepting.remove(channel);
        limitAccepting();
    }

    @Override
    public void onAccepted(SelectableChannel channel) {
        // nothing: the channel stays counted by the set until onOpened admits it, or onAcceptFailed
    }

    /** Open connections of this connector. */
    int openConnections() {
        return shares.connections();
    }

    /** Connections now held by the client of this remote address (for tests and diagnostics). */
    int connectionsOf(String client) {
        return shares.held(client);
    }

    /** Connections now in {@code phase} (tests and diagnostics). */
    int connectionsIn(Phase phase) {
        int n = 0;
        for (GuardedConnection g : bySocket.values()) {
            if (g.phase() == phase) {
                n++;
            }
        }
        return n;
    }

    /** Requests of that client being handled now. */
    int activeRequestsOf(String client) {
        return shares.active(client);
    }

    long admittedConnections() {
        return admitted.sum();
    }

    long probationAdmitted() {
        return probationAdmitted.sum();
    }

    long refusedRequests() {
        return refused.sum();
    }

    long busyRequests() {
        return busy.sum();
    }

    long shedConnections() {
        return shed.sum();
    }

    long headerTimeouts() {
        return headerTimeouts.sum();
    }

    long bodyTimeouts() {
        return bodyTimeouts.sum();
    }

    /**
     * Whether the connection of this endpoint may end with a lingering close ({@link LingeringConnectionFactory}),
     * counted if so: every connection the guard tracks, so that a refused request's answer is not lost to a reset
     * whatever refused it. One on probation too (its 429 must reach the probe or client behind the attacker's
     * address; in a flood they are answered connections, the first shed, and they count against the cap), and
     * one that was shed or whose server stops, for at most {@link #SHORT_LINGER_MS}: their descriptors, or the
     * end of the stop, are wanted soon.
     */
    boolean mayLinger(EndPoint ep) {
        GuardedConnection g = bySocket.get(socketOf(ep));
        if (g == null) {
            return false;
        }
        lingeringCloses.increment();
        return true;
    }

    /** Bytes a lingering close read and dropped. */
    void drained(long bytes) {
        drainedBytes.add(bytes);
    }

    long lingeringCloses() {
        return lingeringCloses.sum();
    }

    long drainedBytes() {
        return drainedBytes.sum();
    }

    @Override
    protected void doStart() {
        sweeper = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "dense4j-connection-guard");
            t.setDaemon(true);
            return t;
        });
        sweeper.scheduleWithFixedDelay(this::sweep, SWEEP_MS, SWEEP_MS, TimeUnit.MILLISECONDS);
    }

    @Override
    protected void doStop() {
        sweeper.shutdownNow();
    }

    /**
     * Graceful stop (before Jetty waits for the connections to end): requests being answered finish; a body still
     * arriving (an upload streaming in too) gets 503; connections with no request in progress (idle, headers pending, answered) close now.
     */
    @Override
    public CompletableFuture<Void> shutdown() {
        shuttingDown = true;
        for (GuardedConnection g : bySocket.values()) {
            switch (g.phase()) {
                case BODY -> fail(g, Phase.BODY, 503, "the server is shutting down");
                case STREAMING -> fail(g, Phase.STREAMING, 503, "the server is shutting down");
                case HEADERS, IDLE, CLOSING -> close(g, "the server is shutting down");
                case HANDLING, FAILING -> { }
            }
        }
        return CompletableFuture.completedFuture(null);
    }

    @Override
    public boolean isShutdown() {
        return shuttingDown;
    }

    // ------------------------------------------------------------------ connections

    @Override
    public void onOpened(Connection c) {
        EndPoint ep = LingeringConnectionFactory.beneath(c.getEndPoint());
        if (ep instanceof SocketChannelEndPoint) { // the TCP connection itself (under TLS, the encrypted side)
            if (!handedOver(c)) {
                admit(ep); // the socket's first connection: plain HTTP's, or the HTTPS port's detector
            } else if (!bySocket.containsKey(ep)) {
                // handed over by the detector after the socket was let go (closed by a deadline or shedding while
                // the detector handed it over): never admitted again, or it would be counted for ever (no close
                // would come for it)
                ep.close();
                return;
            }
            if (c instanceof SslConnection || fromDetector(c)) { // the TLS port's first bytes are the handshake's
                GuardedConnection g = bySocket.get(ep);
                if (g != null) {
                    g.handshaking(true);
                }
            }
        }
        if (c instanceof HttpConnection http) {
            GuardedConnection g = bySocket.get(socketOf(ep));
            if (g != null) {
                g.http(http);
                http.setAttribute(BINDING_ATTRIBUTE, new Binding(this, g));
            }
        }
    }

    @Override
    public void onClosed(Connection c) {
        EndPoint ep = LingeringConnectionFactory.beneath(c.getEndPoint());
        if (upgradedFrom(c, ep)) {
            return; // the socket goes on under its next connection (TLS, or the refusal of plain HTTP)
        }
        if (ep instanceof SocketChannelEndPoint) {
            GuardedConnection g = bySocket.remove(ep);
            if (g != null) {
                shares.release(g);
                if (g.wasShed()) {
                    leaving.decrementAndGet();
                }
                limitAccepting();
            }
        }
    }

    /**
     * The TLS handshake is done: a connection on probation owes its request within the probation timeout from
     * now (the handshake itself is bounded by the header timeout, so that a probe's handshake that waits behind
     * a flood of others still completes).
     */
    @Override
    public void handshakeSucceeded(Event event) {
        GuardedConnection g = event.getEndPoint() == null ? null : bySocket.get(socketOf(event.getEndPoint()));
        if (g != null) {
            g.handshaking(false);
            g.move(Phase.HEADERS, Phase.HEADERS, System.nanoTime());
        }
    }

    /** The HTTPS port's detector handing an open socket over to the connection its first bytes called for. */
    private static boolean upgradedFrom(Connection c, EndPoint ep) {
        return ep.isOpen() && fromDetector(c);
    }

    /** A connection the HTTPS port's detector hands a socket over to: TLS, or the refusal of plain HTTP. */
    private static boolean handedOver(Connection c) {
        return c instanceof SslConnection || c.getClass().getEnclosingClass() == PlainHttpRefusal.class;
    }

    private static boolean fromDetector(Connection c) {
        return c.getClass().getEnclosingClass() == org.eclipse.jetty.server.DetectorConnectionFactory.class;
    }

    private static EndPoint socketOf(EndPoint ep) {
        while (ep instanceof EndPoint.Wrapper w) {
            ep = w.unwrap();
        }
        return ep;
    }

    private void admit(EndPoint socket) {
        GuardedConnection g = shares.admit(ClientShares.clientOf(socket.getRemoteSocketAddress()), socket, System.nanoTime());
        bySocket.put(socket, g);
        if (socket instanceof SocketChannelEndPoint s) {
            accepting.remove(s.getChannel()); // counted by the shares from now on
        }
        admitted.increment();
        if (g.probation) {
            probationAdmitted.increment();
        }
        // down to the pressure line, not counting connections already leaving (their close completes on the
        // selector, later): near the cap each new connection makes room for itself, and then some
        while (shares.connections() - leaving.get() > pressure) {
            GuardedConnection victim = shares.firstToShed(g);
            if (victim == null) {
                break;
            }
            shed(victim);
        }
        limitAccepting();
    }

    /** Closes a connection to make room; a request in flight on it gets 503 first. */
    private void shed(GuardedConnection g) {
        if (!g.markShed()) {
            return;
        }
        shed.increment();
        leaving.incrementAndGet();
        if (g.phase() == Phase.BODY) {
            fail(g, Phase.BODY, 503, "the server is at its connection limit; retry shortly");
        } else {
            close(g, "shed to make room for new connections");
        }
    }

    private static void close(GuardedConnection g, String why) {
        LOG.debug("closing a connection of {} ({}): {}", g.client.name, g.phase(), why);
        g.socket.close(new TimeoutException(why));
    }

    /**
     * Fails the request in flight the way Jetty fails one whose client went silent: reads of its body fail with
     * a {@link Refusal}, which the handler (or Jetty's error handler) answers with its status; the connection
     * then ends, and is cut after {@link #LINGER_MS} if it has not.
     */
    private static boolean fail(GuardedConnection g, Phase from, int status, String why) {
        HttpConnection h = g.http();
        if (h == null || !g.move(from, Phase.FAILING, System.nanoTime())) {
            return false;
        }
        LOG.debug("failing a request of {}: {}", g.client.name, why);
        Refusal refusal = new Refusal(status, why);
        Request request = h.getHttpChannel().getRequest();
        if (request != null) {
            request.setAttribute(REFUSAL_ATTRIBUTE, refusal); // answered before any other check (checkRequest)
        }
        Runnable task = h.getHttpChannel().onFailure(refusal);
        if (task != null) {
            ThreadPool.executeImmediately(h.getConnector().getExecutor(), task);
        }
        return true;
    }

    private void sweep() {
        try {
            if (accepting.removeIf(channel -> !channel.isOpen())) {
                limitAccepting();
            }
            long now = System.nanoTime();
            long header = limits.headerTimeout().toNanos();
            long probationHeader = limits.probationTimeout().toNanos();
            long body = limits.bodyTimeout().toNanos();
            long linger = TimeUnit.MILLISECONDS.toNanos(LINGER_MS);
            long shortLinger = TimeUnit.MILLISECONDS.toNanos(SHORT_LINGER_MS);
            for (GuardedConnection g : bySocket.values()) {
                long age = now - g.since();
                switch (g.phase()) {
                    case HEADERS -> {
                        boolean probation = g.probation && !g.handshaking(); // the handshake: the header timeout
                        if (age > (probation ? probationHeader : header)) {
                            headerTimeouts.increment();
                            close(g, (g.handshaking() ? "TLS handshake and request headers" : "request headers")
                                    + " not received within "
                                    + (probation ? limits.probationTimeout() : limits.headerTimeout()).toMillis() + " ms");
                        }
                    }
                    case IDLE -> {
                        if (g.outputShutdown()) {
                            g.move(Phase.IDLE, Phase.CLOSING, now);
                        } else if (g.nextRequestBegun()) {
                            g.move(Phase.IDLE, Phase.HEADERS, now);
                        }
                    }
                    case BODY -> {
                        if (age > body && fail(g, Phase.BODY, 408, "request body not received within "
                                + limits.bodyTimeout().toMillis() + " ms")) {
                            bodyTimeouts.increment();
                        }
                    }
                    case STREAMING -> {
                        if (age > body) {
                            long least = limits.minUploadBytesPerSecond() * body / TimeUnit.SECONDS.toNanos(1);
                            if (g.bytesSinceMark() >= least) {
                                g.markWindow(now); // kept the rate: the next window
                            } else if (fail(g, Phase.STREAMING, 408, "the upload arrived slower than "
                                    + limits.minUploadBytesPerSecond() + " bytes/s over "
                                    + limits.bodyTimeout().toMillis() + " ms")) {
                                bodyTimeouts.increment();
                            }
                        }
                    }
                    case FAILING, CLOSING -> {
                        if (age > (shuttingDown || g.wasShed() ? shortLinger : linger)) {
                            close(g, "answered and not closed by the client");
                        }
                    }
                    case HANDLING -> { }
                }
            }
        } catch (RuntimeException e) {
            LOG.warn("connection sweep failed", e); // never let one bad pass stop the sweeper
        }
    }

    // ------------------------------------------------------------------ requests

    /**
     * Outermost handler of the server: a request's headers are complete. Starts its body deadline, and answers
     * a request over a probation connection that carries a body (no public route takes one) with 429 at once.
     */
    static Handler.Wrapper requestGate() {
        return new Handler.Wrapper() {
            @Override
            public boolean handle(Request request, Response response, Callback callback) throws Exception {
                if (request.getConnectionMetaData().getAttribute(BINDING_ATTRIBUTE) instanceof Binding b) {
                    return b.guard.handle(b.connection, getHandler(), request, response, callback);
                }
                return super.handle(request, response, callback);
            }
        };
    }

    /** The routes whose handlers stream their body to disk (the uploads; InferenceServer.routes() registers them). */
    private static final java.util.regex.Pattern UPLOAD_PATHS =
            java.util.regex.Pattern.compile("/admin/models/[^/]+/versions|/v1/datasets");

    private static boolean streamsItsBody(Request request) {
        return "POST".equals(request.getMethod()) && UPLOAD_PATHS.matcher(request.getHttpURI().getPath()).matches();
    }

    private boolean handle(GuardedConnection g, Handler next, Request request, Response response, Callback callback)
            throws Exception {
        long now = System.nanoTime();
        boolean body = request.getLength() > 0 || request.getHeaders().contains(HttpHeader.TRANSFER_ENCODING);
        Callback answered = new Callback() {
            @Override
            public void succeeded() {
                g.answered(System.nanoTime());
                callback.succeeded();
            }

            @Override
            public void failed(Throwable x) {
                g.answered(System.nanoTime());
                callback.failed(x);
            }

            @Override
            public InvocationType getInvocationType() {
                return callback.getInvocationType();
            }
        };
        if (g.probation) {
            endAfterThisResponse(g); // one request per probation connection
            if (body) {
                g.enter(Phase.HANDLING, now);
                refused.increment();
                writeRefusal(response, 429, probationMessage(g), answered);
                return true;
            }
            request.setAttribute(PROBATION_ATTRIBUTE, (Supplier<String>) () -> {
                refused.increment();
                return probationMessage(g);
            });
        }
        if (body && streamsItsBody(request)) {
            // an upload keeps the minimum rate from its first byte: the first EAGER_BODY_BYTES are buffered before
            // its handler runs, and under the body deadline a slow-but-legal upload got 408 before it was reached
            g.enter(Phase.STREAMING, now);
            g.markWindow(now);
        } else {
            g.enter(body ? Phase.BODY : Phase.HANDLING, now);
        }
        // the body is in (read whole, or an upload's stream ended): no body deadline or rate applies while the
        // handler works on it (checking a large upload takes longer than any body timeout)
        request.setAttribute(BODY_READ_ATTRIBUTE, (Runnable) () -> {
            if (!g.move(Phase.BODY, Phase.HANDLING, System.nanoTime())) {
                g.move(Phase.STREAMING, Phase.HANDLING, System.nanoTime());
            }
        });
        request.setAttribute(BODY_STREAMING_ATTRIBUTE, (Runnable) () -> {
            if (g.move(Phase.BODY, Phase.STREAMING, System.nanoTime())) {
                g.markWindow(System.nanoTime());
            }
        });
        boolean handled;
        try {
            handled = next != null && next.handle(request, response, answered);
        } catch (Throwable x) {
            g.answered(System.nanoTime()); // Jetty answers it: the next request gets its deadlines
            throw x;
        }
        if (!handled) {
            g.answered(System.nanoTime());
        }
        return handled;
    }

    /**
     * Handler after the body is received, where a request takes a thread: at most
     * {@code maxActiveRequestsPerClient} requests of one client are handled at once, so clients that read their
     * responses slowly (each blocked write holds a thread until the idle timeout) cannot take every thread; more
     * get 429 at once. Health and readiness probes, which answer a few bytes and never block, are exempt.
     */
    static Handler.Wrapper threadShare() {
        return new Handler.Wrapper() {
            @Override
            public boolean handle(Request request, Response response, Callback callback) throws Exception {
                if (request.getConnectionMetaData().getAttribute(BINDING_ATTRIBUTE) instanceof Binding b && !isProbe(request)) {
                    return b.guard.handleActive(b.connection, getHandler(), request, response, callback);
                }
                return super.handle(request, response, callback);
            }
        };
    }

    private static boolean isProbe(Request request) {
        String path = Request.getPathInContext(request);
        return HttpMethod.GET.is(request.getMethod()) && ("/v2/health/live".equals(path) || "/v2/health/ready".equals(path));
    }

    private boolean handleActive(GuardedConnection g, Handler next, Request request, Response response, Callback callback)
            throws Exception {
        if (request.getAttribute(REFUSAL_ATTRIBUTE) instanceof Refusal r) {
            writeRefusal(response, r.getCode(), r.getMessage(), callback); // failed while its body arrived: no thread needed
            return true;
        }
        int limit = limits.maxActiveRequestsPerClient();
        if (!shares.startRequest(g.client, limit, threadPressure())) {
            busy.increment();
            endAfterThisResponse(g); // requests pipelined behind it would only be refused in turn
            writeRefusal(response, 429, "too many requests in progress from this client (" + limit + " are handled at "
                    + "once, fewer when the server's threads run short); retry shortly", callback);
            return true;
        }
        try {
            return next != null && next.handle(request, response, callback);
        } finally {
            shares.endRequest(g.client); // a blocking handler has answered (or failed) by now
        }
    }

    /**
     * Requests being handled at which the clients with the most of them get no more threads: the connector's
     * threads less an eighth (Jetty's own tasks use some; the rest is kept for clients with few requests).
     */
    int threadPressure() {
        int threads = connector != null && connector.getExecutor() instanceof ThreadPool.SizedThreadPool p
                ? p.getMaxThreads() : Integer.MAX_VALUE;
        return threads == Integer.MAX_VALUE ? threads : threads - Math.max(1, threads / 8);
    }

    /**
     * The guard's part of a route's own check, first of all: a request it failed gets its refusal (408, 503), and
     * a request over a probation connection reaches only the routes always answered (429).
     */
    static void checkRequest(Context ctx, Role role) {
        if (ctx.req().getAttribute(REFUSAL_ATTRIBUTE) instanceof Refusal r) {
            throw r.answer(ctx);
        }
        if (!role.alwaysAnswered() && ctx.req().getAttribute(PROBATION_ATTRIBUTE) instanceof Supplier<?> refusal) {
            ctx.header("Retry-After", Integer.toString(RETRY_AFTER_SECONDS));
            throw new ApiException(429, String.valueOf(refusal.get()));
        }
    }

    /**
     * What a route's handler that failed answers: the guard's refusal if the guard failed its request (the body
     * deadline, the upload rate, shedding: the handler saw only a failed read), else its own failure.
     */
    static Exception refusalOr(Context ctx, Exception failure) {
        return ctx.req().getAttribute(REFUSAL_ATTRIBUTE) instanceof Refusal r ? r.answer(ctx) : failure;
    }

    /** The response carries Connection: close and the connection ends after it (as Jetty does for bad requests). */
    private static void endAfterThisResponse(GuardedConnection g) {
        HttpConnection h = g.http();
        if (h != null) {
            h.getGenerator().setPersistent(false);
        }
    }

    private String probationMessage(GuardedConnection g) {
        return "too many connections from this client (" + g.client.held() + " open; "
                + limits.maxConnectionsPerClient() + " are served in full): further connections are answered for "
                + "health, readiness, metrics and OpenAPI only; retry shortly";
    }

    /** The refusal as {"error": ...}; Retry-After unless the client itself was too slow (408). */
    private static void writeRefusal(Response response, int status, String message, Callback callback) {
        byte[] body = Json.errorBody(message);
        response.setStatus(status);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, Json.CONTENT_TYPE);
        if (status != 408) {
            response.getHeaders().put(HttpHeader.RETRY_AFTER, Integer.toString(RETRY_AFTER_SECONDS));
        }
        response.getHeaders().put(HttpHeader.CONTENT_LENGTH, body.length);
        response.write(true, ByteBuffer.wrap(body), callback);
    }
}
