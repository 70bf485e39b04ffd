package io.dense4j.service.job;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.dense4j.io.SafeTensors;
import io.dense4j.tensor.Tensor;
import io.dense4j.train.EarlyStopping;
import io.dense4j.tune.Json;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;

/**
 * Early stopping's state in a train job's checkpoint, so that a resumed job continues the patience window where the
 * killed one was: the record gets, per early-stopping callback of the fit (in config order), its epochs without
 * improvement, best value and best epoch (a few bytes); the best weights of those that restore them go to a
 * safetensors file beside the checkpoint's model file, in the same slot (written before the record moves to it).
 * <pre>"early_stopping": {"states": [{"epochs_without_improvement": 2, "best": 0.41, "best_epoch": 5}],
 *                     "weights_file": ".../checkpoint-a.early-stopping.safetensors"}</pre>
 */
final class EarlyStoppingStates {
    private EarlyStoppingStates() {}

    /** Whether the files {@code checkpoint} names are all there (else the job starts over). */
    static boolean filesPresent(ObjectNode checkpoint) {
        JsonNode f = checkpoint.path("early_stopping").path("weights_file");
        return f.isMissingNode() || f.isNull() || java.nio.file.Files.isRegularFile(Path.of(f.asText()));
    }

    /** The best-weights file that goes with the checkpoint model file {@code modelFile}. */
    static Path weightsFile(Path modelFile) {
        String name = modelFile.getFileName().toString().replaceFirst("\\.d4j$", "");
        return modelFile.resolveSibling(name + ".early-stopping.safetensors");
    }

    private static String tensorName(int i) {
        return "early_stopping." + i + ".best_weights";
    }

    /** Writes the stoppers' best weights (if any) to {@code weightsFile}; returns the record part. */
    static ObjectNode save(List<EarlyStopping> stoppers, Path weightsFile) {
        ObjectNode out = Json.MAPPER.createObjectNode();
        ArrayNode states = out.putArray("states");
        LinkedHashMap<String, Tensor> weights = new LinkedHashMap<>();
        try {
            for (int i = 0; i < stoppers.size(); i++) {
                EarlyStopping.State s = stoppers.get(i).state();
                ObjectNode o = states.addObject();
                o.put("epochs_without_improvement", s.epochsWithoutImprovement());
                o.put("best_epoch", s.bestEpoch());
                if (s.bestEpoch() >= 0 && Double.isFinite(s.best())) {
                    o.put("best", s.best()); // Jackson writes the shortest decimal that reads back to the same double
                } else {
                    o.putNull("best");
                }
                if (s.bestWeights() != null) {
                    weights.put(tensorName(i), Tensor.of(s.bestWeights(), s.bestWeights().length));
                }
            }
            if (!weights.isEmpty()) {
                SafeTensors.write(weightsFile, weights);
                out.put("weights_file", weightsFile.toString());
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write early stopping's best weights to " + weightsFile, e);
        } finally {
            weights.values().forEach(Tensor::close);
        }
    }

    /**
     * Makes {@code stoppers} continue from the states in {@code checkpoint}. A checkpoint written before early
     * stopping was kept in checkpoints has none: the stoppers then start afresh.
     *
     * @throws IllegalStateException the record or its weights file does not fit the fit's early stopping
     */
    static void resume(ObjectNode checkpoint, List<EarlyStopping> stoppers) {
        JsonNode es = checkpoint.get("early_stopping");
        if (es == null) {
            return;
        }
        JsonNode states = es.path("states");
        if (!states.isArray() || states.size() != stoppers.size()) {
            throw new IllegalStateException("the checkpoint holds " + states.size() + " early-stopping states; the "
                    + "job's config has " + stoppers.size() + " early_stopping callbacks");
        }
        SafeTensors.File weights = null;
        try {
            if (es.hasNonNull("weights_file")) {
                weights = SafeTensors.read(Path.of(es.get("weights_file").asText()));
            }
            for (int i = 0; i < stoppers.size(); i++) {
                JsonNode s = states.get(i);
                int wait = intField(s, "epochs_without_improvement");
                int bestEpoch = intField(s, "best_epoch");
                JsonNode best = s.path("best");
                if (bestEpoch >= 0 && !best.isNumber()) {
                    throw new IllegalStateException("early-stopping state " + i + " has a best epoch but no best value");
                }
                float[] w = null;
                if (weights != null && weights.contains(tensorName(i))) {
                    long[] shape = weights.shape(tensorName(i));
                    if (shape.length != 1) {
                        throw new IllegalStateException("best weights of shape " + java.util.Arrays.toString(shape));
                    }
                    w = weights.floats(tensorName(i));
                }
                try {
                    stoppers.get(i).resumeFrom(new EarlyStopping.State(wait, best.isNumber() ? best.asDouble() : 0,
                            bestEpoch, w));
                } catch (IllegalArgumentException e) {
                    throw new IllegalStateException("early-stopping state " + i + " of the checkpoint: " + e.getMessage());
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException("early stopping's best weights cannot be read: " + e.getMessage(), e);
        } finally {
            if (weights != null) {
                try {
                    weights.close();
                } catch (IOException ignored) {
                    // read-only: nothing to lose
                }
            }
        }
    }

    private static int intField(JsonNode s, String name) {
        JsonNode v = s.path(name);
        if (!v.canConvertToInt() || !v.isIntegralNumber()) {
            throw new IllegalStateException("early-stopping state without an integer " + name + ": " + s);
        }
        return v.asInt();
    }
}
