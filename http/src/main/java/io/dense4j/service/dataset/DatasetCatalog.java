package io.dense4j.service.dataset;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.dense4j.data.Csv;
import io.dense4j.data.DataFormatException;
import io.dense4j.data.Dataset;
import io.dense4j.data.Idx;
import io.dense4j.data.TensorAllocation;
import io.dense4j.data.Mnist;
import io.dense4j.service.job.DatasetResolver;
import io.dense4j.service.store.JobStore;
import io.dense4j.service.store.Records;
import io.dense4j.tensor.Tensor;
import io.dense4j.tune.Json;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.CharacterCodingException;
import io.dense4j.io.AtomicFiles;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.UUID;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The data sets a server trains on: uploads received into a staging directory (streamed to disk, hashed and counted
 * against the size limit as they arrive), checked completely, then moved under their SHA-256 and recorded with their
 * schema (rows, features, classes, class names) in the state store; server directories registered by an admin in
 * place; and the {@link DatasetResolver} jobs load them through, which first checks every file against the SHA-256
 * recorded for it.
 *
 * <p>Formats: an IDX file pair per split as MNIST and Fashion-MNIST ship them ({@code train-images-idx3-ubyte},
 * {@code train-labels-idx1-ubyte}, optionally the {@code t10k-} pair as the test split; each raw or gzipped), or one
 * CSV file (a header row, one label column, numeric features; see {@link Csv}). Content address: a CSV's SHA-256 is
 * the file's; an IDX set's is the SHA-256 of its manifest, the lines {@code "<sha256>  <name>\n"} sorted by name,
 * which is what {@code sha256sum * | sha256sum} prints in its directory.
 *
 * <p>Directory layout under the root (shared by servers that share a registry): {@code <sha256>/} holds an
 * uploaded set's files, {@code .staging/} uploads in progress (removed whatever happens to them).
 */
public final class DatasetCatalog implements DatasetResolver {
    /** The IDX files of a data set, without the optional {@code .gz}. */
    static final List<String> IDX_FILES = List.of("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
            "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte");
    private static final Pattern FILE_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");
    private static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");
    /** Files in one data set: an IDX pair per split, or one CSV. */
    public static final int MAX_FILES = 4;
    private static final String STAGING = ".staging";

    /**
     * Free space uploads always leave on the data sets' file system: the registry, the state store and job
     * checkpoints usually share it, and must still be able to write when uploads (each within its size limit, but
     * any number of them) would fill it.
     */
    public static final long DEFAULT_DISK_RESERVE_BYTES = 512L << 20;
    /** An upload checks the free space each time this much more of it has arrived. */
    private static final long SPACE_CHECK_BYTES = 8L << 20;

    private final JobStore store;
    private final Path root;
    private final long maxBytes;
    private final long diskReserveBytes;

    /**
     * @param root     where uploaded data sets live
     * @param maxBytes the most bytes one upload may hold, and the most pixel bytes an IDX set may expand to
     */
    public DatasetCatalog(JobStore store, Path root, long maxBytes) {
        this(store, root, maxBytes, DEFAULT_DISK_RESERVE_BYTES);
    }

    /** @param diskReserveBytes free space an upload must leave on the file system of {@code root} (else 507) */
    public DatasetCatalog(JobStore store, Path root, long maxBytes, long diskReserveBytes) {
        this.store = store;
        this.root = root.toAbsolutePath();
        this.maxBytes = maxBytes;
        this.diskReserveBytes = diskReserveBytes;
        try {
            Files.createDirectories(this.root.resolve(STAGING));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the data set directory " + this.root, e);
        }
    }

    public long maxBytes() {
        return maxBytes;
    }

    // ------------------------------------------------------------------------------------------ options

    /**
     * How a CSV file is read: which column is the label (a header name, or a 0-based index, negative from the end),
     * columns to skip, the delimiter, whether the first row is a header, and regression targets instead of classes.
     */
    public record CsvOptions(String labelColumn, List<String> ignoreColumns, char delimiter, boolean header,
                             boolean regression) {
        public CsvOptions {
            ignoreColumns = List.copyOf(ignoreColumns);
            if (delimiter == '"' || delimiter == '\n' || delimiter == '\r') {
                throw DatasetException.invalid("the delimiter cannot be a quote or a line break");
            }
        }

        public static CsvOptions defaults() {
            return new CsvOptions(null, List.of(), ',', true, false);
        }

        ObjectNode toJson() {
            ObjectNode o = Json.MAPPER.createObjectNode();
            if (labelColumn == null) {
                o.putNull("label_column");
            } else {
                o.put("label_column", labelColumn);
            }
            ArrayNode ig = o.putArray("ignore_columns");
            ignoreColumns.forEach(ig::add);
            o.put("delimiter", String.valueOf(delimiter));
            o.put("header", header);
            o.put("label_kind", regression ? "regression" : "classes");
            return o;
        }

        static CsvOptions fromJson(JsonNode o) {
            List<String> ig = new ArrayList<>();
            o.path("ignore_columns").forEach(n -> ig.add(n.asText()));
            return new CsvOptions(o.path("label_column").isNull() || o.path("label_column").isMissingNode() ? null
                    : o.get("label_column").asText(), ig, o.path("delimiter").asText(",").charAt(0),
                    o.path("header").asBoolean(true), o.path("label_kind").asText("classes").equals("regression"));
        }

        Csv.Options toCsv(List<String> classNames) {
            Csv.Options c = Csv.options().delimiter(delimiter).header(header);
            if (labelColumn != null) {
                if (labelColumn.matches("-?[0-9]{1,9}")) {
                    c.labelColumn(Integer.parseInt(labelColumn));
                } else {
                    c.labelColumn(labelColumn);
                }
            }
            c.ignoreColumns(ignoreColumns.toArray(String[]::new));
            if (regression) {
                c.labelKind(Csv.LabelKind.REGRESSION);
            } else if (!classNames.isEmpty()) {
                c.classNames(classNames);
            }
            return c;
        }
    }

    /**
     * What the uploader says about the data.
     *
     * @param name       a label for people (not unique; the SHA-256 identifies the data)
     * @param csv        how to read a CSV file
     * @param classNames the class names in label order (empty: from the data)
     */
    public record Options(String name, CsvOptions csv, List<String> classNames) {
        public Options {
            // no control character, C1 included (U+009B is a terminal's CSI: names are printed by `datasets list`)
            if (name != null && (name.length() > 200 || name.chars().anyMatch(Character::isISOControl))) {
                throw DatasetException.invalid("a data set name is at most 200 printable characters");
            }
            csv = csv == null ? CsvOptions.defaults() : csv;
            classNames = List.copyOf(classNames);
            if (classNames.size() > 100_000) {
                throw DatasetException.invalid("at most 100000 class names");
            }
        }
    }

    // ------------------------------------------------------------------------------------------ uploads

    /** A data set being received: files land in a private staging directory, deleted when this closes. */
    public final class Upload implements AutoCloseable {
        private final Path dir;
        private final Path files;
        private final Map<String, FileInfo> received = new TreeMap<>();
        private long bytes;

        private Upload() throws IOException {
            dir = root.resolve(STAGING).resolve(UUID.randomUUID().toString());
            files = dir.resolve("files");
            Files.createDirectories(files);
        }

        /** A scratch directory for the HTTP layer's own buffering of multipart parts (inside the staging area). */
        public Path scratch() throws IOException {
            return Files.createDirectories(dir.resolve("scratch"));
        }

        /** Bytes received so far. */
        public long bytes() {
            return bytes;
        }

        /**
         * Receives one file, streaming it to disk while hashing it and counting it against the limit.
         *
         * @param fileName the name the client gave it (any directory part is dropped)
         * @throws IOException when the stream fails (the client stopped sending)
         */
        public void receive(String fileName, InputStream in) throws IOException {
            String name = baseName(fileName);
            if (received.containsKey(name)) {
                throw DatasetException.invalid("the file " + name + " was sent twice");
            }
            if (received.size() == MAX_FILES) {
                throw DatasetException.invalid("at most " + MAX_FILES + " files: an IDX pair per split, or one CSV");
            }
            Path target = files.resolve(name);
            MessageDigest md = sha256();
            long size = 0;
            long spaceChecked = -SPACE_CHECK_BYTES;
            byte[] buf = new byte[1 << 16];
            try (FileChannel ch = FileChannel.open(target, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
                 OutputStream out = Channels.newOutputStream(ch)) {
                for (int r; (r = in.read(buf)) >= 0; ) {
                    if (r == 0) {
                        continue;
                    }
                    size += r;
                    if (bytes + size > maxBytes) {
                        throw new DatasetException(DatasetException.Kind.TOO_LARGE, "the upload is larger than this "
                                + "server's limit of " + maxBytes + " bytes");
                    }
                    if (size - spaceChecked >= SPACE_CHECK_BYTES) {
                        requireFreeSpace(target, 0);
                        spaceChecked = size;
                    }
                    md.update(buf, 0, r);
                    out.write(buf, 0, r);
                }
                ch.force(true); // durable before its record is (the store commits with fsync)
            }
            bytes += size;
            received.put(name, new FileInfo(name, HexFormat.of().formatHex(md.digest()), size));
        }

        /**
         * Checks, before any byte is received, that an upload declaring {@code declaredBytes} (negative: unknown)
         * leaves the reserve free: 507 otherwise. While it arrives, the space is checked again every few MiB.
         */
        public void requireRoomFor(long declaredBytes) {
            try {
                requireFreeSpace(dir, Math.max(0, declaredBytes));
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read the free space of the data set directory", e);
            }
        }

        /** 507 (nothing kept: the staging area is removed with the upload) once the disk is down to the reserve. */
        private void requireFreeSpace(Path file, long more) throws IOException {
            if (Files.getFileStore(file).getUsableSpace() - more < diskReserveBytes) {
                throw new DatasetException(DatasetException.Kind.NO_SPACE, "the server's disk for data sets is full "
                        + "(it keeps " + (diskReserveBytes >> 20) + " MiB free for models and jobs): nothing was stored; "
                        + "delete data sets that are no longer needed, or ask an admin for room");
            }
        }

        @Override
        public void close() {
            deleteTree(dir);
        }
    }

    /** One file of a data set: its name in the set's directory, SHA-256 and size. */
    record FileInfo(String name, String sha256, long bytes) {}

    /** The stored data set, and whether this request created it (false: the same data was there already). */
    /**
     * @param created     stored now (else the same data was stored already)
     * @param newToCaller the caller did not hold it before (stored now, or another tenant's bytes it now holds too)
     */
    public record Stored(Records.Dataset dataset, boolean created, boolean newToCaller) {
        public Stored(Records.Dataset dataset, boolean created) {
            this(dataset, created, created);
        }
    }

    /** Starts receiving an upload. */
    public Upload newUpload() {
        try {
            return new Upload();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create a staging directory for the upload", e);
        }
    }

    /**
     * Checks what was received and stores it under its SHA-256 (or finds the same data stored already). The record
     * and the directory change together under {@link #directories}: a directory with no record (left by a crash
     * between the two, or by a delete) is never taken for the data, it is replaced.
     */
    public Stored commit(Upload upload, Options options, String owner) {
        if (upload.received.isEmpty()) {
            throw DatasetException.invalid("the upload holds no file: send an IDX file pair per split or one CSV file");
        }
        Checked c = check(upload.files, upload.received, options, "upload");
        synchronized (directories) {
            Optional<Records.Dataset> existing = sameData(c, options);
            if (existing.isPresent()) {
                // the same bytes: one copy on disk, which this caller now holds too (it sees it, uses it in jobs,
                // and keeps it when the first uploader deletes it)
                boolean had = visibleTo(existing.get(), owner, !io.dense4j.service.StorageQuota.counted(owner));
                return new Stored(addHolder(existing.get(), owner), false, !had);
            }
            Path target = root.resolve(c.sha256);
            try {
                AtomicFiles.syncDirectory(upload.files);
                if (Files.exists(target, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                    discard(target); // no record names it: a leftover, whatever it holds
                }
                Files.move(upload.files, target, StandardCopyOption.ATOMIC_MOVE);
                AtomicFiles.syncDirectory(root);
            } catch (AtomicMoveNotSupportedException e) {
                throw new UncheckedIOException("the staging area and the data set directory must be on one file system", e);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot store the data set", e);
            }
            try {
                return store(c, target.toString(), "upload", options, owner);
            } catch (RuntimeException e) {
                discard(target); // no record: no directory either
                throw e;
            }
        }
    }

    /** Held while a data set's record and its directory change together (commit, delete). */
    private final Object directories = new Object();

    /** Renames a data set directory away (at once invisible), then deletes it. */
    private void discard(Path dir) {
        Path trash = root.resolve(STAGING).resolve("deleted-" + UUID.randomUUID());
        try {
            Files.createDirectories(trash.getParent());
            Files.move(dir, trash, StandardCopyOption.ATOMIC_MOVE);
            deleteTree(trash);
        } catch (IOException e) {
            deleteTree(dir);
        }
    }

    /**
     * Registers data that already lies on the server (an admin's call): a directory of IDX files, or one CSV file.
     * Nothing is copied; the files are hashed and checked like an upload, and checked again before every job.
     */
    public Stored registerLocal(Path path, Options options, String owner) {
        if (!path.isAbsolute()) {
            throw DatasetException.invalid("give an absolute path on the server, got '" + path + "'");
        }
        Path p = path.normalize();
        Map<String, FileInfo> files = new TreeMap<>();
        Path dir;
        try {
            if (Files.isDirectory(p)) {
                dir = p;
                for (String base : IDX_FILES) {
                    // the raw file if present, else the gzipped one: the choice Mnist.load makes
                    for (String name : List.of(base, base + ".gz")) {
                        if (Files.isRegularFile(dir.resolve(name))) {
                            files.put(name, hash(dir.resolve(name), name));
                            break;
                        }
                    }
                }
                if (files.isEmpty()) {
                    throw DatasetException.invalid(p + " holds none of the IDX files " + IDX_FILES
                            + " (raw or .gz); give a CSV file's path for CSV data");
                }
            } else if (Files.isRegularFile(p)) {
                dir = p.getParent();
                String name = p.getFileName().toString();
                if (!isCsvName(name)) {
                    throw DatasetException.invalid(p + ": a single file must be a .csv or .tsv file");
                }
                files.put(name, hash(p, name));
            } else {
                throw new DatasetException(DatasetException.Kind.NOT_FOUND, "no such file or directory on the server: " + p);
            }
        } catch (IOException e) {
            throw DatasetException.invalid("cannot read " + p + ": " + e.getMessage());
        }
        Checked c = check(dir, files, options, "server");
        Optional<Records.Dataset> existing = sameData(c, options);
        if (existing.isPresent()) {
            return new Stored(existing.get(), false);
        }
        return store(c, dir.toString(), "server", options, owner);
    }

    private Stored store(Checked c, String location, String source, Options options, String owner) {
        ObjectNode details = Json.MAPPER.createObjectNode();
        details.put("source", source);
        ObjectNode files = details.putObject("files");
        for (FileInfo f : c.files.values()) {
            ObjectNode fj = files.putObject(f.name());
            fj.put("sha256", f.sha256());
            fj.put("bytes", f.bytes());
        }
        details.put("test_rows", c.testRows);
        if (c.csv != null) {
            details.set("csv", c.csv.toJson());
        }
        details.put("explicit_class_names", !options.classNames().isEmpty());
        long size = c.files.values().stream().mapToLong(FileInfo::bytes).sum();
        String name = options.name() == null || options.name().isBlank() ? c.defaultName : options.name();
        Records.Dataset d = new Records.Dataset(c.sha256, name, c.format, c.rows, c.features, c.classes, c.classNames,
                location, size, System.currentTimeMillis(), owner, details.toString());
        Records.Dataset stored = store.putDataset(d);
        return new Stored(stored, stored.createdAt() == d.createdAt() && stored.createdBy().equals(owner)
                && stored.location().equals(location));
    }

    /**
     * The data set with the same SHA-256, when it was read the same way; a conflict when asked to read it otherwise
     * (other CSV options or class names; a name alone changes nothing: the first one stays).
     */
    private Optional<Records.Dataset> sameData(Checked c, Options options) {
        Optional<Records.Dataset> e = store.dataset(c.sha256);
        if (e.isPresent()) {
            Records.Dataset d = e.get();
            JsonNode readAs = details(d).path("csv");
            boolean otherNames = !options.classNames().isEmpty() && !d.classNames().equals(c.classNames);
            if (d.features() != c.features || d.classes() != c.classes || otherNames || d.rows() != c.rows
                    || (c.csv != null && !c.csv.toJson().equals(readAs))) {
                throw new DatasetException(DatasetException.Kind.CONFLICT, "these bytes are already data set " + d.sha256()
                        + " ('" + d.name() + "'), read with other options (" + d.rows() + " rows, " + d.features()
                        + " features, " + d.classes() + " classes); delete it first to read it differently");
            }
        }
        return e;
    }

    // ------------------------------------------------------------------------------------------ checking

    /** What a check found: the format, the content address, the schema. */
    private record Checked(String format, String sha256, long rows, long testRows, int features, int classes,
                           List<String> classNames, Map<String, FileInfo> files, String defaultName,
                           CsvOptions csv) {}

    private Checked check(Path dir, Map<String, FileInfo> files, Options options, String where) {
        List<String> csv = files.keySet().stream().filter(DatasetCatalog::isCsvName).toList();
        if (!csv.isEmpty()) {
            if (files.size() != 1) {
                throw DatasetException.invalid("a CSV data set is one file; got " + files.keySet());
            }
            return checkCsv(dir, files.get(csv.get(0)), options, where);
        }
        return checkIdx(dir, files, options);
    }

    private Checked checkCsv(Path dir, FileInfo f, Options options, String where) {
        CsvOptions co = options.csv();
        if (f.name().toLowerCase(Locale.ROOT).endsWith(".tsv") && co.delimiter() == ',') {
            co = new CsvOptions(co.labelColumn(), co.ignoreColumns(), '\t', co.header(), co.regression());
        }
        if (co.regression() && !options.classNames().isEmpty()) {
            throw DatasetException.invalid("regression targets have no class names");
        }
        Path file = dir.resolve(f.name());
        try {
            // checked without loading it: what the check holds does not grow with the rows
            Csv.Summary d = Csv.inspect(file, co.toCsv(options.classNames()));
            int classes = d.numClasses();
            List<String> names = d.classNames();
            if (names.isEmpty() && classes > 0) {
                names = digitNames(classes);
            }
            String base = f.name().replaceFirst("\\.[^.]*$", "");
            return new Checked("csv", f.sha256(), d.rows(), 0, d.features(), classes, names, Map.of(f.name(), f),
                    base, co);
        } catch (DataFormatException e) {
            throw DatasetException.invalid(clean(e.getMessage(), dir));
        } catch (CharacterCodingException e) {
            throw DatasetException.invalid(f.name() + " is not UTF-8 text");
        } catch (IOException e) {
            throw DatasetException.invalid("cannot read " + f.name() + ": " + clean(String.valueOf(e.getMessage()), dir));
        } catch (IllegalArgumentException e) {
            throw DatasetException.invalid(f.name() + ": " + clean(String.valueOf(e.getMessage()), dir));
        }
    }

    private Checked checkIdx(Path dir, Map<String, FileInfo> files, Options options) {
        Map<String, FileInfo> byBase = new LinkedHashMap<>();
        for (FileInfo f : files.values()) {
            String base = f.name().endsWith(".gz") ? f.name().substring(0, f.name().length() - 3) : f.name();
            if (!IDX_FILES.contains(base)) {
                throw DatasetException.invalid("unexpected file " + f.name() + ": an IDX data set holds " + IDX_FILES
                        + " (each raw or .gz), the t10k pair being optional; CSV files end in .csv");
            }
            if (byBase.put(base, f) != null) {
                throw DatasetException.invalid("both " + base + " and " + base + ".gz were sent; send one");
            }
        }
        FileInfo trainImages = byBase.get(IDX_FILES.get(0));
        FileInfo trainLabels = byBase.get(IDX_FILES.get(1));
        FileInfo testImages = byBase.get(IDX_FILES.get(2));
        FileInfo testLabels = byBase.get(IDX_FILES.get(3));
        if (trainImages == null || trainLabels == null) {
            throw DatasetException.invalid("an IDX data set needs train-images-idx3-ubyte and train-labels-idx1-ubyte "
                    + "(raw or .gz); got " + files.keySet());
        }
        if ((testImages == null) != (testLabels == null)) {
            throw DatasetException.invalid("the test split needs both t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte");
        }
        try {
            IdxCheck.Split train = IdxCheck.check(dir.resolve(trainImages.name()), trainImages.name(),
                    dir.resolve(trainLabels.name()), trainLabels.name(), maxBytes);
            IdxCheck.Split test = null;
            if (testImages != null) {
                test = IdxCheck.check(dir.resolve(testImages.name()), testImages.name(), dir.resolve(testLabels.name()),
                        testLabels.name(), maxBytes - train.rows() * train.features());
                if (test.features() != train.features()) {
                    throw DatasetException.invalid("the test images have " + test.features() + " pixels, the training "
                            + "images " + train.features());
                }
            }
            int maxLabel = Math.max(train.maxLabel(), test == null ? -1 : test.maxLabel());
            List<String> names;
            if (!options.classNames().isEmpty()) {
                names = options.classNames();
                if (maxLabel >= names.size()) {
                    throw DatasetException.invalid("label " + maxLabel + " occurs but only " + names.size()
                            + " class names were given");
                }
            } else if (maxLabel <= 9 && options.name() != null
                    && options.name().toLowerCase(Locale.ROOT).contains("fashion")) {
                names = Mnist.FASHION_CLASS_NAMES; // as Mnist.load names a Fashion-MNIST directory
            } else {
                names = digitNames(maxLabel + 1);
            }
            StringBuilder manifest = new StringBuilder();
            for (FileInfo f : files.values()) { // sorted by name
                manifest.append(f.sha256()).append("  ").append(f.name()).append('\n');
            }
            String sha = HexFormat.of().formatHex(sha256().digest(manifest.toString().getBytes(
                    java.nio.charset.StandardCharsets.UTF_8)));
            return new Checked("idx", sha, train.rows(), test == null ? 0 : test.rows(), (int) train.features(),
                    names.size(), names, files, "idx", null);
        } catch (IOException e) {
            throw DatasetException.invalid("cannot read the IDX files: " + clean(String.valueOf(e.getMessage()), dir));
        }
    }

    // ------------------------------------------------------------------------------------------ holders

    /**
     * Who may see a data set and use it in jobs: an admin; its owner (who uploaded it first, or took it over); the
     * tokens that uploaded the same bytes since ({@link #holders}); and everyone for data an admin added. Another
     * tenant's data set is, to a caller, a data set that does not exist.
     */
    public static boolean visibleTo(Records.Dataset d, String caller, boolean admin) {
        return admin || d.createdBy().equals(caller) || !io.dense4j.service.StorageQuota.counted(d.createdBy())
                || holders(d).contains(caller);
    }

    /** The tokens besides its owner that uploaded a data set's bytes, in the order they did. */
    public static List<String> holders(Records.Dataset d) {
        List<String> out = new ArrayList<>();
        details(d).path("holders").forEach(h -> out.add(h.asText()));
        return out;
    }

    private static Records.Dataset withHolders(Records.Dataset d, String owner, List<String> holders) {
        ObjectNode det = (ObjectNode) details(d);
        if (holders.isEmpty()) {
            det.remove("holders");
        } else {
            com.fasterxml.jackson.databind.node.ArrayNode a = det.putArray("holders");
            holders.forEach(a::add);
        }
        return new Records.Dataset(d.sha256(), d.name(), d.format(), d.rows(), d.features(), d.classes(),
                d.classNames(), d.location(), d.sizeBytes(), d.createdAt(), owner, det.toString());
    }

    private Records.Dataset addHolder(Records.Dataset d, String caller) {
        if (visibleTo(d, caller, false) || !io.dense4j.service.StorageQuota.counted(caller)) {
            return d; // its owner, a holder already, data for everyone, or an admin (who sees everything)
        }
        return store.changeDatasetHolders(d.sha256(), now -> {
            List<String> h = holders(now);
            if (!now.createdBy().equals(caller) && !h.contains(caller)) {
                h.add(caller);
            }
            return withHolders(now, now.createdBy(), h);
        });
    }

    /**
     * What a delete by {@code caller} does when others hold the data set too: a holder lets go (the data stays for
     * the others); the owner hands it to the first holder, whose quota then counts it. Empty when the caller is the
     * only one holding it (or an admin): the data set itself goes.
     */
    public Optional<Records.Dataset> letGo(Records.Dataset d, String caller, boolean admin) {
        if (admin || holders(d).isEmpty() || !visibleTo(d, caller, false)) {
            return Optional.empty();
        }
        return Optional.of(store.changeDatasetHolders(d.sha256(), now -> {
            List<String> h = holders(now);
            if (h.remove(caller)) {
                return withHolders(now, now.createdBy(), h);
            }
            if (now.createdBy().equals(caller) && !h.isEmpty()) {
                String next = h.remove(0);
                return withHolders(now, next, h);
            }
            return now;
        }));
    }

    // ------------------------------------------------------------------------------------------ catalogue

    public List<Records.Dataset> list() {
        return store.datasets();
    }

    public Records.Dataset get(String sha256) {
        if (sha256 == null || !SHA256.matcher(sha256).matches()) {
            throw DatasetException.invalid("a data set is named by its SHA-256: 64 lowercase hex digits");
        }
        return store.dataset(sha256).orElseThrow(() ->
                new DatasetException(DatasetException.Kind.NOT_FOUND, "no data set " + sha256));
    }

    /**
     * Deletes a data set: refused while a queued or running job uses it (a {@code StoreException} CONFLICT), and
     * unless the caller uploaded it or is an admin. An uploaded set's files are removed; a server directory stays.
     */
    public Records.Dataset delete(String sha256, String caller, boolean admin) {
        Records.Dataset d = get(sha256);
        if (!admin && !d.createdBy().equals(caller)) {
            throw new DatasetException(DatasetException.Kind.FORBIDDEN, "data set " + sha256 + " was added by "
                    + d.createdBy() + "; only they or an admin may delete it");
        }
        synchronized (directories) {
            Records.Dataset gone = store.deleteDataset(sha256);
            if ("upload".equals(details(gone).path("source").asText())) {
                discard(root.resolve(sha256));
            }
            return gone;
        }
    }

    /** Details recorded with a data set (source, files, CSV options, test rows). */
    public static JsonNode details(Records.Dataset d) {
        return Json.parse(d.details());
    }

    // ------------------------------------------------------------------------------------------ loading

    /**
     * Locates a data set for a job (its record, read from the state store here); the reader it returns checks each
     * file against its recorded SHA-256 (a changed or damaged file fails the job rather than silently training on
     * other data than its lineage names), then decodes them, touching nothing but the files.
     */
    @Override
    public Reader locate(String sha256) {
        Records.Dataset d = store.dataset(sha256).orElseThrow(() -> new IllegalArgumentException("no data set " + sha256));
        JsonNode det = details(d);
        Path dir = "upload".equals(det.path("source").asText()) ? root.resolve(sha256) : Path.of(d.location());
        List<String> names = new ArrayList<>();
        det.path("files").fieldNames().forEachRemaining(names::add);
        return allocation -> read(d, det, dir, names, allocation);
    }

    private static Loaded read(Records.Dataset d, JsonNode det, Path dir, List<String> names,
                               TensorAllocation allocation) {
        String sha256 = d.sha256();
        try {
            for (String n : names) {
                FileInfo f = hash(dir.resolve(n), n);
                if (!f.sha256().equals(det.path("files").path(n).path("sha256").asText())) {
                    throw new IllegalStateException("the file " + n + " of data set " + sha256
                            + " changed since it was added; add the data again");
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException("the files of data set " + sha256 + " cannot be read: " + e.getMessage());
        }
        try {
            if (d.format().equals("csv")) {
                CsvOptions co = CsvOptions.fromJson(det.path("csv"));
                List<String> explicit = det.path("explicit_class_names").asBoolean() ? d.classNames() : List.of();
                return new Loaded(Csv.read(dir.resolve(names.get(0)), co.toCsv(explicit), allocation), null);
            }
            Dataset train = idxSplit(dir, names, "train", d, allocation);
            try {
                Dataset test = det.path("test_rows").asLong() > 0 ? idxSplit(dir, names, "t10k", d, allocation) : null;
                return new Loaded(train, test);
            } catch (IOException | RuntimeException e) {
                train.close();
                throw e;
            }
        } catch (IOException e) {
            throw new IllegalStateException("data set " + sha256 + " cannot be read: " + e.getMessage());
        }
    }

    /** Exactly the recorded files of a split (checked at upload: sizes, label range). */
    private static Dataset idxSplit(Path dir, List<String> names, String split, Records.Dataset d,
                                    TensorAllocation allocation) throws IOException {
        String images = names.stream().filter(n -> n.startsWith(split + "-images")).findFirst().orElseThrow();
        String labels = names.stream().filter(n -> n.startsWith(split + "-labels")).findFirst().orElseThrow();
        Tensor y = Idx.readLabels(dir.resolve(labels), allocation);
        try {
            // pixels kept as bytes (divisor 255): a quarter of the memory, the same values and trained weights
            Tensor x = Idx.readImageBytes(dir.resolve(images), allocation);
            return Dataset.of(x, y, d.classes(), d.classNames());
        } catch (IOException | RuntimeException e) {
            y.close();
            throw e;
        }
    }

    // ------------------------------------------------------------------------------------------ helpers

    private static boolean isCsvName(String n) {
        String l = n.toLowerCase(Locale.ROOT);
        return l.endsWith(".csv") || l.endsWith(".tsv");
    }

    private static List<String> digitNames(int n) {
        List<String> names = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            names.add(Integer.toString(i));
        }
        return names;
    }

    /** The last path segment of a client-given file name, checked. */
    static String baseName(String given) {
        String n = given == null ? "" : given;
        int cut = Math.max(n.lastIndexOf('/'), n.lastIndexOf('\\'));
        n = n.substring(cut + 1);
        if (!FILE_NAME.matcher(n).matches()) {
            throw DatasetException.invalid("bad file name '" + (n.length() > 80 ? n.substring(0, 80) + "..." : n)
                    + "': use letters, digits, '.', '_' and '-' (as train-images-idx3-ubyte.gz or data.csv)");
        }
        return n;
    }

    /** Error messages name the uploaded file, never where the server keeps it. */
    private static String clean(String message, Path dir) {
        String m = message.replace(dir.toString() + java.io.File.separator, "").replace(dir.toString(), "");
        return m.replace(System.getProperty("java.io.tmpdir"), "");
    }

    private static FileInfo hash(Path file, String name) throws IOException {
        MessageDigest md = sha256();
        long size = 0;
        byte[] buf = new byte[1 << 16];
        try (InputStream in = Files.newInputStream(file)) {
            for (int r; (r = in.read(buf)) >= 0; ) {
                md.update(buf, 0, r);
                size += r;
            }
        }
        return new FileInfo(name, HexFormat.of().formatHex(md.digest()), size);
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Removes a directory tree (or a file), best effort: what cannot be removed now is left for a later cleanup. */
    public static void deleteTree(Path dir) {
        if (dir == null || !Files.exists(dir)) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException ignored) {
                    // best effort; a later cleanup of the staging area removes what is left
                }
            });
        } catch (IOException ignored) {
            // gone already
        }
    }

    /** Removes staging directories left by a server that died mid-upload (call at start, before any upload). */
    public void cleanStaging(long olderThanMillis) {
        try (Stream<Path> s = Files.list(root.resolve(STAGING))) {
            long cutoff = System.currentTimeMillis() - olderThanMillis;
            s.filter(p -> {
                try {
                    return Files.getLastModifiedTime(p).toMillis() < cutoff;
                } catch (IOException e) {
                    return false;
                }
            }).forEach(DatasetCatalog::deleteTree);
        } catch (IOException ignored) {
            // nothing to clean
        }
    }
}
