package io.dense4j.interop.keras;

import io.dense4j.interop.ModelAdapter;
import io.dense4j.io.ModelFormat;
import io.dense4j.io.ModelFormatException;
import io.dense4j.model.ModelState;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Keras models in and out: imports Keras 2 / tf.keras HDF5 ({@code model.save("x.h5")}), Keras 3 HDF5 and
 * {@code .keras} archives (Keras 3 and tf.keras 2.13+); exports Keras 3 {@code .keras} archives.
 *
 * <p>An imported model records where it came from in its training record ({@code training().get("imported")}, a
 * model's {@code trainingInfo()}): format, Keras version, the source file's SHA-256 and the notes on what could not be
 * carried over exactly.
 */
public final class KerasFormat implements ModelFormat {
    @Override
    public String name() {
        return "keras";
    }

    @Override
    public boolean recognizes(Path file) throws IOException {
        return Files.isRegularFile(file) && (KerasFile.isHdf5(file) || KerasFile.isKerasZip(file));
    }

    @Override
    public ModelState importModel(Path file) {
        KerasImporter.Result r;
        String format;
        String version;
        try (KerasFile k = KerasFile.open(file)) {
            r = KerasImporter.convert(k);
            format = k.format;
            version = k.kerasVersion;
        } catch (java.nio.file.NoSuchFileException e) {
            throw new ModelFormatException(file + ": no such file", e);
        } catch (IOException e) {
            throw new ModelFormatException(file + ": cannot read the Keras model: " + e.getMessage(), e);
        } catch (ModelFormatException e) {
            throw e;
        } catch (RuntimeException e) {
            // our own checks say what is wrong; jHDF's errors on a corrupt or truncated file say where
            String msg = e instanceof IllegalArgumentException || e instanceof ArithmeticException ? e.getMessage()
                    : "corrupt or truncated file (" + e.getClass().getSimpleName() + ": " + e.getMessage() + ")";
            throw new ModelFormatException(file + ": " + msg, e);
        } catch (StackOverflowError | OutOfMemoryError e) {
            throw new ModelFormatException(file + ": corrupt file (" + e.getClass().getSimpleName() + " while reading it)");
        } catch (LinkageError e) { // a part of jHDF this build leaves out (a codec): the file is fine, we cannot read it
            throw new ModelFormatException(file + ": uses an HDF5 feature this build cannot read (" + e + ")", e);
        }
        Map<String, Object> imported = new LinkedHashMap<>();
        imported.put("format", format);
        imported.put("keras_version", version);
        imported.put("source", file.getFileName().toString());
        imported.put("source_sha256", sha256(file));
        imported.put("notes", r.notes());
        try {
            return ModelAdapter.build(r.spec(), Map.of("imported", imported));
        } catch (RuntimeException e) {
            throw new ModelFormatException(file + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void exportModel(ModelState model, Path file) {
        KerasExporter.write(ModelAdapter.describe(model), file);
    }

    static String sha256(Path file) {
        try (InputStream in = Files.newInputStream(file)) {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[1 << 16];
            int n;
            while ((n = in.read(buf)) > 0) {
                md.update(buf, 0, n);
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (IOException | NoSuchAlgorithmException e) {
            throw new ModelFormatException(file + ": cannot read: " + e.getMessage(), e);
        }
    }
}
