package io.dense4j.cli;

import io.dense4j.registry.RegistryException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code dense4j} command line. Each subcommand is its own class, listed below.
 */
@Command(name = "dense4j", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Dense neural networks for the JVM: train, register, serve; and the client of a training server "
                + "(datasets, jobs, federated learning).",
        subcommands = {TrainCommand.class, EvaluateCommand.class, PredictCommand.class, ImportCommand.class,
                ExportCommand.class, ServeCommand.class,
                RegistryCommand.class, DatasetsCommand.class, JobsCommand.class, FederatedCommand.class,
                CommandLine.HelpCommand.class})
public final class Main implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        int code = run(args);
        if (code != 0 || !ServeCommand.isServing()) {
            System.exit(code);
        }
    }

    /** Runs the command line and returns its exit code (for tests: no System.exit). */
    public static int run(String... args) {
        try {
            return commandLine().execute(args);
        } catch (OutOfMemoryError e) {
            // a last resort: files are checked before anything large is allocated, so this means a real need
            System.err.println("error: out of memory (" + e.getMessage() + "); give the JVM more with -Xmx");
            return 1;
        }
    }

    /** The configured picocli command line: user errors print one line, never a stack trace. */
    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new Main());
        cl.setExecutionExceptionHandler((e, cmd, parsed) -> {
            if (e instanceof ApiClient.ClientException ce) {
                cmd.getErr().println("error: " + ce.getMessage());
                return ce.exitCode;
            }
            if (e instanceof RegistryException re) {
                cmd.getErr().println("error: " + re.getMessage());
                return re.kind() == RegistryException.Kind.NOT_FOUND ? 3 : re.kind() == RegistryException.Kind.CONFLICT ? 4 : 1;
            }
            // every other failure (bad data file, corrupt model, NaN loss, I/O) is the user's to fix:
            // one line, no stack trace, unless DENSE4J_DEBUG is set
            if (System.getenv("DENSE4J_DEBUG") != null) {
                e.printStackTrace(cmd.getErr());
            }
            String msg = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
            if (e instanceof java.nio.file.NoSuchFileException) {
                msg = "no such file: " + msg;
            }
            cmd.getErr().println("error: " + msg);
            return 1;
        });
        return cl;
    }

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /** The build's version, as the server reports it in GET /v2 (one source). */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"dense4j " + io.dense4j.http.InferenceServer.VERSION};
        }
    }
}
