package io.dense4j.cli;

import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every command's {@code --help} prints its usage and nothing else: no picocli warning (a description is a format
 * string, so a bare '%' in it, e.g. "default 25%", makes picocli complain on stderr and print the raw text).
 */
class HelpTextTest {

    @Test
    void everyCommandsHelpIsCleanAndShowsItsDefaults() {
        List<List<String>> paths = new ArrayList<>();
        collect(Main.commandLine(), new ArrayList<>(), paths);
        assertTrue(paths.size() > 20, "found only " + paths.size() + " commands");
        PrintStream savedOut = System.out;
        PrintStream savedErr = System.err;
        try {
            for (List<String> path : paths) {
                ByteArrayOutputStream out = new ByteArrayOutputStream();
                ByteArrayOutputStream err = new ByteArrayOutputStream();
                System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
                System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
                List<String> args = new ArrayList<>(path);
                args.add("--help");
                int code = Main.run(args.toArray(String[]::new));
                String usage = out.toString(StandardCharsets.UTF_8);
                String warnings = err.toString(StandardCharsets.UTF_8);
                assertEquals(0, code, path + ": " + warnings);
                assertEquals("", warnings, path + " --help wrote to stderr");
                assertTrue(usage.startsWith("Usage: dense4j"), path + ": " + usage);
                assertTrue(!usage.contains("%n") && !usage.contains("%%"), path + " shows an unformatted description:\n" + usage);
                // a positional without a paramLabel shows as <arg0> unless javac kept the parameter names
                assertTrue(!usage.matches("(?s).*<arg[0-9]+>.*"), path + " names a positional by its index:\n" + usage);
            }
        } finally {
            System.setOut(savedOut);
            System.setErr(savedErr);
        }
    }

    @Test
    void serveHelpShowsThePercentDefaultOfTheInferenceReserve() {
        PrintStream savedOut = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            assertEquals(0, Main.run("serve", "--help"));
        } finally {
            System.setOut(savedOut);
        }
        String usage = out.toString(StandardCharsets.UTF_8).replaceAll("\\s+", " ");
        assertTrue(usage.contains("(default " + io.dense4j.http.ServerConfig.TrainingConfig.DEFAULT_INFERENCE_RESERVE + ")"),
                usage);
    }

    private static void collect(CommandLine cl, List<String> path, List<List<String>> into) {
        into.add(path);
        for (var e : cl.getSubcommands().entrySet()) {
            if (e.getValue().getCommandSpec().name().equals(e.getKey()) && !e.getKey().equals("help")) {
                List<String> sub = new ArrayList<>(path);
                sub.add(e.getKey());
                collect(e.getValue(), sub, into);
            }
        }
    }
}
