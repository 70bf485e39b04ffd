package io.dense4j.federated;

import io.dense4j.federated.protocol.Limits;
import io.dense4j.federated.protocol.Message;
import io.dense4j.federated.protocol.MessageCodec;
import io.dense4j.federated.protocol.ProtocolException;
import io.dense4j.federated.secagg.MaskPrg;
import io.dense4j.federated.secagg.Quantizer;
import io.dense4j.federated.secagg.Shamir;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.logging.SimpleFormatter;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * An honest-but-curious server trying to recover one client's update from everything it saw: every frame it
 * received and sent, its stored state after every exchange, and its log. It collects every numeric vector of model
 * length found there (dequantizing masked ones), adds what it can derive (differences of consecutive states; masked
 * inputs with the self masks removed that it can rebuild from the unmasking shares it received), and reports, per
 * client, the best cosine similarity between any candidate and that client's true update.
 */
public final class ServerViewAttack implements InMemoryTransport.Tap {
    private final List<Message> messages = new ArrayList<>();
    private final List<Map<String, Object>> states = new ArrayList<>();
    private final List<String> logLines = new ArrayList<>();
    private final Logger logger = Logger.getLogger("io.dense4j.federated");
    private final Handler handler = new Handler() {
        @Override
        public void publish(LogRecord r) {
            synchronized (logLines) {
                logLines.add(new SimpleFormatter().formatMessage(r));
            }
        }

        @Override
        public void flush() {}

        @Override
        public void close() {}
    };
    private FederatedCoordinator server;

    public ServerViewAttack() {
        logger.addHandler(handler);
    }

    /** The coordinator whose state is read after every submission (may be null: then only what is added). */
    public void watch(FederatedCoordinator c) {
        this.server = c;
    }

    /** Something else the server stored (a database row, a registry file's tensors), as plain values and arrays. */
    public synchronized void addStoredState(Map<String, Object> state) {
        states.add(state);
    }

    /** A line the server logged elsewhere (its own log files, standard error). */
    public void addLogLine(String line) {
        synchronized (logLines) {
            logLines.add(line);
        }
    }

    @Override
    public synchronized void exchanged(String client, byte[] request, byte[] response, ProtocolException refused) {
        Message m = MessageCodec.decode(request, Limits.DEFAULT);
        messages.add(m);
        if (response != null) {
            messages.add(MessageCodec.decode(response, Limits.DEFAULT));
        }
        if (!(m instanceof Message.Poll) && server != null) {
            states.add(server.snapshot()); // the stored state after every submission
        }
    }

    public void stop() {
        logger.removeHandler(handler);
    }

    public int messagesSeen() {
        return messages.size();
    }

    public int logLinesSeen() {
        return logLines.size();
    }

    public int statesSeen() {
        return states.size();
    }

    /** Best cosine similarity, per client id, between any candidate and that client's true update (first p values). */
    public Map<String, Double> attack(Map<String, float[]> truth, int p, double quantizationBound) {
        List<double[]> candidates = new ArrayList<>();
        // 1. every vector in the frames; masked ones are dequantized with the scale the server knows
        Map<String, Integer> indexOf = new HashMap<>();
        int threshold = 0;
        byte[] session = null;
        Map<String, int[]> masked = new HashMap<>();
        Map<Integer, Map<Integer, BigInteger>> seedShares = new TreeMap<>();
        for (Message m : messages) {
            if (m instanceof Message.Update u) {
                candidates.add(toDouble(u.vector(), 1));
            } else if (m instanceof Message.RoundTask t) {
                candidates.add(toDouble(t.weights(), 1));
            } else if (m instanceof Message.PeerKeys pk) {
                threshold = pk.threshold();
                session = pk.session();
                for (Message.Peer peer : pk.peers()) {
                    indexOf.put(peer.client(), peer.index());
                }
            } else if (m instanceof Message.MaskedInput mi) {
                masked.put(mi.envelope().client(), mi.vector());
            } else if (m instanceof Message.Unmasking un) {
                int from = indexOf.get(un.envelope().client());
                for (Message.KeyShare s : un.selfMaskShares()) {
                    seedShares.computeIfAbsent(s.peer(), k -> new TreeMap<>()).put(from, Shamir.fromBytes(s.share()));
                }
            }
        }
        double scale = indexOf.isEmpty() ? 1 : Quantizer.scale(quantizationBound, indexOf.size());
        for (int[] y : masked.values()) {
            candidates.add(dequantize(y, scale));
        }
        // 2. masked inputs minus the self masks rebuilt from the shares the server received
        for (Map.Entry<String, int[]> e : masked.entrySet()) {
            int idx = indexOf.get(e.getKey());
            Map<Integer, BigInteger> shares = seedShares.get(idx);
            if (shares != null && shares.size() >= threshold) {
                byte[] seed = Shamir.reconstruct(shares, threshold, "seed");
                int[] y = e.getValue().clone();
                MaskPrg.addMask(y, seed, session, "self/" + idx, -1);
                candidates.add(dequantize(y, scale));
            }
        }
        // 3. every numeric array in the stored states, and differences of consecutive ones
        List<List<double[]>> perState = new ArrayList<>();
        for (Map<String, Object> s : states) {
            List<double[]> found = new ArrayList<>();
            collect(s, p, scale, found);
            candidates.addAll(found);
            perState.add(found);
        }
        for (int i = 1; i < perState.size(); i++) {
            List<double[]> a = perState.get(i - 1);
            List<double[]> b = perState.get(i);
            for (int k = 0; k < Math.min(a.size(), b.size()); k++) {
                double[] d = new double[Math.min(a.get(k).length, b.get(k).length)];
                for (int j = 0; j < d.length; j++) {
                    d[j] = b.get(k)[j] - a.get(k)[j];
                }
                candidates.add(d);
            }
        }
        // 4. numbers in the log
        Pattern number = Pattern.compile("-?\\d+(\\.\\d+)?([eE]-?\\d+)?");
        for (String line : logLines) {
            List<Double> nums = new ArrayList<>();
            Matcher mm = number.matcher(line);
            while (mm.find()) {
                nums.add(Double.parseDouble(mm.group()));
            }
            if (nums.size() >= p) {
                candidates.add(nums.stream().mapToDouble(Double::doubleValue).toArray());
            }
        }
        Map<String, Double> best = new TreeMap<>();
        for (Map.Entry<String, float[]> t : truth.entrySet()) {
            double b = -1;
            for (double[] c : candidates) {
                if (c.length >= p) {
                    b = Math.max(b, Math.abs(cosine(c, t.getValue(), p)));
                }
            }
            best.put(t.getKey(), b);
        }
        return best;
    }

    @SuppressWarnings("unchecked")
    private static void collect(Object o, int p, double scale, List<double[]> out) {
        if (o instanceof Map<?, ?> m) {
            for (Object v : m.values()) {
                collect(v, p, scale, out);
            }
        } else if (o instanceof Collection<?> c) {
            for (Object v : c) {
                collect(v, p, scale, out);
            }
        } else if (o instanceof float[] f && f.length >= p) {
            out.add(toDouble(f, 1));
        } else if (o instanceof double[] d && d.length >= p) {
            out.add(d.clone());
        } else if (o instanceof int[] i && i.length >= p) {
            out.add(dequantize(i, scale));
        }
    }

    private static double[] toDouble(float[] f, double s) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i] * s;
        }
        return d;
    }

    private static double[] dequantize(int[] v, double scale) {
        return Quantizer.dequantize(v, scale);
    }

    public static double cosine(double[] a, float[] b, int p) {
        double ab = 0;
        double aa = 0;
        double bb = 0;
        for (int i = 0; i < p; i++) {
            ab += a[i] * b[i];
            aa += a[i] * a[i];
            bb += (double) b[i] * b[i];
        }
        return aa == 0 || bb == 0 ? 0 : ab / Math.sqrt(aa * bb);
    }
}
