/**
 * Secure aggregation (Bonawitz et al., "Practical Secure Aggregation for Privacy-Preserving Machine Learning",
 * CCS 2017), honest-but-curious variant, complete graph, JDK 17 cryptography only.
 *
 * <ul>
 *   <li>Round 0, AdvertiseKeys: each client sends two X25519 public keys (c for share encryption, s for masks).
 *       The server fixes U1, gives clients indices 1..n in client-id order, the threshold t = floor(f·n) + 1
 *       (f &gt;= 0.5) and the session id SHA-256(task, round, round nonce, t, every index, client id and key).</li>
 *   <li>Round 1, ShareKeys: each client draws a self-mask seed b, Shamir-shares b and its masking private key
 *       (t of n, GF(2^256 + 297)) and sends each peer its two shares encrypted with AES-256-GCM under
 *       HKDF(X25519(c_u, c_v)), the associated data naming session, sender and receiver. The server routes them; the
 *       senders are U2.</li>
 *   <li>Round 2, MaskedInputCollection: each client sends y = x + PRG(b) + Σ_{v in U2, v &gt; u} PRG(s_uv)
 *       − Σ_{v in U2, v &lt; u} PRG(s_uv) mod 2^32, with s_uv = HKDF(X25519(s_u, s_v)) and PRG = AES-256-CTR keyed by
 *       HKDF(seed, session, purpose). The server adds it to a running sum; the senders are U3.</li>
 *   <li>Round 3, Unmasking: each member of U3 returns its share of b_v for every v in U3 and of s_v for every v in
 *       U2 \ U3, never both for one peer (it answers once, after checking the two sets partition U2, contain it as
 *       alive and leave at least t alive). With t answers the server rebuilds the b_v and s_v, removes PRG(b_v) and
 *       the dangling pairwise masks of the dropped clients, and gets Σ_{u in U3} x_u.</li>
 * </ul>
 *
 * Inputs are clipped float vectors quantized by stochastic rounding ({@link io.dense4j.federated.secagg.Quantizer})
 * with headroom for n summands, so the wrapped int sum read as signed is the exact integer sum.
 */
package io.dense4j.federated.secagg;
