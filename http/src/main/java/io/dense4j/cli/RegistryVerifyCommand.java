package io.dense4j.cli;

import io.dense4j.registry.VerifyResult;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

import java.util.List;
import java.util.concurrent.Callable;

/** {@code dense4j registry verify}: recomputes checksums; exit code 2 when any file was modified. */
@Command(name = "verify", mixinStandardHelpOptions = true, description = "Check every model file against its recorded SHA-256.")
public final class RegistryVerifyCommand implements Callable<Integer> {
    @Mixin
    RegistryCommand.Options opts;

    @Parameters(index = "0", arity = "0..1", description = "model (omit for all)")
    String model;

    @Override
    public Integer call() {
        List<VerifyResult> results = opts.open().verify(model);
        boolean ok = true;
        for (VerifyResult r : results) {
            System.out.println(r.model() + " " + r.version() + ": " + r.message());
            ok &= r.ok();
        }
        System.out.println(ok ? "all " + results.size() + " versions ok" : "VERIFICATION FAILED");
        return ok ? 0 : 2;
    }
}
