package io.dense4j.http;

import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.io.SocketChannelEndPoint;
import org.eclipse.jetty.server.ConnectionMetaData;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.component.AbstractLifeCycle;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Keeps slow and greedy clients from holding the main connector: at most N open connections per remote
 * address (the next one is closed at once), and deadlines on how long a request may take to arrive.
 *
 * <p>Each HTTP connection is in one of three phases. <b>Waiting</b>: before its first request, or after a
 * response; once bytes of a new request arrive (or from the moment a fresh connection opens) the request
 * must deliver all its headers within the header timeout. <b>Body</b>: from the last header until the handler
 * has read the whole body ({@link #bodyRead}), bounded by the body timeout; bodies up to
 * {@link ServerConnectors#EAGER_BODY_BYTES} are received before any thread is given to the request.
 * <b>Handling</b>: the model runs; the batcher's own timeout bounds it. A sweeper checks every connection
 * twice a second and closes those past their deadline; a thread blocked reading such a body wakes up with an
 * I/O error. Idle keep-alive connections are left to the idle timeout.
 */
final class ConnectionGuard extends AbstractLifeCycle implements Connection.Listener {
    private static final Logger LOG = LoggerFactory.getLogger(ConnectionGuard.class);
    private static final long SWEEP_MS = 500;

    private enum Phase { WAITING, BODY, HANDLING }

    /** What the sweeper knows about one HTTP connection. */
    private static final class Tracked {
        volatile Phase phase = Phase.WAITING;
        volatile long phaseStart;     // nanoTime; 0 = no deadline running yet
        volatile long bytesAtWait;    // bytes in when the connection became idle

        void enter(Phase p, long now, long bytesIn) {
            bytesAtWait = bytesIn;
            phaseStart = now;
            phase = p;
        }
    }

    private final ServerConfig.ClientLimits limits;
    private final Map<InetAddress, AtomicInteger> perClient = new ConcurrentHashMap<>();
    private final Map<Connection, Tracked> http = new ConcurrentHashMap<>();
    private final Map<Connection, InetAddress> clientOf = new ConcurrentHashMap<>();
    private final AtomicLong refused = new AtomicLong();
    private final AtomicLong timedOut = new AtomicLong();
    private ScheduledExecutorService sweeper;

    ConnectionGuard(ServerConfig.ClientLimits limits) {
        this.limits = limits;
    }

    long refusedConnections() {
        return refused.get();
    }

    long timedOutRequests() {
        return timedOut.get();
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

    // ------------------------------------------------------------------ connections

    @Override
    public void onOpened(Connection c) {
        if (c.getEndPoint() instanceof SocketChannelEndPoint) {
            InetAddress client = client(c.getEndPoint().getRemoteSocketAddress());
            if (client == null) {
                return;
            }
            clientOf.put(c, client); // a closed channel no longer knows its peer: remember it for onClosed
            if (perClient.computeIfAbsent(client, k -> new AtomicInteger()).incrementAndGet()
                    > limits.maxConnectionsPerClient()) {
                refused.incrementAndGet();
                LOG.debug("closing a connection from {}: over {} connections", client, limits.maxConnectionsPerClient());
                c.getEndPoint().close();
            }
        }
        if (c instanceof ConnectionMetaData) {
            Tracked t = new Tracked();
            t.enter(Phase.WAITING, System.nanoTime(), 0); // a fresh connection owes its first headers at once
            http.put(c, t);
        }
    }

    @Override
    public void onClosed(Connection c) {
        http.remove(c);
        InetAddress client = clientOf.remove(c);
        if (client != null) {
            perClient.computeIfPresent(client, (k, n) -> n.decrementAndGet() <= 0 ? null : n);
        }
    }

    private static InetAddress client(SocketAddress a) {
        return a instanceof InetSocketAddress isa ? isa.getAddress() : null;
    }

    // ------------------------------------------------------------------ request phases

    /** Outermost handler: the request's headers are complete; the body (if any) follows. */
    Handler.Wrapper headersReceived() {
        return new Handler.Wrapper() {
            @Override
            public boolean handle(Request request, Response response, Callback callback) throws Exception {
                Connection c = request.getConnectionMetaData().getConnection();
                Tracked t = http.get(c);
                if (t == null) {
                    return super.handle(request, response, callback);
                }
                boolean body = request.getLength() > 0 || request.getHeaders().contains("Transfer-Encoding");
                t.enter(body ? Phase.BODY : Phase.HANDLING, System.nanoTime(), 0);
                request.setAttribute(BODY_READ_ATTRIBUTE, (Runnable) () -> bodyRead(t));
                return super.handle(request, response, new Callback() {
                    @Override
                    public void succeeded() {
                        t.enter(Phase.WAITING, 0, c.getBytesIn());
                        callback.succeeded();
                    }

                    @Override
                    public void failed(Throwable x) {
                        t.enter(Phase.WAITING, 0, c.getBytesIn());
                        callback.failed(x);
                    }

                    @Override
                    public InvocationType getInvocationType() {
                        return callback.getInvocationType();
                    }
                });
            }
        };
    }

    /**
     * Request attribute holding a {@link Runnable} the handler calls once it has the whole body, or once it is
     * trusted to stream it slowly (an authenticated upload): the body deadline stops there.
     */
    static final String BODY_READ_ATTRIBUTE = "dense4j.body-read";

    private static void bodyRead(Tracked t) {
        if (t.phase == Phase.BODY) {
            t.enter(Phase.HANDLING, System.nanoTime(), 0);
        }
    }

    private void sweep() {
        long now = System.nanoTime();
        long header = limits.headerTimeout().toNanos();
        long body = limits.bodyTimeout().toNanos();
        http.forEach((c, t) -> {
            switch (t.phase) {
                case WAITING -> {
                    if (t.phaseStart == 0) {
                        if (c.getBytesIn() > t.bytesAtWait) {
                            t.phaseStart = now; // the next request has begun
                        }
                    } else if (now - t.phaseStart > header) {
                        expire(c, "request headers not received within " + limits.headerTimeout().toMillis() + " ms");
                    }
                }
                case BODY -> {
                    if (now - t.phaseStart > body) {
                        expire(c, "request body not received within " + limits.bodyTimeout().toMillis() + " ms");
                    }
                }
                case HANDLING -> { }
            }
        });
    }

    private void expire(Connection c, String why) {
        if (http.remove(c) != null) {
            timedOut.incrementAndGet();
            LOG.debug("closing {}: {}", c.getEndPoint().getRemoteSocketAddress(), why);
            c.getEndPoint().close(new java.util.concurrent.TimeoutException(why));
        }
    }
}
