package io.dense4j.http;

import io.dense4j.federated.HttpServerConnection;
import io.dense4j.federated.protocol.Limits;
import io.dense4j.federated.protocol.Message;
import io.dense4j.federated.protocol.MessageCodec;
import io.dense4j.federated.protocol.ProtocolException;
import io.dense4j.service.federated.FederatedService;
import io.dense4j.service.federated.TaskSpec;
import io.dense4j.service.store.FederatedStore;
import io.javalin.http.Context;

import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Federated learning routes. Clients ({@link Role#FEDERATED}: a client token) POST protocol frames to their task and
 * ask who their token speaks for; admins create, list, inspect and cancel tasks. A client token speaks for one
 * client of one task: any other task in the path is refused before the body is read, and the coordinator refuses a
 * message naming another client. Each token may make {@link FederatedService#CLIENT_REQUESTS_PER_SECOND} requests a
 * second (bursts of {@link FederatedService#CLIENT_REQUEST_BURST}); more get 429 with Retry-After.
 */
final class FederatedHandlers {
    /** Largest task definition accepted: a config and client names, not data. */
    static final long MAX_SPEC_BYTES = 1 << 20;
    /** Largest message read for a task that is not coordinated here any more (only polls are answered). */
    private static final long MAX_FINISHED_MESSAGE_BYTES = 64 << 10;
    private static final Limits FINISHED_LIMITS = new Limits(MAX_FINISHED_MESSAGE_BYTES, 60 << 10, 1, 1, 4096);
    private static final int MAX_LIST = 500;

    private final FederatedService service;
    private final SecureRandom random = new SecureRandom();

    /** @param service the federated tasks, or null when the server has no state store (every route then says so) */
    FederatedHandlers(FederatedService service) {
        this.service = service;
    }

    private FederatedService service() {
        if (service == null) {
            throw new ApiException(403, "federated learning is off: its tasks and client tokens live in the state store, "
                    + "so start the server with --state");
        }
        return service;
    }

    // ------------------------------------------------------------------------------------------ clients

    /** POST /v1/federated/tasks/{task}/messages: one protocol frame in, the answer frame out. */
    void message(Context ctx) {
        FederatedService.Identity who = callerOf(ctx);
        long task = who.task();
        FederatedService.Running r = service().running(task);
        long limit = r != null ? r.maxRequestBytes() : MAX_FINISHED_MESSAGE_BYTES;
        long declared = ctx.req().getContentLengthLong();
        if (declared > limit) {
            protocolError(ctx, new ProtocolException(ProtocolException.Code.TOO_LARGE, "a message of " + declared
                    + " bytes is above federated task " + task + "'s limit of " + limit + " bytes"));
            return;
        }
        byte[] frame;
        try {
            frame = Bodies.read(ctx, limit); // a body without Content-Length is cut at the limit
        } catch (ApiException e) {
            if (e.status() != 413) {
                throw e;
            }
            protocolError(ctx, new ProtocolException(ProtocolException.Code.TOO_LARGE, "a message is above federated task "
                    + task + "'s limit of " + limit + " bytes"));
            return;
        }
        try {
            if (r != null) {
                frame(ctx, r.handle(who.client(), frame));
                return;
            }
            FederatedStore.Task t = service.task(task).orElseThrow(() -> ApiException.notFound("no federated task " + task));
            if (t.running()) {
                ctx.header("Retry-After", "2");
                throw ApiException.unavailable("federated task " + task + " is being resumed, or is coordinated by another "
                        + "server sharing this state store; retry");
            }
            String reason = t.state() + (t.finishedReason() == null ? "" : ": " + t.finishedReason());
            Message m;
            try {
                m = MessageCodec.decode(frame, FINISHED_LIMITS);
            } catch (ProtocolException e) {
                if (e.code() != ProtocolException.Code.TOO_LARGE) {
                    throw e;
                }
                // an update (its vector is over the limit of a poll) to a task that takes none: the state is the answer
                throw new ProtocolException(ProtocolException.Code.WRONG_STATE, "task " + task + " is " + reason
                        + "; it takes no more messages but polls");
            }
            if (!(m instanceof Message.Poll)) {
                throw new ProtocolException(ProtocolException.Code.WRONG_STATE, "task " + task + " is " + reason);
            }
            frame(ctx, MessageCodec.encode(new Message.Finished(Long.toString(task), t.roundsRun(), reason)));
        } catch (ProtocolException e) {
            protocolError(ctx, e);
        }
    }

    /** A refused message: its status and {"error": ...}, with the protocol's code for the client library. */
    private static void protocolError(Context ctx, ProtocolException e) {
        ctx.header(HttpServerConnection.ERROR_CODE_HEADER, e.code().name());
        Json.error(ctx, e.code().httpStatus(), e.getMessage());
    }

    /**
     * GET /v1/federated/tasks/{task}/client: the client this token speaks for, its task's state and model config (so
     * a party can check its data fits before it trains).
     */
    void client(Context ctx) {
        FederatedService.Identity who = callerOf(ctx);
        FederatedStore.Task t = service().task(who.task())
                .orElseThrow(() -> ApiException.notFound("no federated task " + who.task()));
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("task", Long.toString(t.id()));
        m.put("client", who.client());
        m.put("name", t.name());
        m.put("state", t.state());
        m.put("rounds_run", t.roundsRun());
        io.dense4j.model.ModelConfig model = io.dense4j.model.ModelConfig.fromJson(t.modelConfig());
        m.put("inputs", model.architecture().inputs());
        m.put("outputs", model.architecture().outputs());
        m.put("model_config", FederatedService.parse(t.modelConfig()));
        Json.ok(ctx, m);
    }

    /**
     * The authenticated client, after checking that its token is for the task in the path (403 otherwise) and that
     * it is within its request rate (429 otherwise): both before any body is read.
     */
    private FederatedService.Identity callerOf(Context ctx) {
        Access.FederatedCaller caller = Access.FederatedCaller.of(ctx);
        long task = taskId(ctx);
        if (caller.identity().task() != task) {
            throw new ApiException(403, "this client token is for federated task " + caller.identity().task()
                    + ", not task " + task);
        }
        long waitMs = service().throttle(caller.tokenDigest());
        if (waitMs > 0) {
            ctx.header("Retry-After", Long.toString(Math.max(1, (waitMs + 999) / 1000)));
            throw new ApiException(429, "client " + caller.identity().client() + " sends more than "
                    + (int) FederatedService.CLIENT_REQUESTS_PER_SECOND + " requests a second (bursts of "
                    + (int) FederatedService.CLIENT_REQUEST_BURST + "); retry in " + waitMs + " ms");
        }
        return caller.identity();
    }

    private static void frame(Context ctx, byte[] bytes) {
        ctx.status(200).contentType(HttpServerConnection.FRAME_CONTENT_TYPE).result(bytes);
    }

    // ------------------------------------------------------------------------------------------ admins

    /** POST /admin/federated/tasks: creates a task; 201 with the task and each client's token (shown this once). */
    void create(Context ctx) {
        FederatedService s = service();
        String text = new String(Bodies.read(ctx, MAX_SPEC_BYTES), StandardCharsets.UTF_8);
        if (text.isBlank()) {
            throw ApiException.badRequest("the request body is empty; a federated task (JSON object) was expected");
        }
        TaskSpec spec = TaskSpec.parse(FederatedService.parse(text), random.nextLong());
        FederatedService.Created c = s.create(spec, AdminHandlers.actor(ctx));
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("task", c.task());
        out.put("client_tokens", c.tokens());
        out.put("note", "each client token is shown only now (the server keeps its SHA-256): give each party its own "
                + "over a secure channel");
        ctx.header("Location", "/admin/federated/tasks/" + c.task().get("id"));
        ctx.header("Cache-Control", "no-store");
        Json.write(ctx, 201, out);
    }

    /** GET /admin/federated/tasks?state=&limit=: tasks, newest first. */
    void list(Context ctx) {
        String state = ctx.queryParam("state");
        if (state != null && !List.of("running", "finished", "cancelled", "failed").contains(state)) {
            throw ApiException.badRequest("state is one of running, finished, cancelled, failed; got '" + state + "'");
        }
        int limit = MAX_LIST;
        String l = ctx.queryParam("limit");
        if (l != null) {
            if (!l.matches("[0-9]{1,4}") || Integer.parseInt(l) < 1 || Integer.parseInt(l) > MAX_LIST) {
                throw ApiException.badRequest("limit must be in [1, " + MAX_LIST + "], got '" + l + "'");
            }
            limit = Integer.parseInt(l);
        }
        Json.ok(ctx, Map.of("tasks", service().list(state, limit)));
    }

    /** GET /admin/federated/tasks/{task}: state, phase, rounds with their summaries, ε; never weights or updates. */
    void status(Context ctx) {
        Json.ok(ctx, service().view(taskId(ctx), true));
    }

    /** DELETE /admin/federated/tasks/{task}: stops a running task (200), 409 when it had already ended. */
    void cancel(Context ctx) {
        FederatedService s = service();
        long task = taskId(ctx);
        FederatedStore.Task t = s.task(task).orElseThrow(() -> ApiException.notFound("no federated task " + task));
        if (!s.cancel(task, AdminHandlers.actor(ctx))) {
            throw new ApiException(409, "federated task " + task + " already " + s.task(task).map(FederatedStore.Task::state)
                    .orElse(t.state()));
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("id", task);
        out.put("outcome", "cancelled");
        out.put("task", s.view(task, false));
        Json.ok(ctx, out);
    }

    private static long taskId(Context ctx) {
        String raw = ctx.pathParam("task");
        if (!raw.matches("[0-9]{1,18}")) {
            throw ApiException.badRequest("a federated task id is a non-negative integer, got '"
                    + (raw.length() > 40 ? raw.substring(0, 40) + "..." : raw) + "'");
        }
        return Long.parseLong(raw);
    }
}
