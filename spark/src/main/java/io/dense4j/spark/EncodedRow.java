package io.dense4j.spark;

import java.io.Serializable;

/**
 * One input row, decoded and checked where it was read, on its way to its shard: its input index, features and
 * supervision (a class label or targets), or the reason it cannot be trained on.
 */
record EncodedRow(long index, float[] features, int label, float[] targets, String error) implements Serializable {
    static EncodedRow bad(long index, String error) {
        return new EncodedRow(index, null, -1, null, error);
    }
}
