package io.dense4j.cli;

import io.dense4j.federated.HttpServerConnection;
import java.nio.file.Path;
import javax.net.ssl.SSLContext;
import picocli.CommandLine.Option;

/**
 * {@code --trust}: the certificates a client command trusts for an {@code https://} server that the JDK's own
 * certificate authorities do not vouch for (a self-signed server certificate, a private CA). A picocli mixin.
 */
final class TrustOptions {
    @Option(names = "--trust", defaultValue = "${env:DENSE4J_TRUST}",
            description = "trust exactly these certificates for https:// (PEM certificates, or a PKCS12/JKS trust store; "
                    + "default: $DENSE4J_TRUST, else the JDK's CAs)")
    Path trust;

    @Option(names = "--trust-password", defaultValue = "${env:DENSE4J_TRUST_PASSWORD}",
            description = "password of a --trust key store (default: $DENSE4J_TRUST_PASSWORD)")
    String trustPassword;

    /** The SSL context of {@code --trust}, or null for the JDK's default trust. */
    SSLContext sslContext() {
        if (trust == null) {
            return null;
        }
        return HttpServerConnection.trusting(trust, trustPassword == null ? null : trustPassword.toCharArray());
    }
}
