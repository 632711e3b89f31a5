package dev.loupe.sae;

import dev.loupe.tokenize.Tokenizer;

import java.util.List;

import tech.tablesaw.api.DoubleColumn;
import tech.tablesaw.api.IntColumn;
import tech.tablesaw.api.StringColumn;
import tech.tablesaw.api.Table;

/**
 * Every unit's top contexts as one table, a row per context: unit, its name, rank (0 the highest), activation, window
 * and position in the corpus, the top token, and its context with the top token in [[ ]].
 */
final class TopContextsTable {

    private TopContextsTable() {}

    static Table of(FeatureStats stats) {
        Tokenizer tokenizer = stats.model().tokenizer().orElse(null);
        IntColumn unit = IntColumn.create("unit");
        StringColumn name = StringColumn.create("name");
        IntColumn rank = IntColumn.create("rank");
        DoubleColumn activation = DoubleColumn.create("activation");
        IntColumn window = IntColumn.create("window");
        IntColumn position = IntColumn.create("position");
        StringColumn token = StringColumn.create("token");
        StringColumn context = StringColumn.create("context");
        for (int u = 0; u < stats.dSae(); u++) {
            List<FeatureView.Context> contexts = stats.contexts(u);
            for (int r = 0; r < contexts.size(); r++) {
                FeatureView.Context c = contexts.get(r);
                unit.append(u);
                name.append(stats.units().name(u));
                rank.append(r);
                activation.append(c.example().activation());
                window.append(c.example().window());
                position.append(c.example().position());
                token.append(FeatureView.tokenText(tokenizer, c.tokens()[c.top()]));
                StringBuilder s = new StringBuilder();
                for (int i = 0; i < c.tokens().length; i++) {
                    String t = FeatureView.tokenText(tokenizer, c.tokens()[i]);
                    s.append(i == c.top() ? "[[" + t + "]]" : t);
                }
                context.append(s.toString());
            }
        }
        return Table.create("top contexts of " + stats.units(), unit, name, rank, activation, window, position, token, context);
    }
}
