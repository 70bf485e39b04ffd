package io.dense4j.registry;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.dense4j.io.AtomicFiles;
import io.dense4j.io.ModelFile;
import io.dense4j.layers.Architecture;
import io.dense4j.model.ModelState;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * A model registry kept in a plain directory that any number of processes may share.
 *
 * <h2>Layout</h2>
 * <pre>
 * &lt;root&gt;/.lock                       writers' lock (FileChannel.lock)
 * &lt;root&gt;/.staging/&lt;pid&gt;-&lt;uuid&gt;/      registrations in progress (never read by readers)
 * &lt;root&gt;/&lt;model&gt;/&lt;version&gt;/model.d4j   the saved model
 * &lt;root&gt;/&lt;model&gt;/&lt;version&gt;/metadata.json
 * &lt;root&gt;/&lt;model&gt;/aliases.json          {"stable": 3, ...}, replaced atomically
 * &lt;root&gt;/&lt;model&gt;/traffic.json          the canary split, if any, replaced atomically
 * &lt;root&gt;/&lt;model&gt;/history.jsonl         append-only audit trail, one JSON object per line
 * &lt;root&gt;/&lt;model&gt;/.last-version        highest version number ever allocated (so numbers are never reused)
 * </pre>
 *
 * <h2>Consistency</h2>
 * Writers serialize on an exclusive lock of {@code <root>/.lock} (plus an in-process lock, because
 * the JVM refuses two overlapping {@link FileLock}s in one process). Readers take no lock: every
 * change they can observe is a single atomic rename (a complete version directory, a complete
 * {@code aliases.json}), so they see either the old or the new state, never half of one. A version is
 * staged (copied, hashed, fsynced) outside the lock and published by renaming its staging directory
 * to {@code <model>/<version>}; a crash before that rename leaves only a staging directory, which a
 * later writer removes once its process is gone.
 */
public final class ModelRegistry {

    /** File name of the model inside a version directory. */
    public static final String MODEL_FILE = "model.d4j";
    /** File name of the metadata inside a version directory. */
    public static final String METADATA_FILE = "metadata.json";

    private static final String ALIASES_FILE = "aliases.json";
    private static final String HISTORY_FILE = "history.jsonl";
    private static final String TRAFFIC_FILE = "traffic.json";
    private static final String COUNTER_FILE = ".last-version";
    private static final String STAGING_DIR = ".staging";
    private static final Pattern MODEL_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");
    private static final Pattern ALIAS_NAME = Pattern.compile("[A-Za-z][A-Za-z0-9._-]{0,63}");
    private static final Pattern VERSION_DIR = Pattern.compile("[1-9][0-9]{0,9}");

    /**
     * Fault injection for the crash tests: when set to {@code mid-copy} or {@code before-publish}, a
     * registration halts the JVM at that point, as a power cut or {@code kill -9} would.
     */
    static final String CRASH_POINT_PROPERTY = "dense4j.registry.crashPoint";

    /** One in-process lock per registry root: FileChannel.lock is per process, not per thread. */
    private static final Map<Path, ReentrantLock> PROCESS_LOCKS = new ConcurrentHashMap<>();

    private static final ObjectMapper JSON = new ObjectMapper()
            .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false)
            .configure(SerializationFeature.INDENT_OUTPUT, false);

    /** Per registry root, like the lock: see {@link #recordHistory}. */
    private static final Map<Path, Map<Path, List<HistoryEntry>>> UNRECORDED = new ConcurrentHashMap<>();

    private static final System.Logger LOG = System.getLogger(ModelRegistry.class.getName());

    private final Path root;
    private final ReentrantLock processLock;
    /**
     * History lines whose change was made but whose append failed (a full disk), by model directory, oldest first:
     * written before the model's next line, and shown by {@link #history} meanwhile. Lists are replaced, never
     * changed, so readers need no lock.
     */
    private final Map<Path, List<HistoryEntry>> unrecorded;

    private ModelRegistry(Path root) {
        this.root = root;
        this.processLock = PROCESS_LOCKS.computeIfAbsent(root, r -> new ReentrantLock());
        this.unrecorded = UNRECORDED.computeIfAbsent(root, r -> new ConcurrentHashMap<>());
    }

    /** Opens (creating if needed) the registry at {@code root}. */
    public static ModelRegistry open(Path root) {
        try {
            Files.createDirectories(root);
            return new ModelRegistry(root.toRealPath());
        } catch (IOException e) {
            throw io("cannot open registry at " + root, e);
        }
    }

    public Path root() {
        return root;
    }

    // ------------------------------------------------------------------ reading

    /** Names of all models, sorted. */
    public List<String> models() {
        List<String> names = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(root)) {
            for (Path p : ds) {
                String n = p.getFileName().toString();
                if (MODEL_NAME.matcher(n).matches() && Files.isDirectory(p)) {
                    names.add(n);
                }
            }
        } catch (IOException e) {
            throw io("cannot list registry " + root, e);
        }
        Collections.sort(names);
        return names;
    }

    /** True when the model has a directory (it may have no version left). */
    public boolean exists(String model) {
        checkModelName(model);
        return Files.isDirectory(root.resolve(model));
    }

    /** Version numbers of a model, ascending. */
    public List<Integer> versionNumbers(String model) {
        Path dir = modelDir(model);
        List<Integer> out = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            for (Path p : ds) {
                String n = p.getFileName().toString();
                if (VERSION_DIR.matcher(n).matches() && Files.isDirectory(p)) {
                    out.add(Integer.parseInt(n));
                }
            }
        } catch (NoSuchFileException e) {
            throw notFound("model '" + model + "' is not in the registry");
        } catch (IOException e) {
            throw io("cannot list versions of " + model, e);
        }
        Collections.sort(out);
        return out;
    }

    /** Metadata of every version of a model, ascending by version. */
    public List<ModelVersionInfo> versions(String model) {
        List<ModelVersionInfo> out = new ArrayList<>();
        for (int v : versionNumbers(model)) {
            try {
                out.add(describe(model, v));
            } catch (RegistryException e) {
                // deleted between the listing and the read: not a version any more
                if (e.kind() != RegistryException.Kind.NOT_FOUND) {
                    throw e;
                }
            }
        }
        return out;
    }

    /** Highest version number of a model, if it has any. */
    public Optional<Integer> latestVersion(String model) {
        List<Integer> v = versionNumbers(model);
        return v.isEmpty() ? Optional.empty() : Optional.of(v.get(v.size() - 1));
    }

    /** Metadata of one version. */
    public ModelVersionInfo describe(String model, int version) {
        Path meta = versionDir(model, version).resolve(METADATA_FILE);
        try {
            ModelVersionInfo info = JSON.readValue(meta.toFile(), ModelVersionInfo.class);
            // its fields name the model file (modelFile): they must point into this version's own directory
            if (!model.equals(info.model()) || info.version() != version || info.file() == null
                    || !MODEL_NAME.matcher(info.file()).matches()) {
                throw new RegistryException(RegistryException.Kind.IO, meta + " describes model '" + info.model()
                        + "' version " + info.version() + " in file '" + info.file() + "': not a file of model '"
                        + model + "' version " + version + " (edited by hand?)");
            }
            return info;
        } catch (NoSuchFileException | java.io.FileNotFoundException e) {
            throw notFound("model '" + model + "' has no version " + version);
        } catch (IOException e) {
            throw io("cannot read " + meta, e);
        }
    }

    /** Path of the model file of a version (which must exist). */
    public Path modelFile(String model, int version) {
        return describe(model, version).modelFile(root);
    }

    /** Aliases of a model: alias name to version, sorted by name. */
    public Map<String, Integer> aliases(String model) {
        Path f = modelDir(model).resolve(ALIASES_FILE);
        try {
            return new TreeMap<>(JSON.readValue(f.toFile(), new TypeReference<Map<String, Integer>>() { }));
        } catch (NoSuchFileException | java.io.FileNotFoundException e) {
            if (!Files.isDirectory(modelDir(model))) {
                throw notFound("model '" + model + "' is not in the registry");
            }
            return new TreeMap<>();
        } catch (IOException e) {
            throw io("cannot read " + f, e);
        }
    }

    /** The model's canary split, if one is set. */
    public Optional<TrafficSplit> traffic(String model) {
        Path f = modelDir(model).resolve(TRAFFIC_FILE);
        try {
            return Optional.of(JSON.readValue(f.toFile(), TrafficSplit.class));
        } catch (NoSuchFileException | java.io.FileNotFoundException e) {
            if (!Files.isDirectory(modelDir(model))) {
                throw notFound("model '" + model + "' is not in the registry");
            }
            return Optional.empty();
        } catch (IOException e) {
            throw io("cannot read " + f, e);
        }
    }

    /** The version an alias points at, if the alias exists. */
    public Optional<Integer> resolveAlias(String model, String alias) {
        return Optional.ofNullable(aliases(model).get(alias));
    }

    /**
     * The model's history, oldest first. A line being appended by a writer right now (no newline
     * yet) is skipped, so a reader never fails on it.
     */
    public List<HistoryEntry> history(String model) {
        List<HistoryEntry> out = recordedHistory(model);
        // read after the file: a line written meanwhile is then missed once. The waiting lines are written by the
        // next change and dropped from memory after it: one both in the file just read and still in memory is shown once
        List<HistoryEntry> waiting = unrecorded.getOrDefault(modelDir(model), List.of());
        List<HistoryEntry> tail = List.copyOf(out.subList(Math.max(0, out.size() - waiting.size() - 1), out.size()));
        for (HistoryEntry e : waiting) {
            if (!tail.contains(e)) {
                out.add(e);
            }
        }
        return out;
    }

    private List<HistoryEntry> recordedHistory(String model) {
        Path f = modelDir(model).resolve(HISTORY_FILE);
        List<HistoryEntry> out = new ArrayList<>();
        byte[] all;
        try {
            all = Files.readAllBytes(f);
        } catch (NoSuchFileException e) {
            if (!Files.isDirectory(modelDir(model))) {
                throw notFound("model '" + model + "' is not in the registry");
            }
            return out;
        } catch (IOException e) {
            throw io("cannot read " + f, e);
        }
        String text = new String(all, StandardCharsets.UTF_8);
        int start = 0;
        for (int nl = text.indexOf('\n'); nl >= 0; start = nl + 1, nl = text.indexOf('\n', start)) {
            String line = text.substring(start, nl).trim();
            if (!line.isEmpty()) {
                try {
                    out.add(JSON.readValue(line, HistoryEntry.class));
                } catch (IOException e) {
                    throw io("corrupt line in " + f + ": " + line, e);
                }
            }
        }
        return out;
    }

    /**
     * Recomputes the SHA-256 of every version of {@code model} (or of every model when null) and
     * compares it with the recorded one.
     */
    public List<VerifyResult> verify(String model) {
        List<VerifyResult> out = new ArrayList<>();
        for (String m : model == null ? models() : List.of(model)) {
            for (ModelVersionInfo info : versions(m)) {
                out.add(verify(info));
            }
        }
        return out;
    }

    /** Checks one version's model file against its recorded SHA-256. */
    public VerifyResult verify(String model, int version) {
        return verify(describe(model, version));
    }

    private VerifyResult verify(ModelVersionInfo info) {
        Path f = info.modelFile(root);
        try (InputStream in = Files.newInputStream(f)) {
            MessageDigest md = sha256();
            byte[] buf = new byte[1 << 16];
            for (int n = in.read(buf); n >= 0; n = in.read(buf)) {
                md.update(buf, 0, n);
            }
            String actual = HexFormat.of().formatHex(md.digest());
            boolean ok = actual.equals(info.sha256());
            return new VerifyResult(info.model(), info.version(), ok, info.sha256(), actual,
                    ok ? "ok" : "checksum mismatch: the model file was modified after registration");
        } catch (NoSuchFileException e) {
            return new VerifyResult(info.model(), info.version(), false, info.sha256(), null, "model file is missing");
        } catch (IOException e) {
            return new VerifyResult(info.model(), info.version(), false, info.sha256(), null,
                    "cannot read model file: " + e.getMessage());
        }
    }

    // ------------------------------------------------------------------ writing

    /** Registers a copy of {@code modelFile} as the next version of {@code model}. */
    public ModelVersionInfo register(String model, Path modelFile, RegisterOptions options) {
        try (InputStream in = Files.newInputStream(modelFile)) {
            return register(model, in, options);
        } catch (NoSuchFileException e) {
            throw new RegistryException(RegistryException.Kind.INVALID, "no such model file: " + modelFile);
        } catch (IOException e) {
            throw io("cannot read " + modelFile, e);
        }
    }

    /**
     * Registers the bytes of {@code data} (a saved model) as the next version of {@code model}.
     * Atomic: the version becomes visible complete, or not at all.
     *
     * @throws RegistryException INVALID when the data is not a loadable model (with validation on)
     */
    public ModelVersionInfo register(String model, InputStream data, RegisterOptions options) {
        checkModelName(model);
        String crashPoint = System.getProperty(CRASH_POINT_PROPERTY, "");
        Path staging = root.resolve(STAGING_DIR).resolve(stagingName(""));
        try {
            Files.createDirectories(staging);
            Path file = staging.resolve(MODEL_FILE);
            // 1. copy + hash outside the lock: this is the slow part and needs no coordination
            MessageDigest md = sha256();
            long size = 0;
            try (InputStream in = new DigestInputStream(data, md);
                 FileChannel out = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                byte[] buf = new byte[1 << 16];
                for (int n = in.read(buf); n >= 0; n = in.read(buf)) {
                    if (crashPoint.equals("mid-copy") && n > 1) {
                        out.write(ByteBuffer.wrap(buf, 0, n / 2));
                        out.force(true);
                        Runtime.getRuntime().halt(86);
                    }
                    ByteBuffer bb = ByteBuffer.wrap(buf, 0, n);
                    while (bb.hasRemaining()) {
                        out.write(bb);
                    }
                    size += n;
                }
                out.force(true);
            }
            if (size == 0) {
                throw new RegistryException(RegistryException.Kind.INVALID, "the model file is empty");
            }
            String uploadedSha = HexFormat.of().formatHex(md.digest());
            // a Keras .h5 / .keras upload (recognized by content) is converted once, here; the original's hash is kept
            final ImportedFrom imported = convertForeign(file, uploadedSha, size);
            final String sha = imported == null ? uploadedSha : sha256Of(file);
            final long bytes = Files.size(file);
            final Signature sig = options.validate() ? Signature.of(file) : Signature.UNKNOWN;
            // 2. allocate the number and publish under the lock
            return withLock(() -> {
                cleanStaleStaging();
                Path mdir = root.resolve(model);
                Files.createDirectories(mdir);
                int version = nextVersion(mdir);
                ModelVersionInfo info = new ModelVersionInfo(model, version, Instant.now().toString(),
                        options.source(), options.actor(), MODEL_FILE, sha, bytes, sig.inputs(),
                        sig.outputs(), sig.classes(), options.metrics(), imported);
                AtomicFiles.write(staging.resolve(METADATA_FILE), JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(info));
                AtomicFiles.syncDirectory(staging);
                if (crashPoint.equals("before-publish")) {
                    Runtime.getRuntime().halt(86);
                }
                Path target = mdir.resolve(Integer.toString(version));
                Files.move(staging, target, StandardCopyOption.ATOMIC_MOVE);
                AtomicFiles.syncDirectory(mdir);
                recordHistory(mdir, new HistoryEntry(Instant.now().toString(), options.actor(), HistoryEntry.REGISTER,
                        model, version, null, null, imported == null ? null : imported.sha256(), null));
                return info;
            });
        } catch (IOException e) {
            throw io("cannot register " + model, e);
        } finally {
            deleteTree(staging); // no-op once published (the directory was renamed away)
        }
    }

    /**
     * Points {@code alias} at {@code version} (creating or moving it).
     *
     * @return the version it pointed at before, if any
     */
    public Optional<Integer> setAlias(String model, String alias, int version, String actor) {
        checkAliasName(alias);
        return withLock(() -> {
            Path mdir = existingModelDir(model);
            if (!Files.isDirectory(mdir.resolve(Integer.toString(version)))) {
                throw notFound("model '" + model + "' has no version " + version);
            }
            Map<String, Integer> aliases = aliases(model);
            Integer previous = aliases.put(alias, version);
            writeAliases(mdir, aliases);
            recordHistory(mdir, new HistoryEntry(Instant.now().toString(), actor, HistoryEntry.ALIAS, model,
                    version, alias, previous));
            return Optional.ofNullable(previous);
        });
    }

    /** Removes an alias. */
    public void removeAlias(String model, String alias, String actor) {
        withLock(() -> {
            Path mdir = existingModelDir(model);
            Map<String, Integer> aliases = aliases(model);
            Integer previous = aliases.remove(alias);
            if (previous == null) {
                throw notFound("model '" + model + "' has no alias '" + alias + "'");
            }
            writeAliases(mdir, aliases);
            recordHistory(mdir, new HistoryEntry(Instant.now().toString(), actor, HistoryEntry.UNALIAS, model,
                    null, alias, previous));
            return null;
        });
    }

    /**
     * Sets the model's canary split (replacing any), atomically and in the history.
     *
     * @return the split it replaced, if any
     */
    public Optional<TrafficSplit> setTraffic(String model, TrafficSplit split, String actor) {
        return withLock(() -> {
            Path mdir = existingModelDir(model);
            for (int v : new int[] {split.baseline(), split.canary()}) {
                if (!Files.isDirectory(mdir.resolve(Integer.toString(v)))) {
                    throw notFound("model '" + model + "' has no version " + v);
                }
            }
            Optional<TrafficSplit> previous = traffic(model);
            AtomicFiles.write(mdir.resolve(TRAFFIC_FILE), JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(split));
            recordHistory(mdir, new HistoryEntry(Instant.now().toString(), actor, HistoryEntry.TRAFFIC, model,
                    split.canary(), null, null, null, split));
            return previous;
        });
    }

    /** Removes the model's canary split; requests without a version go to the default alias again. */
    public void clearTraffic(String model, String actor) {
        withLock(() -> {
            Path mdir = existingModelDir(model);
            TrafficSplit previous = traffic(model).orElseThrow(() -> notFound("model '" + model + "' has no traffic split"));
            Files.delete(mdir.resolve(TRAFFIC_FILE));
            AtomicFiles.syncDirectory(mdir);
            recordHistory(mdir, new HistoryEntry(Instant.now().toString(), actor, HistoryEntry.UNTRAFFIC, model,
                    null, null, null, null, previous));
            return null;
        });
    }

    /**
     * Moves {@code alias} back to the version it pointed at before its current assignment, as
     * recorded in the history. Repeated rollbacks walk further back; versions deleted since are
     * skipped.
     *
     * @return the version the alias points at now
     * @throws RegistryException CONFLICT when there is no earlier version to go back to
     */
    public int rollback(String model, String alias, String actor) {
        return withLock(() -> {
            Path mdir = existingModelDir(model);
            Map<String, Integer> aliases = aliases(model);
            Integer current = aliases.get(alias);
            if (current == null) {
                throw notFound("model '" + model + "' has no alias '" + alias + "'");
            }
            Deque<Integer> stack = aliasStack(model, alias);
            // drop the current assignment, then anything that no longer exists or equals it
            if (!stack.isEmpty() && stack.peek().equals(current)) {
                stack.pop();
            }
            while (!stack.isEmpty() && (stack.peek().equals(current)
                    || !Files.isDirectory(mdir.resolve(Integer.toString(stack.peek()))))) {
                stack.pop();
            }
            if (stack.isEmpty()) {
                throw new RegistryException(RegistryException.Kind.CONFLICT,
                        "alias '" + alias + "' of model '" + model + "' has no previous version to roll back to");
            }
            int target = stack.peek();
            aliases.put(alias, target);
            writeAliases(mdir, aliases);
            recordHistory(mdir, new HistoryEntry(Instant.now().toString(), actor, HistoryEntry.ROLLBACK, model,
                    target, alias, current));
            return target;
        });
    }

    /**
     * The version a {@link #rollback} of {@code alias} would go back to now, without changing
     * anything (a preview: another writer may change the answer before a rollback runs).
     */
    public Optional<Integer> rollbackTarget(String model, String alias) {
        Path mdir = existingModelDir(model);
        Integer current = aliases(model).get(alias);
        if (current == null) {
            throw notFound("model '" + model + "' has no alias '" + alias + "'");
        }
        Deque<Integer> stack = aliasStack(model, alias);
        while (!stack.isEmpty() && (stack.peek().equals(current)
                || !Files.isDirectory(mdir.resolve(Integer.toString(stack.peek()))))) {
            stack.pop();
        }
        return stack.isEmpty() ? Optional.empty() : Optional.of(stack.peek());
    }

    /**
     * Replays the history of one alias into a stack of assignments, most recent on top: an alias
     * move pushes, a rollback pops back to the version it restored, an unalias clears.
     */
    private Deque<Integer> aliasStack(String model, String alias) {
        Deque<Integer> stack = new ArrayDeque<>();
        for (HistoryEntry e : history(model)) {
            if (!alias.equals(e.alias())) {
                continue;
            }
            switch (e.action()) {
                case HistoryEntry.ALIAS -> stack.push(e.version());
                case HistoryEntry.UNALIAS -> stack.clear();
                case HistoryEntry.ROLLBACK -> {
                    while (!stack.isEmpty() && !stack.peek().equals(e.version())) {
                        stack.pop();
                    }
                    if (stack.isEmpty()) {
                        stack.push(e.version());
                    }
                }
                default -> { }
            }
        }
        return stack;
    }

    /**
     * Deletes a version. Its number is never reused.
     *
     * @throws RegistryException CONFLICT while an alias points at it
     */
    public void deleteVersion(String model, int version, String actor) {
        withLock(() -> {
            Path mdir = existingModelDir(model);
            Path vdir = mdir.resolve(Integer.toString(version));
            if (!Files.isDirectory(vdir)) {
                throw notFound("model '" + model + "' has no version " + version);
            }
            List<String> using = new ArrayList<>();
            aliases(model).forEach((a, v) -> {
                if (v == version) {
                    using.add(a);
                }
            });
            if (!using.isEmpty()) {
                throw new RegistryException(RegistryException.Kind.CONFLICT, "version " + version + " of model '"
                        + model + "' is in use by alias(es) " + using + "; move them first");
            }
            if (traffic(model).map(t -> t.uses(version)).orElse(false)) {
                throw new RegistryException(RegistryException.Kind.CONFLICT, "version " + version + " of model '"
                        + model + "' is in use by the traffic split; clear it first");
            }
            // rename away first, so readers see the version vanish at once rather than half deleted
            Path trash = root.resolve(STAGING_DIR).resolve(stagingName("del-"));
            Files.createDirectories(trash.getParent());
            Files.move(vdir, trash, StandardCopyOption.ATOMIC_MOVE);
            AtomicFiles.syncDirectory(mdir);
            recordHistory(mdir, new HistoryEntry(Instant.now().toString(), actor, HistoryEntry.DELETE, model,
                    version, null, null));
            deleteTree(trash);
            return null;
        });
    }

    // ------------------------------------------------------------------ internals

    /**
     * When {@code file} is a model of a foreign format on the class path (Keras, through dense4j-interop), replaces it
     * with its Dense4J conversion and returns what it was; null for anything else (a Dense4J file). The conversion is
     * a {@link ModelState}: no model is built for it.
     */
    private static ImportedFrom convertForeign(Path file, String sha, long size) throws IOException {
        java.util.Optional<io.dense4j.io.ModelFormat> format = io.dense4j.io.ModelFormat.recognizing(file);
        if (format.isEmpty()) {
            return null;
        }
        String described;
        try {
            ModelState state = format.get().importModel(file);
            Object info = state.training().get("imported");
            described = info instanceof Map<?, ?> i && i.get("format") != null ? String.valueOf(i.get("format"))
                    : format.get().name();
            ModelFile.write(file, state); // atomically replaces the staged upload
        } catch (RuntimeException e) {
            throw new RegistryException(RegistryException.Kind.INVALID, "not a valid " + format.get().name()
                    + " model: " + withoutStagingPath(e, file), e);
        }
        return new ImportedFrom(described, sha, size);
    }

    /** {@code e}'s message without the staging path (with the PID): that path is ours, not the caller's. */
    private static String withoutStagingPath(RuntimeException e, Path file) {
        return String.valueOf(e.getMessage()).replace(file.toString() + ": ", "").replace(file.toString(), "the file");
    }

    private static String sha256Of(Path file) throws IOException {
        MessageDigest md = sha256();
        try (InputStream in = new DigestInputStream(Files.newInputStream(file), md)) {
            in.transferTo(java.io.OutputStream.nullOutputStream());
        }
        return HexFormat.of().formatHex(md.digest());
    }

    /**
     * Input/output sizes of a model file, read by validating it completely (which proves it loads) without
     * building a model.
     */
    private record Signature(int inputs, int outputs, List<String> classes) {
        static final Signature UNKNOWN = new Signature(-1, -1, List.of());

        static Signature of(Path file) {
            try {
                ModelState state = ModelFile.read(file);
                Architecture arch = state.config().architecture();
                return new Signature(arch.inputs(), arch.outputs(), state.classNames());
            } catch (RuntimeException e) {
                throw new RegistryException(RegistryException.Kind.INVALID, "not a valid model file: "
                        + withoutStagingPath(e, file), e);
            } catch (OutOfMemoryError e) {
                throw new RegistryException(RegistryException.Kind.INVALID,
                        "not a valid model file: it needs more memory than this process has", null);
            }
        }
    }

    private interface LockedAction<T> {
        T run() throws IOException;
    }

    /** Runs {@code action} holding the registry's writer lock, across threads and processes. */
    private <T> T withLock(LockedAction<T> action) {
        processLock.lock();
        try (FileChannel ch = FileChannel.open(root.resolve(".lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
             FileLock ignored = ch.lock()) {
            return action.run();
        } catch (IOException e) {
            throw io("registry write failed at " + root, e);
        } finally {
            processLock.unlock();
        }
    }

    /** Next version number: one more than anything ever allocated or present. Caller holds the lock. */
    private int nextVersion(Path mdir) throws IOException {
        int last = 0;
        Path counter = mdir.resolve(COUNTER_FILE);
        if (Files.exists(counter)) {
            try {
                last = Integer.parseInt(Files.readString(counter).trim());
            } catch (NumberFormatException e) {
                last = 0; // a damaged counter is recovered from the directories below
            }
        }
        try (Stream<Path> s = Files.list(mdir)) {
            last = Math.max(last, s.map(p -> p.getFileName().toString())
                    .filter(n -> VERSION_DIR.matcher(n).matches())
                    .mapToInt(Integer::parseInt).max().orElse(0));
        }
        int next = last + 1;
        // persist before publishing: a crash after this wastes a number, never reuses one
        AtomicFiles.write(counter, Integer.toString(next).getBytes(StandardCharsets.UTF_8));
        return next;
    }

    private void writeAliases(Path mdir, Map<String, Integer> aliases) throws IOException {
        AtomicFiles.write(mdir.resolve(ALIASES_FILE),
                JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(new TreeMap<>(aliases)));
    }

    /**
     * Appends {@code entry} to the model's history, after any line that could not be written before. Called once the
     * change is made (published, renamed, written): a failure here must not report the change as failed, or the
     * caller retries and a second version is registered. The line is kept in memory instead (and logged), shown by
     * {@link #history}, and written before the model's next line; only a process that dies before then loses it.
     * Caller holds the lock.
     */
    private void recordHistory(Path mdir, HistoryEntry entry) {
        // other models' waiting lines too: a model that is not changed again would keep them only in memory
        for (Map.Entry<Path, List<HistoryEntry>> w : List.copyOf(unrecorded.entrySet())) {
            if (!w.getKey().equals(mdir) && Files.isDirectory(w.getKey())) {
                try {
                    appendHistory(w.getKey(), w.getValue());
                    unrecorded.remove(w.getKey(), w.getValue());
                } catch (IOException | RuntimeException e) {
                    // still waiting: tried again with the next change
                }
            } else if (!w.getKey().equals(mdir)) {
                unrecorded.remove(w.getKey(), w.getValue()); // the model was deleted: its history went with it
            }
        }
        List<HistoryEntry> lines = new ArrayList<>(unrecorded.getOrDefault(mdir, List.of()));
        lines.add(entry);
        try {
            appendHistory(mdir, lines);
            unrecorded.remove(mdir);
        } catch (IOException | RuntimeException e) {
            unrecorded.put(mdir, List.copyOf(lines));
            LOG.log(System.Logger.Level.WARNING, "the " + entry.action() + " of model '" + entry.model()
                    + "' is done, but its history line could not be written (" + lines.size()
                    + " waiting); it is written with the model's next change", e);
        }
    }

    private void appendHistory(Path mdir, List<HistoryEntry> entries) throws IOException {
        // complete lines, then fsync: readers skip a last line without its newline. A line left partial (a crash or
        // a full disk mid-write) is cut off before the next is written, or the next would be glued onto it and every
        // later read of the history would fail on that line. (Caller holds the lock: no other writer.)
        StringBuilder text = new StringBuilder();
        for (HistoryEntry entry : entries) {
            text.append(JSON.writeValueAsString(entry)).append('\n');
        }
        byte[] line = text.toString().getBytes(StandardCharsets.UTF_8);
        try (FileChannel ch = FileChannel.open(mdir.resolve(HISTORY_FILE), StandardOpenOption.CREATE,
                StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            long end = completeLinesEnd(ch);
            ch.truncate(end);
            try {
                ByteBuffer bb = ByteBuffer.wrap(line);
                for (long at = end; bb.hasRemaining(); ) {
                    at += ch.write(bb, at);
                }
                ch.force(true);
            } catch (IOException e) {
                try {
                    ch.truncate(end);
                } catch (IOException suppressed) {
                    e.addSuppressed(suppressed); // the next append cuts it off instead
                }
                throw e;
            }
        }
    }

    /** Where the file's last complete line ends: its size, unless it ends in a line without its newline. */
    private static long completeLinesEnd(FileChannel ch) throws IOException {
        long size = ch.size();
        ByteBuffer b = ByteBuffer.allocate(4096);
        for (long pos = size; pos > 0; ) {
            int n = (int) Math.min(b.capacity(), pos);
            b.clear().limit(n);
            pos -= n;
            while (b.hasRemaining() && ch.read(b, pos + b.position()) > 0) {
                // fill
            }
            for (int i = b.position() - 1; i >= 0; i--) {
                if (b.get(i) == '\n') {
                    return pos + i + 1;
                }
            }
        }
        return 0;
    }

    /**
     * This process's staging directory names start with its host, then its pid: several hosts (or containers) may
     * share one registry directory, and a pid means nothing on another host, so each judges only its own host's.
     */
    static final String HOST_TAG = hostTag();

    private static String hostTag() {
        String id = "";
        for (String f : new String[] {"/proc/sys/kernel/hostname", "/proc/sys/kernel/random/boot_id"}) {
            try {
                id += Files.readString(Path.of(f)).trim() + "/";
            } catch (IOException | RuntimeException e) {
                id += "?/";
            }
        }
        if (id.equals("?/?/")) {
            id = String.valueOf(System.getenv("HOSTNAME")) + "/" + System.getenv("COMPUTERNAME");
        }
        return "h" + HexFormat.of().formatHex(sha256().digest(id.getBytes(StandardCharsets.UTF_8)), 0, 6);
    }

    private static String stagingName(String kind) {
        return HOST_TAG + "-" + ProcessHandle.current().pid() + "-" + kind + UUID.randomUUID();
    }

    /** Another host's staging directory is judged by age alone: a registration takes minutes, not this. */
    static final java.time.Duration FOREIGN_STAGING_AGE = java.time.Duration.ofHours(24);

    /** Removes staging directories left by processes that died mid-register. Caller holds the lock. */
    private void cleanStaleStaging() {
        Path dir = root.resolve(STAGING_DIR);
        if (!Files.isDirectory(dir)) {
            return;
        }
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            for (Path p : ds) {
                String n = p.getFileName().toString();
                if (n.startsWith("h") && !n.startsWith(HOST_TAG + "-")) {
                    try {
                        Instant touched = Files.getLastModifiedTime(p).toInstant();
                        if (touched.plus(FOREIGN_STAGING_AGE).isAfter(Instant.now())) {
                            continue; // another host's, and recent: it may be staging right now
                        }
                    } catch (IOException e) {
                        continue;
                    }
                    deleteTree(p);
                    continue;
                }
                String own = n.startsWith(HOST_TAG + "-") ? n.substring(HOST_TAG.length() + 1) : n;
                int dash = own.indexOf('-');
                try {
                    long pid = Long.parseLong(dash > 0 ? own.substring(0, dash) : own);
                    if (pid != ProcessHandle.current().pid() && ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
                        continue;
                    }
                    if (pid == ProcessHandle.current().pid()) {
                        continue; // ours: other threads may be staging right now
                    }
                } catch (NumberFormatException e) {
                    // not ours to judge: remove
                }
                deleteTree(p);
            }
        } catch (IOException e) {
            // best effort: stale staging directories are invisible to readers anyway
        }
    }

    private static void deleteTree(Path p) {
        if (!Files.exists(p)) {
            return;
        }
        try (Stream<Path> s = Files.walk(p)) {
            s.sorted(Collections.reverseOrder()).forEach(q -> {
                try {
                    Files.deleteIfExists(q);
                } catch (IOException e) {
                    // best effort
                }
            });
        } catch (IOException | UncheckedIOException e) {
            // best effort
        }
    }

    private Path modelDir(String model) {
        checkModelName(model);
        return root.resolve(model);
    }

    private Path existingModelDir(String model) {
        Path d = modelDir(model);
        if (!Files.isDirectory(d)) {
            throw notFound("model '" + model + "' is not in the registry");
        }
        return d;
    }

    private Path versionDir(String model, int version) {
        if (version < 1) {
            throw new RegistryException(RegistryException.Kind.INVALID, "bad version " + version + ": versions start at 1");
        }
        return modelDir(model).resolve(Integer.toString(version));
    }

    /** Rejects names that could escape the root or collide with the registry's own files. */
    public static void checkModelName(String model) {
        if (model == null || !MODEL_NAME.matcher(model).matches()) {
            throw new RegistryException(RegistryException.Kind.INVALID, "bad model name '" + model
                    + "': use letters, digits, '.', '_' and '-', starting with a letter or digit (at most 128)");
        }
    }

    /** True when {@code name} is a well-formed alias name. */
    public static boolean isAliasName(String name) {
        return name != null && ALIAS_NAME.matcher(name).matches();
    }

    /** Alias names start with a letter, so that they never look like a version number. */
    public static void checkAliasName(String alias) {
        if (alias == null || !ALIAS_NAME.matcher(alias).matches()) {
            throw new RegistryException(RegistryException.Kind.INVALID, "bad alias name '" + alias
                    + "': use letters, digits, '.', '_' and '-', starting with a letter (at most 64)");
        }
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }

    private static RegistryException notFound(String message) {
        return new RegistryException(RegistryException.Kind.NOT_FOUND, message);
    }

    private static RegistryException io(String message, IOException e) {
        return new RegistryException(RegistryException.Kind.IO, message + ": " + e.getMessage(), e);
    }
}
