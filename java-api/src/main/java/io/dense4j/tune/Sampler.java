package io.dense4j.tune;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * Chooses the hyperparameters of trial i (0-based) from a {@link SearchSpace}. Deterministic: the same spec and
 * seed give the same trials in the same order, which is what lets a tune be repeated or resumed.
 *
 * <pre>
 * {"type": "random", "seed": 1}              independent uniform draws of the unit cube
 * {"type": "sobol",  "seed": 1}              Sobol points with a random digital shift ("scramble": false: plain)
 * {"type": "halton"}                         Halton points (unscrambled)
 * {"type": "grid"}                           every combination of the domains' grid values, first parameter slowest
 * </pre>
 */
public abstract class Sampler {
    protected final SearchSpace space;

    protected Sampler(SearchSpace space) {
        this.space = space;
    }

    /** Trial {@code index}'s values, one per parameter in declaration order. */
    public abstract List<JsonNode> values(long index);

    /** How many distinct trials this sampler can give (Long.MAX_VALUE when unbounded). */
    public long size() {
        return Long.MAX_VALUE;
    }

    public abstract String description();

    public static Sampler parse(JsonNode n, String path, SearchSpace space) {
        if (n == null || n.isNull()) {
            return new Quasi(space, "sobol", true, 0);
        }
        Json.object(n, path);
        String type = Json.text(n, "type", path, null);
        switch (type) {
            case "random" -> {
                Json.allowOnly(n, path, Set.of("type", "seed"));
                return new Random(space, (long) Json.integer(n, "seed", path, 0L, Long.MIN_VALUE, Long.MAX_VALUE));
            }
            case "sobol" -> {
                Json.allowOnly(n, path, Set.of("type", "seed", "scramble"));
                if (space.dimensions() > Sobol.MAX_DIMENSIONS) {
                    throw new ConfigException(path, "Sobol sampling supports up to " + Sobol.MAX_DIMENSIONS
                            + " hyperparameters, the space has " + space.dimensions());
                }
                return new Quasi(space, "sobol", Json.bool(n, "scramble", path, true),
                        Json.integer(n, "seed", path, 0L, Long.MIN_VALUE, Long.MAX_VALUE));
            }
            case "halton" -> {
                Json.allowOnly(n, path, Set.of("type"));
                if (space.dimensions() > Halton.MAX_DIMENSIONS) {
                    throw new ConfigException(path, "Halton sampling supports up to " + Halton.MAX_DIMENSIONS
                            + " hyperparameters, the space has " + space.dimensions());
                }
                return new Quasi(space, "halton", false, 0);
            }
            case "grid" -> {
                Json.allowOnly(n, path, Set.of("type"));
                return new Grid(space, path);
            }
            default -> throw new ConfigException(path + "/type",
                    "unknown sampler '" + type + "': expected random, sobol, halton or grid");
        }
    }

    /** Independent uniform draws; trial i's point depends only on (seed, i). */
    static final class Random extends Sampler {
        private final long seed;

        Random(SearchSpace space, long seed) {
            super(space);
            this.seed = seed;
        }

        @Override
        public List<JsonNode> values(long index) {
            SplittableRandom rng = new SplittableRandom(seed ^ (0x9E3779B97F4A7C15L * (index + 1)));
            List<JsonNode> v = new ArrayList<>();
            for (SearchSpace.Parameter p : space.parameters()) {
                v.add(p.domain().at(rng.nextDouble()));
            }
            return v;
        }

        @Override
        public String description() {
            return "random (seed " + seed + ")";
        }
    }

    /** Sobol or Halton points mapped through the domains. */
    static final class Quasi extends Sampler {
        private final String kind;
        private final Sobol sobol;
        private final Halton halton;
        private final boolean scrambled;
        private final long seed;

        Quasi(SearchSpace space, String kind, boolean scramble, long seed) {
            super(space);
            this.kind = kind;
            this.scrambled = scramble;
            this.seed = seed;
            int d = space.dimensions();
            this.sobol = kind.equals("sobol") ? (scramble ? Sobol.shifted(d, seed) : Sobol.unscrambled(d)) : null;
            this.halton = kind.equals("halton") ? new Halton(d) : null;
        }

        @Override
        public List<JsonNode> values(long index) {
            double[] u = sobol != null ? sobol.point(index) : halton.point(index);
            List<JsonNode> v = new ArrayList<>();
            for (int i = 0; i < u.length; i++) {
                v.add(space.parameters().get(i).domain().at(u[i]));
            }
            return v;
        }

        @Override
        public String description() {
            return kind.equals("sobol") ? "sobol (" + (scrambled ? "digital shift, seed " + seed : "unscrambled") + ")"
                    : "halton (unscrambled)";
        }
    }

    /** The Cartesian product of the domains' grids, in mixed-radix order (last parameter fastest). */
    static final class Grid extends Sampler {
        private final List<List<JsonNode>> axes = new ArrayList<>();
        private final long size;

        Grid(SearchSpace space, String path) {
            super(space);
            long s = 1;
            for (SearchSpace.Parameter p : space.parameters()) {
                String problem = p.domain().gridProblem();
                if (problem != null) {
                    // path is the sampler's ("/tune/sampler"): its sibling search_space holds the key
                    String tune = path.endsWith("/sampler") ? path.substring(0, path.length() - "/sampler".length()) : "";
                    throw new ConfigException(SearchSpace.keyPath(tune + "/search_space", p.path()), problem);
                }
                List<JsonNode> g = p.domain().grid();
                axes.add(g);
                s = Math.multiplyHigh(s, g.size()) != 0 ? Long.MAX_VALUE : s * g.size();
            }
            if (s > 1_000_000) {
                throw new ConfigException(path, "the grid has " + (s == Long.MAX_VALUE ? "more than 2^63" : s)
                        + " points; at most 1000000");
            }
            this.size = s;
        }

        @Override
        public List<JsonNode> values(long index) {
            if (index < 0 || index >= size) {
                throw new IndexOutOfBoundsException("grid point " + index + " of " + size);
            }
            List<JsonNode> v = new ArrayList<>();
            for (int i = 0; i < axes.size(); i++) {
                v.add(null);
            }
            long rest = index;
            for (int i = axes.size() - 1; i >= 0; i--) {
                List<JsonNode> a = axes.get(i);
                v.set(i, a.get((int) (rest % a.size())).deepCopy());
                rest /= a.size();
            }
            return v;
        }

        @Override
        public long size() {
            return size;
        }

        @Override
        public String description() {
            return "grid (" + size + " points)";
        }
    }
}
