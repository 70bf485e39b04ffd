package io.dense4j.service.store;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

/**
 * A throw-away PostgreSQL cluster for tests: initdb in a temporary directory, a private port on 127.0.0.1, trust
 * authentication, stopped and deleted at the end. Run as the {@code postgres} user through runuser when the tests run
 * as root (PostgreSQL refuses root). {@link #start} returns null, with the reason printed, when it cannot be done.
 */
public final class PostgresCluster implements AutoCloseable {
    private final Path dir;
    private final Path bin;
    private final int port;
    private final boolean asPostgresUser;
    private final AtomicInteger databases = new AtomicInteger();
    public static String skipReason;

    private PostgresCluster(Path dir, Path bin, int port, boolean asPostgresUser) {
        this.dir = dir;
        this.bin = bin;
        this.port = port;
        this.asPostgresUser = asPostgresUser;
    }

    public static PostgresCluster start() {
        Path bin = findBin();
        if (bin == null) {
            return skip("no PostgreSQL server binaries (initdb, pg_ctl) under /usr/lib/postgresql/*/bin; "
                    + ".ci/setup installs the postgresql package");
        }
        boolean root = "root".equals(System.getProperty("user.name"));
        if (root && !Files.isExecutable(Path.of("/usr/sbin/runuser")) && !Files.isExecutable(Path.of("/sbin/runuser"))) {
            return skip("running as root and runuser is missing: PostgreSQL refuses to run as root");
        }
        Path dir = null;
        try {
            dir = Files.createTempDirectory("d4j-pg-");
            int port;
            try (ServerSocket s = new ServerSocket(0)) {
                port = s.getLocalPort();
            }
            PostgresCluster c = new PostgresCluster(dir, bin, port, root);
            if (root) {
                c.run(List.of("chown", "-R", "postgres:postgres", dir.toString()), false);
            }
            c.run(List.of(bin.resolve("initdb").toString(), "-D", dir.resolve("data").toString(), "-A", "trust",
                    "-U", "dense4j", "--no-sync", "-E", "UTF8"), root);
            c.run(List.of(bin.resolve("pg_ctl").toString(), "-D", dir.resolve("data").toString(), "-w", "-t", "60",
                    "-l", dir.resolve("log").toString(), "-o", "-p " + port + " -k " + dir
                            + " -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50", "start"), root);
            return c;
        } catch (IOException | InterruptedException | RuntimeException e) {
            String log = "";
            try {
                if (dir != null && Files.exists(dir.resolve("log"))) {
                    log = " (server log: " + Files.readString(dir.resolve("log")).strip() + ")";
                }
            } catch (IOException ignored) {
                // no log to show
            }
            deleteTree(dir);
            return skip("could not start a private PostgreSQL cluster: " + e.getMessage() + log);
        }
    }

    private static PostgresCluster skip(String reason) {
        skipReason = reason;
        System.out.println("SKIPPED PostgreSQL tests: " + reason);
        return null;
    }

    private static Path findBin() {
        Path root = Path.of("/usr/lib/postgresql");
        if (!Files.isDirectory(root)) {
            return null;
        }
        try (Stream<Path> s = Files.list(root)) {
            return s.map(p -> p.resolve("bin"))
                    .filter(b -> Files.isExecutable(b.resolve("initdb")) && Files.isExecutable(b.resolve("pg_ctl")))
                    .max(Comparator.comparing(Path::toString)).orElse(null);
        } catch (IOException e) {
            return null;
        }
    }

    private void run(List<String> cmd, boolean asPostgres) throws IOException, InterruptedException {
        List<String> full = new ArrayList<>();
        if (asPostgres) {
            full.addAll(List.of("runuser", "-u", "postgres", "--"));
        }
        full.addAll(cmd);
        Process p = new ProcessBuilder(full).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IOException(String.join(" ", cmd.subList(0, 1)) + " failed: " + out.strip());
        }
    }

    /** A new empty database on the cluster. */
    public Database newDatabase() {
        String name = "t" + databases.incrementAndGet();
        try (Connection c = DriverManager.getConnection(url("postgres"), "dense4j", null);
             Statement st = c.createStatement()) {
            st.execute("CREATE DATABASE " + name);
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
        return Database.postgres(url(name), "dense4j", null);
    }

    String url(String db) {
        return "jdbc:postgresql://127.0.0.1:" + port + "/" + db;
    }

    @Override
    public void close() {
        try {
            run(List.of(bin.resolve("pg_ctl").toString(), "-D", dir.resolve("data").toString(), "-m", "immediate",
                    "-w", "stop"), asPostgresUser);
        } catch (IOException | InterruptedException e) {
            System.out.println("could not stop the test PostgreSQL cluster: " + e.getMessage());
        }
        deleteTree(dir);
    }

    private static void deleteTree(Path dir) {
        if (dir == null) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // best effort: a temp directory
        }
    }
}
