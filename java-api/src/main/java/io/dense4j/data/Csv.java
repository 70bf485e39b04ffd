package io.dense4j.data;

import io.dense4j.tensor.Tensor;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;

/**
 * Reader of delimited text (CSV) into a {@link Dataset}: one label column, every other column a numeric
 * feature.
 *
 * <p>Parsing follows RFC 4180: fields may be quoted with {@code "}, a quoted field may hold the delimiter,
 * line breaks and doubled quotes {@code ""}; lines end in LF, CRLF or CR; blank lines are skipped; a UTF-8
 * byte-order mark is ignored. Unquoted and quoted numbers alike are trimmed of surrounding spaces.
 *
 * <p>Label columns are either class labels ({@link LabelKind#CLASSES}: int labels; when every label is a
 * non-negative integer it is the class index itself, otherwise the distinct strings sorted are the class
 * names, or the order given by {@link Options#classNames}) or numeric regression targets
 * ({@link LabelKind#REGRESSION}: float targets {@code [N, 1]}).
 *
 * <p>The file is read twice: the first pass validates every value and counts the rows, the second decodes
 * the features straight into the native tensor, so a large file never sits in memory twice. Every problem is
 * a {@link DataFormatException} naming the file, line and, for values, the column.
 *
 * <p>What the reader holds while it reads is bounded whatever the file says: one record at a time, of at most
 * {@link #MAX_COLUMNS} fields and {@link #MAX_RECORD_CHARS} characters; per row an int or a float; and the distinct
 * class labels, at most {@link #MAX_CLASSES} of at most {@link #MAX_LABEL_CHARS} characters.
 */
public final class Csv {
    /** Most fields in one record. */
    public static final int MAX_COLUMNS = 1 << 20;
    /** Most characters in one record (all its fields together, quoted line breaks included). */
    public static final int MAX_RECORD_CHARS = 1 << 26;
    /**
     * Most classes: distinct string labels, or for integer labels the largest plus one. A label column with more is
     * almost always the wrong column (an id) or numeric targets (read them as {@link LabelKind#REGRESSION}).
     */
    public static final int MAX_CLASSES = 1 << 16;
    /** Longest class label: a name, kept (and reported with the data set) once per class. */
    public static final int MAX_LABEL_CHARS = 1 << 10;

    /** How the label column is read. */
    public enum LabelKind {
        /** Class labels: int32 labels, string labels mapped to class indices. */
        CLASSES,
        /** Numeric regression targets: float32 targets {@code [N, 1]}. */
        REGRESSION
    }

    /**
     * Reading options; a fluent, mutable builder. Defaults: ',' delimiter, header row, last column, classes.
     * Serializable, so that a distributed reader can ship them to the machines that read the file.
     */
    public static final class Options implements java.io.Serializable {
        private static final long serialVersionUID = 1L;
        private char delimiter = ',';
        private boolean header = true;
        private String labelName;
        private int labelIndex = -1;
        private LabelKind labelKind = LabelKind.CLASSES;
        private List<String> classNames;
        private final Set<String> ignored = new LinkedHashSet<>();

        /** Field delimiter, e.g. {@code ';'} or {@code '\t'}. Not {@code "}, CR or LF. */
        public Options delimiter(char delimiter) {
            if (delimiter == '"' || delimiter == '\n' || delimiter == '\r') {
                throw new IllegalArgumentException("invalid delimiter " + (int) delimiter);
            }
            this.delimiter = delimiter;
            return this;
        }

        /** Whether the first record is a header row of column names (default true). Without one, columns are
         * named {@code column1, column2, ...}. */
        public Options header(boolean header) {
            this.header = header;
            return this;
        }

        /** The label column by its header name. */
        public Options labelColumn(String name) {
            this.labelName = Objects.requireNonNull(name, "name");
            return this;
        }

        /** The label column by 0-based index; negative counts from the end (-1, the default, is the last). */
        public Options labelColumn(int index) {
            this.labelName = null;
            this.labelIndex = index;
            return this;
        }

        /** How to read the label column (default {@link LabelKind#CLASSES}). */
        public Options labelKind(LabelKind kind) {
            this.labelKind = Objects.requireNonNull(kind, "kind");
            return this;
        }

        /** Fixed class names in index order; a label not among them is an error. Implies {@link LabelKind#CLASSES}. */
        public Options classNames(List<String> names) {
            this.classNames = List.copyOf(names);
            this.labelKind = LabelKind.CLASSES;
            return this;
        }

        /** Columns (by header name) to skip, such as row ids. */
        public Options ignoreColumns(String... names) {
            ignored.addAll(Arrays.asList(names));
            return this;
        }
    }

    /** Spellings of a missing value; they are rejected with a clear message rather than read as NaN. */
    private static final Set<String> MISSING = Set.of("", "na", "n/a", "nan", "null", "none", "?", "-");

    private Csv() {
    }

    /** New default {@link Options}. */
    public static Options options() {
        return new Options();
    }

    /** Reads {@code file} with default options: header row, label in the last column, class labels. */
    public static Dataset read(Path file) throws IOException {
        return read(file, options());
    }

    /**
     * Reads {@code file} as UTF-8.
     *
     * @throws DataFormatException malformed CSV, a missing or non-numeric value, an unknown label
     * @throws IOException the file cannot be read (or is not valid UTF-8)
     */
    public static Dataset read(Path file, Options options) throws IOException {
        return read(file, options, TensorAllocation.DIRECT);
    }

    /** As {@link #read(Path, Options)}, allocating the data set's tensors through {@code allocation}. */
    public static Dataset read(Path file, Options options, TensorAllocation allocation) throws IOException {
        Objects.requireNonNull(options, "options");
        Objects.requireNonNull(allocation, "allocation");
        String src = file.toString();
        Scan scan = scan(file, options, src, true);
        Layout layout = scan.layout;
        int rows = scan.rows;

        // ---- labels
        Tensor labels = null;
        Tensor targets = null;
        Tensor features = null;
        List<String> classNames = List.of();
        int numClasses = -1;
        try {
            if (options.labelKind == LabelKind.REGRESSION) {
                int n = rows;
                targets = allocation.allocate(() -> Tensor.zeros(n, 1));
                targets.write(0, scan.regression, 0, rows);
            } else {
                Classes classes = classes(scan, options, src);
                classNames = classes.names;
                numClasses = classes.declared;
                // the row's label id becomes its class index in place: no second per-row array
                int[] y = scan.rowLabels;
                for (int r = 0; r < rows; r++) {
                    y[r] = classes.classOf[y[r]];
                }
                int n = rows;
                labels = allocation.allocate(() -> Tensor.zerosInt(n));
                labels.write(0, y, 0, rows);
            }

            // ---- pass 2: features straight into the native tensor
            int d = layout.featureCols.length;
            int n = rows;
            features = allocation.allocate(() -> Tensor.zeros(n, d));
            float[] row = new float[d];
            int r = 0;
            try (RecordReader in = new RecordReader(open(file), options.delimiter, src)) {
                if (options.header) {
                    in.next();
                }
                List<String> rec;
                while ((rec = in.next()) != null) {
                    if (r == rows) {
                        throw new DataFormatException(src + ": file changed while being read");
                    }
                    checkWidth(rec, layout, src, in.recordLine());
                    for (int j = 0; j < d; j++) {
                        row[j] = parseNumber(rec.get(layout.featureCols[j]), src, in.recordLine(),
                                layout.featureCols[j], layout.names);
                    }
                    features.write((long) r * d, row, 0, d);
                    r++;
                }
            }
            if (r != rows) {
                throw new DataFormatException(src + ": file changed while being read");
            }
            return labels != null ? Dataset.of(features, labels, numClasses, classNames)
                    : Dataset.ofTargets(features, targets);
        } catch (IOException | RuntimeException e) {
            if (features != null) {
                features.close();
            }
            if (labels != null) {
                labels.close();
            }
            if (targets != null) {
                targets.close();
            }
            throw e;
        }
    }

    /**
     * What a file holds, as {@link #read(Path, Options)} would load it: found by reading it once, holding only the
     * distinct labels (never anything per row), so that checking a large upload costs no memory in its row count.
     *
     * @param numClasses the class count, 0 with regression targets
     * @param classNames one per class when the labels are names (or given), else empty
     */
    public record Summary(int rows, int features, int numClasses, List<String> classNames) {
    }

    /**
     * Checks {@code file} as {@link #read(Path, Options)} does (every value, every label) and says what it holds,
     * without loading it.
     *
     * @throws DataFormatException as {@link #read(Path, Options)}
     */
    public static Summary inspect(Path file, Options options) throws IOException {
        Objects.requireNonNull(options, "options");
        String src = file.toString();
        Scan scan = scan(file, options, src, false);
        int features = scan.layout.featureCols.length;
        if (options.labelKind == LabelKind.REGRESSION) {
            return new Summary(scan.rows, features, 0, List.of());
        }
        Classes c = classes(scan, options, src);
        int numClasses = c.declared >= 0 ? c.declared : Arrays.stream(c.classOf).max().orElse(-1) + 1;
        return new Summary(scan.rows, features, numClasses, c.names);
    }

    /** Most data rows in one file (the row count is an int, as a tensor's rows). */
    static final int MAX_ROWS = Integer.MAX_VALUE - 8;

    /**
     * Pass 1: the layout, every value checked, the rows counted, the distinct labels (with the line each first
     * appears on) and, when {@code keepRows}, each row's label id (or regression target) in an array of capacity
     * at least {@code rows}.
     */
    private static final class Scan {
        Layout layout;
        int rows;
        final Map<String, Integer> labelIds = new HashMap<>();
        final List<String> distinctLabels = new ArrayList<>();
        final List<Integer> firstLines = new ArrayList<>();
        int[] rowLabels;
        float[] regression;
    }

    private static Scan scan(Path file, Options options, String src, boolean keepRows) throws IOException {
        Scan scan = new Scan();
        boolean regression = options.labelKind == LabelKind.REGRESSION;
        if (keepRows && regression) {
            scan.regression = new float[1024];
        } else if (keepRows) {
            scan.rowLabels = new int[1024];
        }
        try (RecordReader in = new RecordReader(open(file), options.delimiter, src)) {
            Layout layout = layout(in, options, src);
            scan.layout = layout;
            List<String> rec;
            while ((rec = in.next()) != null) {
                int line = in.recordLine();
                checkWidth(rec, layout, src, line);
                if (scan.rows == MAX_ROWS) {
                    throw new DataFormatException(src + ": line " + line + ": more than " + MAX_ROWS + " data rows");
                }
                for (int c : layout.featureCols) {
                    parseNumber(rec.get(c), src, line, c, layout.names);
                }
                String label = rec.get(layout.labelCol);
                int r = scan.rows;
                if (regression) {
                    float v = parseNumber(label, src, line, layout.labelCol, layout.names);
                    if (keepRows) {
                        scan.regression = r < scan.regression.length ? scan.regression
                                : Arrays.copyOf(scan.regression, grown(r));
                        scan.regression[r] = v;
                    }
                } else {
                    int id = labelId(scan, label.trim(), src, line, layout);
                    if (keepRows) {
                        scan.rowLabels = r < scan.rowLabels.length ? scan.rowLabels
                                : Arrays.copyOf(scan.rowLabels, grown(r));
                        scan.rowLabels[r] = id;
                    }
                }
                scan.rows++;
            }
        }
        if (scan.rows == 0) {
            throw new DataFormatException(src + ": no data rows");
        }
        return scan;
    }

    /** An array's next capacity past {@code n} elements: half as much again (the copy and the old one coexist). */
    private static int grown(int n) {
        return (int) Math.min(MAX_ROWS, n + (n >> 1) + 1L);
    }

    /** The id of a class label (ids in order of first appearance), a new one the first time it is seen. */
    private static int labelId(Scan scan, String s, String src, int line, Layout layout) {
        if (MISSING.contains(s.toLowerCase(Locale.ROOT))) {
            throw new DataFormatException(where(src, line, layout.labelCol, layout.names) + ": missing label");
        }
        Integer id = scan.labelIds.get(s);
        if (id != null) {
            return id;
        }
        if (s.length() > MAX_LABEL_CHARS) {
            throw new DataFormatException(where(src, line, layout.labelCol, layout.names)
                    + ": a class label of " + s.length() + " characters; at most " + MAX_LABEL_CHARS);
        }
        if (scan.distinctLabels.size() == MAX_CLASSES) {
            throw new DataFormatException(where(src, line, layout.labelCol, layout.names)
                    + ": more than " + MAX_CLASSES + " distinct labels, the most classes this reader "
                    + "takes (is this the label column? numeric targets are read as regression)");
        }
        id = scan.distinctLabels.size();
        scan.labelIds.put(s, id);
        scan.distinctLabels.add(s);
        scan.firstLines.add(line);
        return id;
    }

    /**
     * The class index of each label id, the class names, and the declared class count (-1: the largest index + 1,
     * for integer labels).
     */
    private record Classes(int[] classOf, List<String> names, int declared) {
    }

    private static Classes classes(Scan scan, Options options, String src) {
        Layout layout = scan.layout;
        List<String> distinct = scan.distinctLabels;
        int[] classOf = new int[distinct.size()];
        if (options.classNames != null) {
            Map<String, Integer> index = new HashMap<>();
            for (int i = 0; i < options.classNames.size(); i++) {
                index.putIfAbsent(options.classNames.get(i), i);
            }
            for (int id = 0; id < classOf.length; id++) {
                Integer k = index.get(distinct.get(id));
                if (k == null) {
                    throw new DataFormatException(where(src, scan.firstLines.get(id), layout.labelCol, layout.names)
                            + ": label '" + distinct.get(id) + "' is not one of " + listed(options.classNames));
                }
                classOf[id] = k;
            }
            return new Classes(classOf, options.classNames, options.classNames.size());
        }
        if (distinct.stream().allMatch(Csv::isSmallNonNegativeInt)) {
            // integer labels are class indices already; renumbering them would scramble their meaning
            for (int id = 0; id < classOf.length; id++) {
                classOf[id] = Integer.parseInt(distinct.get(id));
                if (classOf[id] >= MAX_CLASSES) {
                    throw new DataFormatException(where(src, scan.firstLines.get(id), layout.labelCol, layout.names)
                            + ": label " + classOf[id] + " would make " + (classOf[id] + 1L) + " classes; at most "
                            + MAX_CLASSES + " (is this the label column? numeric targets are read as regression)");
                }
            }
            return new Classes(classOf, List.of(), -1);
        }
        // sorted, so that the mapping does not depend on row order (as scikit-learn's LabelEncoder)
        List<String> names = List.copyOf(new TreeSet<>(distinct));
        Map<String, Integer> index = new HashMap<>();
        for (int i = 0; i < names.size(); i++) {
            index.put(names.get(i), i);
        }
        for (int id = 0; id < classOf.length; id++) {
            classOf[id] = index.get(distinct.get(id));
        }
        return new Classes(classOf, names, names.size());
    }

    /** Column names, the label column and the feature columns. */
    private record Layout(List<String> names, int labelCol, int[] featureCols) {
    }

    private static Layout layout(RecordReader in, Options o, String src) throws IOException {
        List<String> first = in.next();
        if (first == null) {
            throw new DataFormatException(src + ": empty file");
        }
        List<String> names = new ArrayList<>();
        if (o.header) {
            first.forEach(s -> names.add(s.trim()));
        } else {
            for (int i = 0; i < first.size(); i++) {
                names.add("column" + (i + 1));
            }
            in.pushBack(first);
        }
        int labelCol;
        if (o.labelName != null) {
            labelCol = names.indexOf(o.labelName);
            if (labelCol < 0) {
                throw new DataFormatException(src + ": no label column '" + o.labelName + "' among " + listed(names));
            }
            if (names.lastIndexOf(o.labelName) != labelCol) {
                throw new DataFormatException(src + ": label column name '" + o.labelName + "' appears twice in "
                        + listed(names));
            }
        } else {
            labelCol = o.labelIndex < 0 ? names.size() + o.labelIndex : o.labelIndex;
            if (labelCol < 0 || labelCol >= names.size()) {
                throw new DataFormatException(src + ": label column index " + o.labelIndex + " outside the "
                        + names.size() + " columns " + listed(names));
            }
        }
        for (String ign : o.ignored) {
            if (!names.contains(ign)) {
                throw new DataFormatException(src + ": no column '" + ign + "' to ignore among " + listed(names));
            }
        }
        List<Integer> cols = new ArrayList<>();
        for (int c = 0; c < names.size(); c++) {
            if (c != labelCol && !o.ignored.contains(names.get(c))) {
                cols.add(c);
            }
        }
        if (cols.isEmpty()) {
            throw new DataFormatException(src + ": no feature columns besides the label column '"
                    + names.get(labelCol) + "'");
        }
        return new Layout(List.copyOf(names), labelCol, cols.stream().mapToInt(Integer::intValue).toArray());
    }

    private static void checkWidth(List<String> rec, Layout layout, String src, int line) {
        if (rec.size() != layout.names.size()) {
            throw new DataFormatException(src + ": line " + line + ": expected " + layout.names.size()
                    + " fields, found " + rec.size());
        }
    }

    private static float parseNumber(String raw, String src, int line, int col, List<String> names) {
        String s = raw.trim();
        if (MISSING.contains(s.toLowerCase(Locale.ROOT))) {
            throw new DataFormatException(where(src, line, col, names) + ": missing value"
                    + (s.isEmpty() ? "" : " '" + s + "'"));
        }
        // stricter than Float.parseFloat, which also takes "Infinity", "0x1p3" and "1f"
        if (!isDecimal(s)) {
            throw new DataFormatException(where(src, line, col, names) + ": not a number: '" + s + "'");
        }
        float v = Float.parseFloat(s);
        if (Float.isInfinite(v)) {
            throw new DataFormatException(where(src, line, col, names) + ": " + s + " is outside the float32 range");
        }
        return v;
    }

    /** A list for a message: the first few entries, then how many there are in all. */
    private static String listed(List<String> items) {
        final int shown = 20;
        return items.size() <= shown ? items.toString()
                : items.subList(0, shown).toString().replaceFirst("]$", ", ... (" + items.size() + " in all)]");
    }

    private static String where(String src, int line, int col, List<String> names) {
        return src + ": line " + line + ", column " + (col + 1) + " ('" + names.get(col) + "')";
    }

    /** {@code [+-]? (digits [. digits?] | . digits) ([eE] [+-]? digits)?} */
    static boolean isDecimal(String s) {
        int i = 0;
        int n = s.length();
        if (i < n && (s.charAt(i) == '+' || s.charAt(i) == '-')) {
            i++;
        }
        int digits = 0;
        while (i < n && s.charAt(i) >= '0' && s.charAt(i) <= '9') {
            i++;
            digits++;
        }
        if (i < n && s.charAt(i) == '.') {
            i++;
            while (i < n && s.charAt(i) >= '0' && s.charAt(i) <= '9') {
                i++;
                digits++;
            }
        }
        if (digits == 0) {
            return false;
        }
        if (i < n && (s.charAt(i) == 'e' || s.charAt(i) == 'E')) {
            i++;
            if (i < n && (s.charAt(i) == '+' || s.charAt(i) == '-')) {
                i++;
            }
            int exp = 0;
            while (i < n && s.charAt(i) >= '0' && s.charAt(i) <= '9') {
                i++;
                exp++;
            }
            if (exp == 0) {
                return false;
            }
        }
        return i == n;
    }

    private static boolean isSmallNonNegativeInt(String s) {
        if (s.isEmpty() || s.length() > 9) {
            return false;
        }
        for (int i = 0; i < s.length(); i++) {
            if (s.charAt(i) < '0' || s.charAt(i) > '9') {
                return false;
            }
        }
        return true;
    }

    private static Reader open(Path file) throws IOException {
        BufferedReader r = Files.newBufferedReader(file, StandardCharsets.UTF_8);
        r.mark(1);
        if (r.read() != '\uFEFF') {
            r.reset(); // no byte-order mark
        }
        return r;
    }

    /** RFC 4180 record reader that knows the physical line on which each record starts. */
    static final class RecordReader implements AutoCloseable {
        private final Reader in;
        private final char delim;
        private final String src;
        private int line = 1;
        private int recordLine;
        private int peeked = -2;
        private List<String> pushedBack;
        private final StringBuilder field = new StringBuilder();
        private int recordChars;

        RecordReader(Reader in, char delim, String src) {
            this.in = in;
            this.delim = delim;
            this.src = src;
        }

        /** The 1-based line on which the record last returned by {@link #next()} starts. */
        int recordLine() {
            return recordLine;
        }

        void pushBack(List<String> rec) {
            pushedBack = rec;
        }

        /** The next non-blank record, or null at the end of the input. */
        List<String> next() throws IOException {
            if (pushedBack != null) {
                List<String> r = pushedBack;
                pushedBack = null;
                return r;
            }
            while (true) {
                int c = peek();
                if (c == -1) {
                    return null;
                }
                recordLine = line;
                List<String> rec = readRecord();
                // a blank line is a record of one empty unquoted field: skip it
                if (!(rec.size() == 1 && rec.get(0) == null)) {
                    for (int i = 0; i < rec.size(); i++) {
                        if (rec.get(i) == null) {
                            rec.set(i, "");
                        }
                    }
                    return rec;
                }
            }
        }

        /** Reads one record; a blank unquoted field is null so that blank lines can be told apart. */
        private List<String> readRecord() throws IOException {
            List<String> rec = new ArrayList<>();
            recordChars = 0;
            while (true) {
                if (rec.size() == MAX_COLUMNS) {
                    throw new DataFormatException(src + ": line " + recordLine + ": more than " + MAX_COLUMNS
                            + " fields in one record");
                }
                field.setLength(0);
                int c = peek();
                boolean quoted = false;
                // leading spaces before an opening quote are tolerated
                while (c == ' ' && delim != ' ') {
                    append(' ');
                    read();
                    c = peek();
                }
                if (c == '"') {
                    quoted = true;
                    field.setLength(0);
                    int quoteLine = line;
                    read();
                    while (true) {
                        c = read();
                        if (c == -1) {
                            throw new DataFormatException(src + ": line " + quoteLine
                                    + ": quoted field is never closed");
                        }
                        if (c == '"') {
                            if (peek() == '"') {
                                read();
                                append('"');
                            } else {
                                break;
                            }
                        } else {
                            append((char) c);
                        }
                    }
                    // only spaces may follow the closing quote before the delimiter or the line end
                    while (peek() == ' ' && delim != ' ') {
                        read();
                    }
                    c = peek();
                    if (c != delim && c != '\n' && c != '\r' && c != -1) {
                        throw new DataFormatException(src + ": line " + line + ": unexpected character '"
                                + (char) c + "' after a closing quote");
                    }
                } else {
                    while ((c = peek()) != delim && c != '\n' && c != '\r' && c != -1) {
                        if (c == '"') {
                            throw new DataFormatException(src + ": line " + line
                                    + ": quote inside an unquoted field (quote the whole field and double the quote)");
                        }
                        append((char) read());
                    }
                }
                rec.add(!quoted && field.toString().isBlank() ? null : field.toString());
                c = read();
                if (c == delim) {
                    continue;
                }
                if (c == '\r' && peek() == '\n') {
                    read();
                }
                return rec; // end of line or input
            }
        }

        /** Adds a character to the field, within the record's bound. */
        private void append(char c) {
            if (++recordChars > MAX_RECORD_CHARS) {
                throw new DataFormatException(src + ": line " + recordLine + ": a record longer than "
                        + MAX_RECORD_CHARS + " characters");
            }
            field.append(c);
        }

        private int peek() throws IOException {
            if (peeked == -2) {
                peeked = in.read();
            }
            return peeked;
        }

        /** Reads one char, counting lines (CRLF counts once: the line advances at its LF). */
        private int read() throws IOException {
            int c = peek();
            peeked = -2;
            if (c == '\n' || (c == '\r' && peek() != '\n')) {
                line++;
            }
            return c;
        }

        @Override
        public void close() throws IOException {
            in.close();
        }
    }
}
