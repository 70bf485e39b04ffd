package io.dense4j.spark;

import io.dense4j.data.Csv;
import io.dense4j.data.DataFormatException;
import io.dense4j.data.Dataset;
import io.dense4j.data.Mnist;
import io.dense4j.tensor.Tensor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import org.apache.spark.HashPartitioner;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.api.java.function.DoubleFunction;
import org.apache.spark.api.java.function.Function;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.BooleanType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.NumericType;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import scala.Tuple2;

/**
 * Where a distributed fit's rows come from: a DataFrame (a features column of numeric arrays or ML vectors and a
 * label column: a number per row, or an array or vector of targets), an RDD read through two functions, or files every executor can read at the same
 * path (an MNIST-layout IDX directory, a CSV file) that each partition reads itself, keeping its own rows.
 *
 * <p>Rows are spread over the workers by their position in the input: row i goes to worker {@code i mod workers},
 * so every worker gets a stride of the input (the same class mix when the input is sorted by class) and the
 * layout is a pure function of the input's order. Give an input whose order is deterministic (files, a sorted
 * table) for a reproducible fit.
 */
public abstract class SparkData implements java.io.Serializable {
    private static final long serialVersionUID = 1L;
    /** The driver's session (never shipped: file sources are shipped to the tasks that read them). */
    final transient SparkSession spark;

    SparkData(SparkSession spark) {
        this.spark = Objects.requireNonNull(spark, "spark");
    }

    /**
     * An MNIST-layout directory ({@code <split>-images-idx3-ubyte[.gz]}, {@code <split>-labels-idx1-ubyte[.gz]}):
     * {@code dir} must be readable at the same path on the driver and every executor (a shared file system, or a
     * copy on each machine). Each partition reads the files and keeps its rows; for data larger than one executor
     * can read, use a DataFrame.
     */
    public static SparkData idx(SparkSession spark, Path dir, String split) {
        return new IdxFiles(spark, dir.toString(), split);
    }

    /** A CSV file read with {@code options} ({@link Csv}); readable at the same path everywhere, as {@link #idx}. */
    public static SparkData csv(SparkSession spark, Path file, Csv.Options options) {
        return new CsvFile(spark, file.toString(), options);
    }

    /**
     * An RDD of any row type, read through two functions: {@code features} gives a row's feature values, {@code
     * label} its class index (or regression target). Rows are numbered in the RDD's order (as zipWithIndex numbers
     * them) and checked like a DataFrame's; a function that throws or returns null marks its row bad. The RDD must
     * give the same rows in the same order on every read (cache it when it is built with randomness). For
     * example, {@code SparkData.rdd(spark, points, p -> toFloats(p.features().toArray()), LabeledPoint::label)}.
     */
    public static <T> SparkData rdd(SparkSession spark, JavaRDD<T> rows, Function<T, float[]> features,
                                    DoubleFunction<T> label) {
        return new Rdd<>(spark, rows, features, label, "training data");
    }

    /** Label column and features column of a DataFrame, checked against its schema here, on the driver. */
    static SparkData dataFrame(org.apache.spark.sql.Dataset<Row> df, String featuresColumn, String labelColumn,
                               String what) {
        return new Frame(df, featuresColumn, labelColumn, what);
    }

    /** Whether the supervision is a vector per row (targets), rather than one number (a class or one target). */
    abstract boolean vectorLabels();

    /** What the data says about itself: its feature width and class names (for a model config to fit it). */
    record Layout(int width, List<String> classNames) {}

    /** The feature width and class names, read on the driver (a DataFrame's first row, a file source's files). */
    abstract Layout layout();

    /** The shards of {@code workers} workers, built lazily (the caller persists and checks them). */
    abstract JavaRDD<Shard> shards(int workers, Supervision sup);

    /** "training data" or "validation data", for messages. */
    abstract String what();

    abstract SparkData as(String what);

    // ------------------------------------------------------------------------------------------------- DataFrame

    /** A DataFrame's two columns. */
    static final class Frame extends SparkData {
        private final transient org.apache.spark.sql.Dataset<Row> df;
        private final String featuresColumn;
        private final String labelColumn;
        private final ColumnKind features;
        private final ColumnKind label;
        private final String what;

        Frame(org.apache.spark.sql.Dataset<Row> df, String featuresColumn, String labelColumn, String what) {
            super(df.sparkSession());
            this.df = df;
            this.featuresColumn = featuresColumn;
            this.labelColumn = labelColumn;
            this.what = what;
            StructType schema = df.schema();
            this.features = ColumnKind.of(schema, featuresColumn, what, false);
            this.label = ColumnKind.of(schema, labelColumn, what, true);
            if (features == ColumnKind.NUMBER) {
                throw new IllegalArgumentException(what + ": features column '" + featuresColumn + "' is "
                        + schema.apply(featuresColumn).dataType().simpleString()
                        + "; it must hold one array<float>, array<double> or ML vector per row (assemble the "
                        + "feature columns first, e.g. with array(...) or VectorAssembler)");
            }
        }

        @Override
        boolean vectorLabels() {
            return label != ColumnKind.NUMBER;
        }

        @Override
        String what() {
            return what;
        }

        @Override
        SparkData as(String what) {
            return new Frame(df, featuresColumn, labelColumn, what);
        }

        @Override
        Layout layout() {
            List<Row> first = df.select(featuresColumn).limit(1).collectAsList();
            if (first.isEmpty()) {
                throw new IllegalArgumentException(what + " has no rows");
            }
            float[] x = features.floats(first.get(0), 0);
            if (x == null) {
                throw new IllegalArgumentException(what + " row 0: column '" + featuresColumn + "' is null");
            }
            return new Layout(x.length, List.of());
        }

        @Override
        JavaRDD<Shard> shards(int workers, Supervision sup) {
            ColumnKind fk = features;
            ColumnKind lk = label;
            return deal(df.select(featuresColumn, labelColumn).toJavaRDD(), workers, sup, what, (b, i, row, s) -> {
                float[] x = fk.floats(row, 0);
                if (row.isNullAt(1)) {
                    b.bad(i, x == null ? "column '" + s.featuresName + "' is null"
                            : "column '" + s.labelName + "' is null");
                } else if (lk == ColumnKind.NUMBER) {
                    s.add(b, i, x, lk.number(row, 1));
                } else {
                    s.add(b, i, x, lk.floats(row, 1));
                }
            });
        }
    }

    // ------------------------------------------------------------------------------------------------- RDD

    /** An RDD's rows, read through the caller's two functions. */
    static final class Rdd<T> extends SparkData {
        private final transient JavaRDD<T> rows;
        private final Function<T, float[]> features;
        private final DoubleFunction<T> label;
        private final String what;

        Rdd(SparkSession spark, JavaRDD<T> rows, Function<T, float[]> features, DoubleFunction<T> label,
            String what) {
            super(spark);
            this.rows = Objects.requireNonNull(rows, "rows");
            this.features = Objects.requireNonNull(features, "features");
            this.label = Objects.requireNonNull(label, "label");
            this.what = what;
        }

        @Override
        boolean vectorLabels() {
            return false;
        }

        @Override
        String what() {
            return what;
        }

        @Override
        SparkData as(String what) {
            return new Rdd<>(spark, rows, features, label, what);
        }

        @Override
        Layout layout() {
            List<T> first = rows.take(1);
            if (first.isEmpty()) {
                throw new IllegalArgumentException(what + " has no rows");
            }
            float[] x;
            try {
                x = features.call(first.get(0));
            } catch (Exception e) {
                throw new IllegalArgumentException(what + " row 0: the features function failed: " + e, e);
            }
            if (x == null) {
                throw new IllegalArgumentException(what + " row 0: the features function returned null");
            }
            return new Layout(x.length, List.of());
        }

        @Override
        JavaRDD<Shard> shards(int workers, Supervision sup) {
            Function<T, float[]> f = features;
            DoubleFunction<T> l = label;
            return deal(rows, workers, sup, what, (b, i, row, s) -> {
                float[] x;
                double y;
                try {
                    x = f.call(row);
                    y = l.call(row);
                } catch (Exception e) {
                    // the caller's function failed on this row: a bad row, named, like a value that does not fit
                    b.bad(i, "the features or label function failed: " + e);
                    return;
                }
                if (x == null) {
                    b.bad(i, "the features function returned null");
                    return;
                }
                s.add(b, i, x, y);
            });
        }
    }

    // ------------------------------------------------------------------------------------------------- dealing

    /** Reads input row {@code i} into a block: its features and supervision, checked, or why it is bad. */
    interface RowReader<T> extends java.io.Serializable {
        void add(Block block, long i, T row, Supervision sup);
    }

    /**
     * Numbers the rows in input order (zipWithIndex) and deals row i to worker {@code i mod workers}: every input
     * partition decodes and checks its rows into one block of primitive arrays per worker, the blocks are shuffled
     * to their workers, and each worker packs its blocks into its shard.
     */
    static <T> JavaRDD<Shard> deal(JavaRDD<T> rows, int workers, Supervision sup, String what, RowReader<T> reader) {
        return rows.zipWithIndex()
                .mapPartitionsToPair(it -> blocks(it, workers, sup, reader))
                .partitionBy(new HashPartitioner(workers))
                .mapPartitionsWithIndex((p, it) -> List.of(Shard.pack(p, values(it), what)).iterator(), true);
    }

    /** One input partition's rows, decoded, checked and dealt into one block per worker. */
    private static <T> java.util.Iterator<Tuple2<Integer, Block>> blocks(java.util.Iterator<Tuple2<T, Long>> it,
                                                                         int workers, Supervision sup,
                                                                         RowReader<T> reader) {
        Block[] blocks = new Block[workers];
        while (it.hasNext()) {
            Tuple2<T, Long> t = it.next();
            long i = t._2();
            int p = (int) (i % workers);
            if (blocks[p] == null) {
                blocks[p] = new Block(sup);
            }
            try {
                reader.add(blocks[p], i, t._1(), sup);
            } catch (Supervision.BadRow e) {
                blocks[p].bad(i, e.getMessage());
            }
        }
        List<Tuple2<Integer, Block>> out = new ArrayList<>();
        for (int p = 0; p < workers; p++) {
            if (blocks[p] != null) {
                out.add(new Tuple2<>(p, blocks[p].trim()));
            }
        }
        return out.iterator();
    }

    private static <T> java.util.Iterator<T> values(java.util.Iterator<Tuple2<Integer, T>> it) {
        return new java.util.Iterator<>() {
            @Override
            public boolean hasNext() {
                return it.hasNext();
            }

            @Override
            public T next() {
                return it.next()._2();
            }
        };
    }

    /** How a DataFrame column's values are read. */
    enum ColumnKind {
        NUMBER, ARRAY, VECTOR;

        static ColumnKind of(StructType schema, String column, String what, boolean label) {
            if (!Arrays.asList(schema.fieldNames()).contains(column)) {
                throw new IllegalArgumentException(what + " has no column '" + column + "' (its columns: "
                        + String.join(", ", schema.fieldNames()) + "); name the " + (label ? "label" : "features")
                        + " column with SparkTrainer.builder()." + (label ? "labelColumn" : "featuresColumn") + "(...)");
            }
            StructField f = schema.apply(column);
            DataType t = f.dataType();
            if (t instanceof NumericType || t instanceof BooleanType) {
                return NUMBER;
            }
            if (t instanceof ArrayType a && a.elementType() instanceof NumericType) {
                return ARRAY;
            }
            String cls = t.getClass().getName();
            if (cls.equals(MlVectors.UDT)) {
                return VECTOR;
            }
            if (cls.equals(MlVectors.OLD_UDT)) {
                throw new IllegalArgumentException(what + ": column '" + column + "' holds org.apache.spark.mllib "
                        + "vectors; convert them to org.apache.spark.ml vectors (MLUtils.convertVectorColumnsToML)");
            }
            throw new IllegalArgumentException(what + ": column '" + column + "' is " + t.simpleString() + "; "
                    + (label ? "a label column holds a number (a class index or a target) or an array or vector of "
                    + "targets per row" : "a features column holds an array<float>, array<double> or ML vector per row"));
        }

        float[] floats(Row row, int i) {
            if (row.isNullAt(i)) {
                return null;
            }
            if (this == VECTOR) {
                return MlVectors.toFloats(row.get(i));
            }
            List<Object> values = row.getList(i);
            float[] x = new float[values.size()];
            for (int j = 0; j < x.length; j++) {
                Object v = values.get(j);
                if (v == null) {
                    throw new Supervision.BadRow("column '" + row.schema().fieldNames()[i] + "' value " + j + " is null");
                }
                x[j] = ((Number) v).floatValue();
            }
            return x;
        }

        double number(Row row, int i) {
            Object v = row.get(i);
            return v instanceof Boolean b ? (b ? 1 : 0) : ((Number) v).doubleValue();
        }
    }

    // ------------------------------------------------------------------------------------------------- files

    /** Files that each partition reads whole, keeping its own rows. */
    abstract static class Files extends SparkData {
        final String path;
        final String what;

        Files(SparkSession spark, String path, String what) {
            super(spark);
            this.path = path;
            this.what = what;
        }

        @Override
        String what() {
            return what;
        }

        /** Reads the whole data set (on the driver or an executor). */
        abstract Dataset read() throws IOException;

        @Override
        boolean vectorLabels() {
            // the loaders give class labels, or regression targets of one column
            return false;
        }

        @Override
        Layout layout() {
            try (Dataset d = read()) {
                return new Layout(d.numFeatures(), d.classNames());
            } catch (java.nio.file.NoSuchFileException e) {
                throw new UncheckedIOException(what + ": no such file or directory: " + e.getMessage(), e);
            } catch (IOException e) {
                throw new UncheckedIOException(what + ": " + e.getMessage(), e);
            }
        }

        @Override
        JavaRDD<Shard> shards(int workers, Supervision sup) {
            Files self = this;
            List<Integer> parts = new ArrayList<>();
            for (int p = 0; p < workers; p++) {
                parts.add(p);
            }
            return JavaSparkContext.fromSparkContext(spark.sparkContext()).parallelize(parts, workers)
                    .map(p -> self.shard(p, workers, sup));
        }

        /** Partition {@code p}'s rows: p, p + workers, p + 2 workers... */
        Shard shard(int p, int workers, Supervision sup) {
            Dataset d;
            try {
                d = read();
            } catch (DataFormatException e) {
                // the file is there and wrong: its own message says where (line, column)
                return Shard.failed(p, -1, what + ": " + e.getMessage());
            } catch (IOException | RuntimeException e) {
                return Shard.failed(p, -1, what + ": worker " + p + " cannot read " + path + " (every executor must see "
                        + "it at that path): " + e.getMessage());
            }
            try (d) {
                if (d.numFeatures() != sup.inputs) {
                    return Shard.failed(p, 0, what + " row 0: " + path + " has " + d.numFeatures()
                            + " features per row, the model takes " + sup.inputs);
                }
                int n = d.size();
                int[] labels = d.hasLabels() ? d.labels().toIntArray() : null;
                int tw = d.hasLabels() ? 0 : (int) d.targets().dim(1);
                float[] targets = d.hasLabels() ? null : d.targets().toFloatArray();
                Tensor x = d.features();
                Block b = new Block(sup);
                for (int i = p; i < n; i += workers) {
                    float[] row = x.row(i);
                    if (labels != null) {
                        sup.add(b, i, row, labels[i]);
                    } else if (tw == 1 && sup.kind != Supervision.Kind.VECTOR) {
                        sup.add(b, i, row, targets[i]);
                    } else {
                        sup.add(b, i, row, Arrays.copyOfRange(targets, i * tw, (i + 1) * tw));
                    }
                }
                return Shard.pack(p, List.of(b.trim()).iterator(), what);
            }
        }
    }

    static final class IdxFiles extends Files {
        private final String split;

        IdxFiles(SparkSession spark, String dir, String split) {
            this(spark, dir, split, "training data");
        }

        IdxFiles(SparkSession spark, String dir, String split, String what) {
            super(spark, dir, what);
            this.split = Objects.requireNonNull(split, "split");
        }

        @Override
        Dataset read() throws IOException {
            return Mnist.loadSplit(Path.of(path), split);
        }

        @Override
        SparkData as(String what) {
            return new IdxFiles(spark, path, split, what);
        }
    }

    static final class CsvFile extends Files {
        private final Csv.Options options;

        CsvFile(SparkSession spark, String file, Csv.Options options) {
            this(spark, file, options, "training data");
        }

        CsvFile(SparkSession spark, String file, Csv.Options options, String what) {
            super(spark, file, what);
            this.options = Objects.requireNonNull(options, "options");
        }

        @Override
        Dataset read() throws IOException {
            return Csv.read(Path.of(path), options);
        }

        @Override
        SparkData as(String what) {
            return new CsvFile(spark, path, options, what);
        }
    }
}
