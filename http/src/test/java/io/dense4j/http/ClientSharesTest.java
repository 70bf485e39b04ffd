package io.dense4j.http;

import io.dense4j.http.GuardedConnection.Phase;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Who is a client, who is on probation, and which connection makes room: the policy without sockets. */
class ClientSharesTest {
    private static String client(String address) throws Exception {
        return ClientShares.clientOf(new InetSocketAddress(InetAddress.getByName(address), 1234));
    }

    @Test
    void aClientIsAnIpv4AddressOrAnIpv6Network() throws Exception {
        assertEquals("10.1.2.3", client("10.1.2.3"));
        assertEquals("2001:db8:0:1::/64", client("2001:db8:0:1:aaaa::1"));
        assertEquals(client("2001:db8:0:1:aaaa::1"), client("2001:db8:0:1:bbbb::2")); // one host's /64
        assertFalse(client("2001:db8:0:1::1").equals(client("2001:db8:0:2::1")));
        assertEquals("0:0:0:0:0:0:0:1", client("::1"));
        assertEquals("unknown", ClientShares.clientOf(null));
    }

    @Test
    void beyondItsShareAClientIsOnProbationUntilItsConnectionsClose() {
        ClientShares shares = new ClientShares(2);
        GuardedConnection a = shares.admit("a", null, 0);
        GuardedConnection b = shares.admit("a", null, 0);
        GuardedConnection c = shares.admit("a", null, 0);
        GuardedConnection other = shares.admit("b", null, 0);
        assertFalse(a.probation || b.probation || other.probation);
        assertTrue(c.probation);
        assertEquals(3, shares.held("a"));
        shares.release(a);
        shares.release(a); // twice: counted once
        assertEquals(2, shares.held("a"));
        assertFalse(shares.admit("a", null, 0).probation, "a place of its share came free");
        assertEquals(4, shares.connections());
    }

    @Test
    void roomIsMadeFromClientsHoldingAtLeastTheAverageCheapestFirst() {
        ClientShares shares = new ClientShares(100);
        List<GuardedConnection> flood = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            GuardedConnection g = shares.admit("flood", null, i);
            g.enter(i < 5 ? Phase.HEADERS : Phase.BODY, i);
            flood.add(g);
        }
        GuardedConnection small = shares.admit("small", null, 0);
        small.enter(Phase.CLOSING, 0); // cheapest of all, but its client holds few: never shed for the flood
        // a slow body can still be answered (503): it goes before a connection still sending headers
        assertSame(flood.get(5), shares.firstToShed(null));
        assertTrue(flood.get(5).markShed());
        assertSame(flood.get(6), shares.firstToShed(null), "one already leaving is not picked again");
        for (GuardedConnection g : flood) {
            g.enter(Phase.HANDLING, 0);
        }
        assertNull(shares.firstToShed(null), "requests being answered are not shed");
        flood.get(7).enter(Phase.IDLE, 3);
        flood.get(2).enter(Phase.IDLE, 1);
        assertSame(flood.get(2), shares.firstToShed(null), "the longest idle");
        assertSame(flood.get(7), shares.firstToShed(flood.get(2)), "never the connection making room");
        // many clients with equal shares: all at the average, the cheapest connection among them
        ClientShares many = new ClientShares(100);
        GuardedConnection headers = many.admit("x", null, 0);
        GuardedConnection answered = many.admit("y", null, 5);
        answered.enter(Phase.CLOSING, 5);
        assertSame(answered, many.firstToShed(null));
    }

    @Test
    void nearTheEndOfTheThreadsClientsWithFewRequestsStillGetOne() {
        ClientShares shares = new ClientShares(100);
        int limit = 64;
        int pressure = 218; // 250 threads less an eighth
        List<ClientShares.Client> attackers = new ArrayList<>();
        for (int a = 0; a < 5; a++) {
            attackers.add(shares.admit("attacker-" + a, null, 0).client);
        }
        // five slow readers, each within its limit, would hold 320 threads: they stop at the pressure line
        int held = 0;
        for (int round = 0; round < limit; round++) {
            for (ClientShares.Client c : attackers) {
                if (shares.startRequest(c, limit, pressure)) {
                    held++;
                }
            }
        }
        // (past the line, those still below the average get one more each: at most one per client)
        assertTrue(shares.activeRequests() >= pressure && shares.activeRequests() <= pressure + attackers.size(),
                "requests held " + shares.activeRequests());
        assertEquals(shares.activeRequests(), held);
        // a client with none gets one, then no more than the average while the pressure lasts
        ClientShares.Client small = shares.admit("small", null, 0).client;
        assertTrue(shares.startRequest(small, limit, pressure));
        assertTrue(shares.startRequest(small, limit, pressure), "below the average (1 of some 220 over 6 clients)");
        for (ClientShares.Client c : attackers) {
            assertFalse(shares.startRequest(c, limit, pressure), "at or above the average");
        }
        // once requests end, the pressure is gone
        for (ClientShares.Client c : attackers) {
            for (int i = 0; i < 20; i++) {
                shares.endRequest(c);
            }
        }
        assertTrue(shares.startRequest(attackers.get(0), limit, pressure));
        assertEquals(held + 2 - 100 + 1, shares.activeRequests());
        // the per-client limit holds whatever the pressure
        ClientShares.Client greedy = shares.admit("greedy", null, 0).client;
        for (int i = 0; i < 3; i++) {
            assertTrue(shares.startRequest(greedy, 3, Integer.MAX_VALUE));
        }
        assertFalse(shares.startRequest(greedy, 3, Integer.MAX_VALUE));
    }
}
