package dev.loupe.train;

import ai.djl.ndarray.NDArray;

import dev.loupe.model.HookedTransformer;

import java.util.Map;

/**
 * Trains the unembedding tied to the embedding, W_U = W_Eᵀ, as GPT-2 was trained. {@link #tie} starts the model tied;
 * then at every step both matrices get the sum of their two gradients (the gradient of the one shared matrix), and as
 * AdamW updates each entry from its own gradient history alone, they stay equal. The model keeps two arrays, so
 * saving, loading and every analysis see an ordinary untied model, as TransformerLens sees GPT-2.
 *
 * <p>Why tie: a head that attends to a token and writes that token's embedding back then raises its logit, so copying
 * is learned once for all tokens rather than token by token.
 */
public final class TiedEmbeddings implements GradientFilter {

    static final String W_E = "embed.W_E", W_U = "unembed.W_U";

    /** Sets W_U to a copy of W_Eᵀ and returns the filter that keeps them tied through training. */
    public static TiedEmbeddings tie(HookedTransformer model) {
        if (model.config().dVocab() != model.config().dVocabOut()) {
            throw new IllegalArgumentException("Tying needs d_vocab = d_vocab_out, got " + model.config().dVocab()
                    + " and " + model.config().dVocabOut());
        }
        model.setParameter(W_U, model.W_E().transpose().duplicate());
        return new TiedEmbeddings();
    }

    private TiedEmbeddings() {}

    @Override
    public void apply(Map<String, NDArray> grads) {
        NDArray embed = grads.get(W_E), unembed = grads.get(W_U);
        embed.addi(unembed.transpose());
        unembed.muli(0).addi(embed.transpose()); // in place: these arrays are the parameters' own gradients
    }
}
