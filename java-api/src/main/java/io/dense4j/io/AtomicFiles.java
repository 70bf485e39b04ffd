package io.dense4j.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Objects;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The one way Dense4J replaces a file: the content goes to a temporary file beside the target, is forced to disk,
 * then renamed over the target in one atomic step, and the directory entry is synced. A crash or an exception at
 * any point leaves either the old file or the new one, never a torn one; on failure the temporary file is removed.
 * Model files ({@link ModelFile}, {@link SafeTensors}), the registry's counters and alias tables and the CLI's
 * plots are all written through it.
 */
public final class AtomicFiles {
    /** Writes the content of the new file into the (empty, temporary) channel. */
    @FunctionalInterface
    public interface Content {
        void writeTo(FileChannel out) throws IOException;
    }

    /** Test seam: runs after the temporary file is complete and synced, before it replaces the target. */
    interface CommitHook {
        void beforeMove(Path temp) throws IOException;
    }

    private AtomicFiles() {}

    /** Replaces {@code target} with {@code bytes}, atomically and durably. */
    public static void write(Path target, byte[] bytes) throws IOException {
        write(target, out -> writeFully(out, ByteBuffer.wrap(bytes)));
    }

    /**
     * Replaces {@code target} with what {@code content} writes, atomically and durably. The directory must exist.
     *
     * @throws IOException the write or the rename failed (also when the file system cannot rename atomically);
     *     the target is then untouched and the temporary file removed
     */
    public static void write(Path target, Content content) throws IOException {
        write(target, content, temp -> { });
    }

    static void write(Path target, Content content, CommitHook hook) throws IOException {
        Objects.requireNonNull(content, "content");
        Path file = target.toAbsolutePath();
        Path dir = file.getParent();
        Path temp = createTemp(dir, file.getFileName().toString());
        boolean committed = false;
        try {
            try (FileChannel ch = FileChannel.open(temp, StandardOpenOption.WRITE)) {
                content.writeTo(ch);
                ch.force(true); // the data must be on disk before the rename makes it visible
            }
            hook.beforeMove(temp);
            try {
                Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                throw new IOException("cannot replace " + file + " atomically: " + e.getMessage(), e);
            }
            committed = true;
            syncDirectory(dir);
        } finally {
            if (!committed) {
                try {
                    Files.deleteIfExists(temp);
                } catch (IOException e) {
                    // the original failure matters more; a stray temp file is only litter
                }
            }
        }
    }

    /** Writes all of {@code b} (a channel may write less than asked). */
    public static void writeFully(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }

    /**
     * Makes renames into {@code dir} durable. Best effort: some platforms and file systems cannot open or sync a
     * directory, and the rename itself is atomic regardless.
     */
    public static void syncDirectory(Path dir) {
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        } catch (IOException | UnsupportedOperationException e) {
            // best effort: the file content is already synced
        }
    }

    /**
     * A new empty temporary file beside the target, ".name.random.tmp", created with default permissions (unlike
     * createTempFile, whose owner-only permissions would survive the rename).
     */
    public static Path createTemp(Path dir, String name) throws IOException {
        for (int attempt = 0; ; attempt++) {
            Path temp = dir.resolve("." + name + "." + Long.toHexString(ThreadLocalRandom.current().nextLong())
                    + ".tmp");
            try {
                Files.newByteChannel(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE).close();
                return temp;
            } catch (FileAlreadyExistsException e) {
                if (attempt > 100) {
                    throw e;
                }
            }
        }
    }
}
