package io.dense4j.spark;

import org.apache.spark.ml.linalg.Vector;

/**
 * Spark ML vectors (dense or sparse) as float arrays. The only class that touches spark-mllib: it is loaded only
 * for a column whose type is an ML vector, so an application without spark-mllib never needs it.
 */
final class MlVectors {
    /** The class name of Spark ML's vector column type (spark-mllib may be absent, so no class literal). */
    static final String UDT = "org.apache.spark.ml.linalg.VectorUDT";
    /** The old RDD-based API's vector type, which is not read: its values would need converting first. */
    static final String OLD_UDT = "org.apache.spark.mllib.linalg.VectorUDT";

    private MlVectors() {}

    static float[] toFloats(Object value) {
        if (value == null) {
            return null;
        }
        double[] d = ((Vector) value).toArray();
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) {
            f[i] = (float) d[i];
        }
        return f;
    }
}
