package dev.loupe.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

import dev.loupe.display.Displayable;
import dev.loupe.display.Html;
import dev.loupe.display.MimeBundle;

import java.util.ArrayList;
import java.util.List;

/**
 * TransformerLens's {@code test_prompt}: how the model scores each token of an answer after a prompt (rank, logit,
 * probability) and what it ranks highest instead. Make one with {@link HookedTransformer#testPrompt}.
 */
public record PromptTest(List<String> promptTokens, List<AnswerToken> answer) implements Displayable {

    /** One of the model's top candidates at a position. */
    public record Candidate(String token, double logit, double prob) {}

    /** The answer token at one position: where the model ranks it (0 = first), and the top candidates there. */
    public record AnswerToken(String token, int rank, double logit, double prob, List<Candidate> top) {}

    static PromptTest of(HookedTransformer model, String prompt, String answer, int topK, boolean prependSpace) {
        String fullAnswer = prependSpace && !answer.startsWith(" ") ? " " + answer : answer;
        NDArray promptTokens = model.toTokens(prompt);
        NDArray answerTokens = model.toTokens(fullAnswer, false);
        int promptLength = (int) promptTokens.size();
        long[] ids = concat(promptTokens.toLongArray(), answerTokens.toLongArray());
        NDArray logits = model.forward(dev.loupe.tensor.Tensors.ofLongs(ids, new ai.djl.ndarray.types.Shape(1, ids.length)));
        List<AnswerToken> scored = new ArrayList<>();
        for (int i = 0; i < answerTokens.size(); i++) {
            double[] row = logits.get("0, " + (promptLength - 1 + i)).toType(DataType.FLOAT64, false).toDoubleArray();
            double[] probs = softmax(row);
            int target = (int) ids[promptLength + i];
            int rank = 0;
            for (double l : row) {
                if (l > row[target]) {
                    rank++;
                }
            }
            Integer[] order = new Integer[row.length];
            for (int v = 0; v < row.length; v++) {
                order[v] = v;
            }
            java.util.Arrays.sort(order, (a, b) -> Double.compare(row[b], row[a]));
            List<Candidate> top = new ArrayList<>();
            for (int k = 0; k < Math.min(topK, row.length); k++) {
                top.add(new Candidate(model.tokenizer().get().tokenString(order[k]), row[order[k]], probs[order[k]]));
            }
            scored.add(new AnswerToken(model.tokenizer().get().tokenString(target), rank, row[target], probs[target], top));
        }
        return new PromptTest(model.toStrTokens(promptTokens), scored);
    }

    private static long[] concat(long[] a, long[] b) {
        long[] all = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, all, a.length, b.length);
        return all;
    }

    private static double[] softmax(double[] logits) {
        double max = java.util.Arrays.stream(logits).max().orElse(0);
        double[] p = new double[logits.length];
        double total = 0;
        for (int i = 0; i < p.length; i++) {
            p[i] = Math.exp(logits[i] - max);
            total += p[i];
        }
        for (int i = 0; i < p.length; i++) {
            p[i] /= total;
        }
        return p;
    }

    @Override
    public String toString() {
        StringBuilder s = new StringBuilder("Tokenized prompt: " + quoted(promptTokens) + "\n");
        s.append("Tokenized answer: ").append(quoted(answer.stream().map(AnswerToken::token).toList())).append('\n');
        for (AnswerToken a : answer) {
            s.append(String.format("Performance on answer token:%nRank: %-6d Logit: %6.2f Prob: %5.2f%% Token: |%s|%n",
                    a.rank(), a.logit(), 100 * a.prob(), a.token()));
            for (int k = 0; k < a.top().size(); k++) {
                Candidate c = a.top().get(k);
                s.append(String.format("Top %dth token. Logit: %6.2f Prob: %5.2f%% Token: |%s|%n", k, c.logit(), 100 * c.prob(), c.token()));
            }
        }
        return s.toString();
    }

    private static String quoted(List<String> tokens) {
        return tokens.stream().map(t -> "'" + t + "'").toList().toString();
    }

    @Override
    public MimeBundle mimeBundle() {
        StringBuilder h = new StringBuilder("<div><b>Prompt</b> ");
        for (String t : promptTokens) {
            h.append("<code style=\"background:#eee;margin:1px;white-space:pre\">").append(Html.escape(t)).append("</code>");
        }
        h.append("</div>");
        for (AnswerToken a : answer) {
            h.append("<p><b>Answer</b> <code style=\"white-space:pre\">").append(Html.escape(a.token()))
                    .append(String.format("</code>: rank %d, logit %.2f, prob %.2f%%</p>", a.rank(), a.logit(), 100 * a.prob()));
            h.append("<table><tr><th>rank</th><th>token</th><th>logit</th><th>prob</th></tr>");
            for (int k = 0; k < a.top().size(); k++) {
                Candidate c = a.top().get(k);
                boolean isAnswer = c.token().equals(a.token());
                h.append(String.format("<tr%s><td>%d</td><td><code style=\"white-space:pre\">%s</code></td><td>%.2f</td><td>%.2f%%</td></tr>",
                        isAnswer ? " style=\"font-weight:bold\"" : "", k, Html.escape(c.token()), c.logit(), 100 * c.prob()));
            }
            h.append("</table>");
        }
        return MimeBundle.text(toString()).withHtml(h.toString());
    }
}
