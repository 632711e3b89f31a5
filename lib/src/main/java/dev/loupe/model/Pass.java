package dev.loupe.model;

import ai.djl.ndarray.NDArray;

/**
 * What every block of one forward pass shares: the attention mask, each token's position (for rotary
 * attention), the shortformer position embedding added to queries' and keys' inputs (or null) and the
 * key-value cache (or null).
 */
record Pass(AttentionMask mask, NDArray positions, NDArray shortformerPos, KvCache cache) {}
