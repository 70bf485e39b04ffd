package io.dense4j.http;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PushbackInputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * HTTP/1.1 over a plain socket, byte for byte as written: what an attacker sends (paths no client library
 * would normalize, several requests on one keep-alive connection, a chosen source address).
 */
final class RawHttp implements AutoCloseable {
    record Response(int status, String headers, String body) {
    }

    final Socket socket;
    private final PushbackInputStream in;

    RawHttp(int port) throws IOException {
        this(null, port);
    }

    /** Connects from {@code sourceAddress} (e.g. 127.0.0.2: another client on the loopback), or any. */
    RawHttp(String sourceAddress, int port) throws IOException {
        this(sourceAddress, port, 0);
    }

    /**
     * Connects with a receive buffer of {@code receiveBuffer} bytes (0: the default): a small one advertises a
     * small window, so a client that does not read makes the server's writes wait (a slow reader).
     */
    RawHttp(String sourceAddress, int port, int receiveBuffer) throws IOException {
        socket = new Socket();
        if (receiveBuffer > 0) {
            socket.setReceiveBufferSize(receiveBuffer);
        }
        if (sourceAddress != null) {
            socket.bind(new InetSocketAddress(sourceAddress, 0));
        }
        socket.connect(new InetSocketAddress("127.0.0.1", port), 5000);
        socket.setSoTimeout(15_000);
        socket.setTcpNoDelay(true);
        in = new PushbackInputStream(socket.getInputStream(), 1);
    }

    void write(String s) throws IOException {
        socket.getOutputStream().write(s.getBytes(StandardCharsets.ISO_8859_1));
        socket.getOutputStream().flush();
    }

    /** Sends one request (keep-alive) and reads its response. */
    Response send(String method, String path, String authorization, String body) throws IOException {
        writeRequest(method, path, authorization, body);
        return read();
    }

    /** Sends one request (keep-alive) without waiting for its response ({@link #read} it). */
    void writeRequest(String method, String path, String authorization, String body) throws IOException {
        byte[] b = body == null ? new byte[0] : body.getBytes(StandardCharsets.UTF_8);
        StringBuilder r = new StringBuilder().append(method).append(' ').append(path).append(" HTTP/1.1\r\nHost: localhost\r\n");
        if (authorization != null) {
            r.append("Authorization: ").append(authorization).append("\r\n");
        }
        r.append("Content-Length: ").append(b.length).append("\r\n\r\n");
        byte[] head = r.toString().getBytes(StandardCharsets.ISO_8859_1);
        byte[] all = java.util.Arrays.copyOf(head, head.length + b.length);
        System.arraycopy(b, 0, all, head.length, b.length);
        socket.getOutputStream().write(all);
    }

    /** Reads one response (Content-Length framed). */
    Response read() throws IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        int state = 0;
        while (state < 4) {
            int c = in.read();
            if (c < 0) {
                throw new IOException("connection closed by the server");
            }
            head.write(c);
            state = (c == '\r' && (state == 0 || state == 2)) || (c == '\n' && (state == 1 || state == 3)) ? state + 1 : 0;
        }
        String headers = head.toString(StandardCharsets.ISO_8859_1);
        int status = Integer.parseInt(headers.substring(9, 12));
        int length = -1;
        boolean chunked = false;
        for (String line : headers.split("\r\n")) {
            String l = line.toLowerCase(Locale.ROOT);
            if (l.startsWith("content-length:")) {
                length = Integer.parseInt(line.substring(15).trim());
            } else if (l.startsWith("transfer-encoding:") && l.contains("chunked")) {
                chunked = true;
            }
        }
        if (!chunked && length < 0 && (status == 204 || status == 304 || status < 200)) {
            length = 0; // no body by definition
        }
        if (!chunked) {
            // without a length or chunking, a response's body runs to the end of the connection (RFC 9112 6.3)
            byte[] body = length >= 0 ? in.readNBytes(length) : in.readAllBytes();
            return new Response(status, headers, new String(body, StandardCharsets.UTF_8));
        }
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        for (;;) {
            int size = Integer.parseInt(line().trim().split(";")[0], 16);
            if (size == 0) {
                while (!line().isEmpty()) {
                    // trailers
                }
                return new Response(status, headers, body.toString(StandardCharsets.UTF_8));
            }
            body.write(in.readNBytes(size));
            line();
        }
    }

    private String line() throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        for (int c = in.read(); c != '\n'; c = in.read()) {
            if (c < 0) {
                throw new IOException("connection closed by the server");
            }
            if (c != '\r') {
                b.write(c);
            }
        }
        return b.toString(StandardCharsets.ISO_8859_1);
    }

    /** True when the server has sent nothing (no byte, no close) within {@code millis}; consumes nothing. */
    boolean silentFor(int millis) throws IOException {
        int before = socket.getSoTimeout();
        socket.setSoTimeout(millis);
        try {
            int b = in.read();
            if (b >= 0) {
                in.unread(b);
            }
            return false;
        } catch (java.net.SocketTimeoutException e) {
            return true;
        } finally {
            socket.setSoTimeout(before);
        }
    }

    /** True when the server closed the connection (EOF or reset) within the socket timeout. */
    boolean closedByServer() {
        try {
            return in.read() < 0;
        } catch (IOException e) {
            return !(e instanceof java.net.SocketTimeoutException);
        }
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
