package io.dense4j.http;

import org.eclipse.jetty.io.EndPoint;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Who holds a connector's connections. Each client (a remote address; for IPv6 a /64 network, what one host
 * is usually given) is served in full on up to {@code share} connections; its further connections are admitted
 * on probation. When the connector runs out of room, this says which connection to close (of a client holding
 * at least the average, see {@link #firstToShed}). It also counts each client's requests being handled.
 */
final class ClientShares {
    /** One client's connections, in the order they opened. */
    static final class Client {
        final String name;
        private final Set<GuardedConnection> open = new LinkedHashSet<>(); // guarded by this
        private int regular;                                                // guarded by this
        private int probation;                                              // guarded by this
        private boolean gone;                                               // guarded by this: left the map
        private volatile int held;                                          // for lock-free scans
        private final AtomicInteger active = new AtomicInteger();          // requests holding a thread

        Client(String name) {
            this.name = name;
        }

        int held() {
            return held;
        }

        /** The first to shed among this client's connections other than {@code except}, or null. */
        private Candidate firstToShed(GuardedConnection except, long now) {
            Candidate best = null;
            for (GuardedConnection g : open) {
                // in opening order, so the first found of an order is the oldest; the kernel is asked about unread
                // bytes only when the answer could make this one the first to shed
                int least = g.leastShedOrder(now);
                if (g == except || least < 0 || (best != null && least >= best.order())) {
                    continue;
                }
                Candidate c = new Candidate(g, g.shedOrder(now));
                if (c.order() >= 0 && (best == null || c.isBefore(best))) {
                    best = c;
                }
            }
            return best;
        }
    }

    private final int share;
    private final Map<String, Client> clients = new ConcurrentHashMap<>();
    private final AtomicInteger connections = new AtomicInteger();
    private final AtomicInteger activeRequests = new AtomicInteger(); // all clients'
    private final AtomicInteger activeClients = new AtomicInteger();  // clients with a request being handled

    /**
     * Counts one more request of {@code c} being handled, unless it has {@code limit} already, or unless
     * {@code pressure} requests of all clients are being handled and {@code c} has at least the average number of
     * them: near the end of the threads, the rest goes to clients with few. (Each client within its own limit,
     * a few of them together could otherwise hold every thread, for instance by reading their answers slowly.)
     */
    boolean startRequest(Client c, int limit, int pressure) {
        for (;;) {
            int n = c.active.get();
            if (n >= limit) {
                return false;
            }
            int total = activeRequests.get();
            if (n > 0 && total >= pressure && (long) n * Math.max(1, activeClients.get()) >= total) {
                return false;
            }
            if (c.active.compareAndSet(n, n + 1)) {
                activeRequests.incrementAndGet();
                if (n == 0) {
                    activeClients.incrementAndGet();
                }
                return true;
            }
        }
    }

    /** One request of {@code c} counted by {@link #startRequest} has been handled. */
    void endRequest(Client c) {
        if (c.active.decrementAndGet() == 0) {
            activeClients.decrementAndGet();
        }
        activeRequests.decrementAndGet();
    }

    /** Requests being handled now, all clients together. */
    int activeRequests() {
        return activeRequests.get();
    }

    ClientShares(int share) {
        this.share = share;
    }

    /** Registers a new connection of {@code client}: in full while the client is within its share, else on probation. */
    GuardedConnection admit(String client, EndPoint socket, long now) {
        for (;;) {
            Client c = clients.computeIfAbsent(client, Client::new);
            synchronized (c) {
                if (c.gone) {
                    continue; // its last connection closed meanwhile: take the fresh entry
                }
                boolean probation = c.regular >= share;
                GuardedConnection g = new GuardedConnection(socket, c, probation, now);
                if (probation) {
                    c.probation++;
                } else {
                    c.regular++;
                }
                c.open.add(g);
                c.held = c.regular + c.probation;
                connections.incrementAndGet();
                return g;
            }
        }
    }

    /** Forgets a closed connection. */
    void release(GuardedConnection g) {
        Client c = g.client;
        synchronized (c) {
            if (!c.open.remove(g)) {
                return;
            }
            if (g.probation) {
                c.probation--;
            } else {
                c.regular--;
            }
            c.held = c.regular + c.probation;
            if (c.open.isEmpty()) {
                c.gone = true;
                clients.remove(c.name, c);
            }
        }
        connections.decrementAndGet();
    }

    /**
     * The connection to close when the connector is near its cap: among the clients holding at least the average
     * number of connections (so never one of a client with few), the first to shed by
     * {@link GuardedConnection#shedOrder(long)}, the longest in its phase first; or null. A flood from one address
     * sheds its own connections; a flood from many sheds the cheapest of them (answered, idle, then slow bodies,
     * which can be answered, before headers still arriving, which can only be closed).
     */
    GuardedConnection firstToShed(GuardedConnection except) {
        long total = 0;
        int n = 0;
        for (Client c : clients.values()) {
            total += c.held();
            n++;
        }
        long now = System.nanoTime();
        Candidate best = null;
        for (Client c : clients.values()) {
            if ((long) c.held() * n < total) {
                continue; // below the average
            }
            Candidate candidate;
            synchronized (c) {
                candidate = c.firstToShed(except, now);
            }
            if (candidate != null && (best == null || candidate.isBefore(best))) {
                best = candidate;
            }
        }
        return best == null ? null : best.connection();
    }

    /** A connection that could be shed, and its {@link GuardedConnection#shedOrder(long)}. */
    private record Candidate(GuardedConnection connection, int order) {
        boolean isBefore(Candidate other) {
            return order < other.order || (order == other.order && connection.since() < other.connection.since());
        }
    }

    /** Open connections, all clients together. */
    int connections() {
        return connections.get();
    }

    /** Connections {@code client} holds (0 for an unknown one). */
    int held(String client) {
        Client c = clients.get(client);
        return c == null ? 0 : c.held();
    }

    /** Requests of {@code client} being handled now (0 for an unknown one). */
    int active(String client) {
        Client c = clients.get(client);
        return c == null ? 0 : c.active.get();
    }

    /** The client a remote address belongs to: the IPv4 address, or the /64 network of an IPv6 one. */
    static String clientOf(SocketAddress remote) {
        if (!(remote instanceof InetSocketAddress isa) || isa.getAddress() == null) {
            return "unknown";
        }
        InetAddress a = isa.getAddress();
        if (a instanceof Inet6Address && !a.isLoopbackAddress()) {
            byte[] b = a.getAddress();
            StringBuilder s = new StringBuilder();
            for (int i = 0; i < 8; i += 2) {
                s.append(Integer.toHexString(((b[i] & 0xff) << 8) | (b[i + 1] & 0xff))).append(':');
            }
            return s.append(":/64").toString();
        }
        return a.getHostAddress();
    }
}
