/**
 * Federated learning: train one model across parties whose data never leaves them. Federated Averaging (McMahan et
 * al. 2017) with Poisson client sampling and FedProx's proximal term as an option, secure aggregation (Bonawitz et
 * al. 2017, {@link io.dense4j.federated.secagg}) and client-level differential privacy (DP-FedAvg, McMahan et al.
 * 2018, accounted by {@link io.dense4j.federated.privacy.RdpAccountant}).
 *
 * <h2>Pieces</h2>
 * <ul>
 *   <li>{@link io.dense4j.federated.FederatedCoordinator}: the server of one task, transport-agnostic
 *       ({@code handle(clientId, frame) -> frame}, {@code tick()} for deadlines, {@code RoundListener} after each
 *       round); an HTTP binding only authenticates the client, passes bytes and schedules {@code tick()}.</li>
 *   <li>{@link io.dense4j.federated.FederatedClient}: a party, for applications; polls, trains locally
 *       ({@link io.dense4j.federated.LocalTrainer}), uploads its (masked) update.</li>
 *   <li>{@link io.dense4j.federated.protocol}: the messages, their frame codec and size limits.</li>
 *   <li>{@link io.dense4j.federated.FederatedSimulation}: clients and server in one JVM over
 *       {@link io.dense4j.federated.InMemoryTransport} (the same bytes as the wire).</li>
 * </ul>
 *
 * <h2>Threat model</h2>
 * <b>What is protected.</b> A client's training data never leaves it; it sends one vector per round: its model
 * update Δ, clipped to L2 norm S (when a clip is set) and weighted. With secure aggregation on, that vector is
 * quantized into Z_2^32 and masked; the server only ever holds masked vectors (folded into a running sum as they
 * arrive) and, after unmasking, the sum of the updates of the clients whose inputs were summed.
 *
 * <p><b>Honest-but-curious server</b> (follows the protocol, keeps and analyses everything it sees: messages, its
 * state, its logs). With secure aggregation it learns the sum of the round's surviving updates and metadata: who was
 * sampled, who took part and dropped at which phase, message sizes and timing, public keys. It learns nothing about
 * an individual update beyond the sum, even together with fewer than t clients of the round (t = the Shamir
 * threshold, a majority). The test {@code FederatedFashionMnistTest} runs this server's best attempt (every frame,
 * every stored state, the log, self masks rebuilt from the shares it received) and finds nothing closer to any
 * client's update than the sum; the same attack recovers every update exactly when secure aggregation is off.
 * Without secure aggregation the server sees every update.
 *
 * <p><b>What breaks it.</b>
 * <ul>
 *   <li>Collusion of the server with t or more clients of a round: they hold t shares of a client's self-mask seed
 *       and masking key and can unmask its input. With n − 1 colluding clients the sum alone gives the last input.</li>
 *   <li>An actively malicious server. Each honest client answers one unmasking request, and t is a majority, so the
 *       server cannot collect both kinds of shares of one client from honest clients; but nothing stops a server
 *       that enrols fake clients (Sybils: whoever issues client tokens controls enrolment) from reaching the
 *       threshold with them, or from showing different clients different peer lists (there is no consistency-check
 *       round and no signatures: Bonawitz et al.'s active-adversary variant, with t &gt; 2n/3, is not implemented).
 *       Tampering with routed shares is detected (AES-GCM bound to session, sender and receiver).</li>
 *   <li>Small cohorts: a sum over few clients says much about each. Rounds need min-clients updates and at least
 *       2 (the server) / 3 (a client's default {@code minSecAggCohort}) participants.</li>
 *   <li>Malicious clients are defended against only as far as the task's config bounds them. Without any bound
 *       (FedAvg's mean, no clip) one client's huge finite update drags the model anywhere; a round whose result a
 *       float cannot hold is not applied. {@code clip_norm} bounds every update (and is checked by the server
 *       without secure aggregation; with it the server cannot check it), {@code max_update_norm} refuses larger
 *       updates without clipping honest ones, and the {@code median} and {@code trimmed_mean} aggregators keep a
 *       minority of clients from moving a coordinate outside the others' range ({@link
 *       io.dense4j.federated.FederatedConfig.Aggregator}). A majority of malicious clients, or Sybils, or subtle
 *       (backdoor) updates within the bounds are not stopped. Clients learn nothing beyond the models.</li>
 *   <li>Every client sees the global model of every round, hence each round's aggregate: that is what differential
 *       privacy is for.</li>
 * </ul>
 *
 * <p><b>Differential privacy.</b> Client-level (ε, δ)-DP for add/remove-one-client neighbours: each client clips
 * its update to S (uniform weights), the server adds N(0, (z·S)²) to each coordinate of the <i>unmasked sum</i> and
 * divides by the expected number of clients q·K. The noise is added by the server, so the guarantee protects
 * clients from the released models (other clients, model consumers), not from the server, which sees each round's
 * exact sum (and no single update when secure aggregation is on); distributed noise added by the clients is not
 * implemented. Accounting assumes Poisson sampling (each enrolled client independently with probability
 * q = clientsPerRound / enrolled; the enrolled population fixed for the task), charges every round that sampled
 * clients, aborted ones included, and refuses a round that would exceed the budget. Not covered: the abort of a
 * round that sampled fewer than min-clients reveals that it did; floating-point Gaussian sampling is not hardened
 * (Mironov 2012); stochastic rounding can raise an update's norm by up to √P/scale above S (1e-6 relative for the
 * reference model) and the accountant uses S.
 *
 * <p><b>Transport.</b> Confidentiality and integrity on the network, and client authentication, come from the
 * transport (HTTPS and per-client tokens in the HTTP binding). The protocol itself refuses replays (round ids, a
 * fresh 16-byte nonce per round, one submission per kind, client and round, retries recognised by message id),
 * messages naming another client than the authenticated one, and oversized or malformed frames (sizes checked
 * against the bytes present before allocating).
 */
package io.dense4j.federated;
