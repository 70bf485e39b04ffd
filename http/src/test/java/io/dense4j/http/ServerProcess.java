package io.dense4j.http;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code dense4j serve} in a real second JVM, started from the test's own classpath: a process that can be killed
 * with SIGKILL ({@link #kill}) like a crashed server, or stopped with SIGTERM ({@link #close}) like an operator does.
 */
final class ServerProcess implements AutoCloseable {
    private static final Pattern LISTENING = Pattern.compile("dense4j serving .* on http://127\\.0\\.0\\.1:(\\d+)");

    final Process process;
    final int port;
    private final StringBuffer output;

    private ServerProcess(Process process, int port, StringBuffer output) {
        this.process = process;
        this.port = port;
        this.output = output;
    }

    /** Starts {@code serve} with these arguments (plus --port 0 and loopback) and waits until it listens. */
    static ServerProcess start(List<String> serveArgs) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx512m", "-XX:+UseSerialGC"));
        String cache = System.getProperty("org.bytedeco.javacpp.cachedir");
        if (cache != null) {
            cmd.add("-Dorg.bytedeco.javacpp.cachedir=" + cache);
        }
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), "io.dense4j.cli.Main", "serve", "--port", "0",
                "--host", "127.0.0.1"));
        cmd.addAll(serveArgs);
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        StringBuffer out = new StringBuffer();
        CompletableFuture<Integer> port = new CompletableFuture<>();
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) {
                    out.append(line).append('\n');
                    Matcher m = LISTENING.matcher(line);
                    if (m.find()) {
                        port.complete(Integer.parseInt(m.group(1)));
                    }
                }
            } catch (IOException ignored) {
                // the process died
            }
            port.complete(-1);
        }, "server-process-output");
        reader.setDaemon(true);
        reader.start();
        int bound;
        try {
            bound = port.get(120, TimeUnit.SECONDS);
        } catch (Exception e) {
            p.destroyForcibly();
            throw new IllegalStateException("the server did not start: " + out, e);
        }
        if (bound < 0) {
            throw new IllegalStateException("the server exited: " + out);
        }
        return new ServerProcess(p, bound, out);
    }

    String base() {
        return "http://127.0.0.1:" + port;
    }

    String output() {
        return output.toString();
    }

    /** The server's threads and what they wait on (jcmd Thread.print), for the message of a test that failed. */
    String threadDump() {
        try {
            Process jcmd = new ProcessBuilder(java.nio.file.Path.of(System.getProperty("java.home"), "bin", "jcmd")
                    .toString(), Long.toString(process.pid()), "Thread.print", "-l").redirectErrorStream(true).start();
            byte[] dump = jcmd.getInputStream().readAllBytes();
            jcmd.waitFor(30, TimeUnit.SECONDS);
            return new String(dump, java.nio.charset.StandardCharsets.UTF_8);
        } catch (IOException | InterruptedException e) {
            return "(no thread dump: " + e + ")";
        }
    }

    /** SIGKILL: no shutdown hook runs, nothing is handed back; only the lease's expiry tells the others. */
    void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(30, TimeUnit.SECONDS);
    }

    /** SIGTERM: the graceful stop (jobs handed back to the queue). */
    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) {
            process.destroy();
            if (!process.waitFor(60, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(10, TimeUnit.SECONDS);
            }
        }
    }
}
