package dev.loupe.model;

import ai.djl.ndarray.NDArray;

import dev.loupe.display.Html;
import dev.loupe.display.MimeBundle;
import dev.loupe.tokenize.Tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/** How a {@link HookedTransformer} shows: its config as a table, with parameter count and tokenizer. */
public final class ModelView {

    private ModelView() {}

    /** The model's bundle; the text is the model's {@code toString()}. */
    public static MimeBundle bundle(HookedTransformer model) {
        if (closed(model)) {
            String text = "HookedTransformer(" + model.config() + ") (closed: its weights were freed)";
            return MimeBundle.text(text).withHtml("<div style=\"" + Html.FONT + "\">" + Html.escape(text) + "</div>");
        }
        return MimeBundle.text(model.toString()).withHtml(html(model));
    }

    private static boolean closed(HookedTransformer model) {
        return model.stateDict().values().stream().anyMatch(NDArray::isReleased);
    }

    /** The rows of the config table, name and value, in the order a reader wants them. */
    static List<String[]> rows(HookedTransformer model) {
        ModelConfig c = model.config();
        List<String[]> rows = new ArrayList<>();
        rows.add(new String[] {"n_layers", Integer.toString(c.nLayers())});
        rows.add(new String[] {"d_model", Integer.toString(c.dModel())});
        rows.add(new String[] {"heads × d_head", c.nHeads() + " × " + c.dHead()});
        rows.add(new String[] {"d_mlp", c.attnOnly() ? "none (attention only)" : Integer.toString(c.dMlp())});
        rows.add(new String[] {"act_fn", c.attnOnly() ? "—" : c.actFn().tlName()});
        rows.add(new String[] {"normalization", c.normalization().tlName() == null ? "none" : c.normalization().tlName()});
        rows.add(new String[] {"positional embedding", c.positionalEmbedding().tlName()});
        rows.add(new String[] {"n_ctx", Integer.toString(c.nCtx())});
        rows.add(new String[] {"d_vocab", c.dVocab() == c.dVocabOut() ? Integer.toString(c.dVocab())
                : c.dVocab() + " in, " + c.dVocabOut() + " out"});
        rows.add(new String[] {"dtype", c.dtype().toString()});
        long params = model.parameterCount();
        long bytes = params * c.dtype().getNumOfBytes();
        rows.add(new String[] {"parameters", Html.count(params) + ", " + Html.bytes(bytes)});
        rows.add(new String[] {"hook points", Integer.toString(model.hookNames().size())});
        Optional<Tokenizer> t = model.tokenizer();
        rows.add(new String[] {"tokenizer", t.map(ModelView::describe).orElse("none (pass token ids, or withTokenizer)")});
        return rows;
    }

    private static String describe(Tokenizer t) {
        return String.format(Locale.ROOT, "%s, %,d tokens", t.getClass().getSimpleName(), t.vocabSize());
    }

    static String html(HookedTransformer model) {
        return "<div style=\"" + Html.FONT + "\"><div><b>HookedTransformer</b> " + Html.escape(model.config().modelName())
                + "</div>" + Html.keyValueTable(rows(model)) + "</div>";
    }
}
