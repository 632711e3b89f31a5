package dev.loupe.tokenize;

import java.util.OptionalInt;

/**
 * Text to token ids and back. Implementations are thread-safe.
 *
 * <p>{@link #encode} adds no special tokens of its own (no BOS, no EOS): prepending BOS is the model's
 * business, as in TransformerLens's {@code to_tokens(prepend_bos=...)}. Special tokens written in the text
 * itself, such as GPT-2's {@code <|endoftext|>}, are recognised as single tokens.
 */
public interface Tokenizer {

    /** The token ids of {@code text}, with no special tokens added. */
    int[] encode(String text);

    /**
     * The text of these tokens, special tokens included. Decoding all of a text's ids together gives the text
     * back, even where one character's bytes are spread over several tokens.
     *
     * @throws IllegalArgumentException if an id is not in the vocabulary
     */
    String decode(int[] ids);

    /**
     * The text of one token, as TransformerLens's {@code to_str_tokens} shows it: {@code " Mary"} with its
     * leading space; a token holding only part of a character's bytes shows as U+FFFD.
     */
    String tokenString(int id);

    /** One more than the largest token id, so every id is in {@code [0, vocabSize())}. */
    int vocabSize();

    /** The beginning-of-sequence token, if the tokenizer has one. */
    OptionalInt bosTokenId();

    /** The end-of-sequence token, if the tokenizer has one. */
    OptionalInt eosTokenId();

    /** The token used to pad sequences in a batch, if there is one. */
    OptionalInt padTokenId();
}
