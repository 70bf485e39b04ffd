/** Privacy accounting: Rényi DP of the Poisson-sampled Gaussian mechanism and its conversion to (ε, δ). */
package io.dense4j.federated.privacy;
