package dev.loupe.tasks.ioi;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import dev.loupe.display.Displayable;
import dev.loupe.display.MimeBundle;
import dev.loupe.display.TableView;
import dev.loupe.model.HookedTransformer;
import dev.loupe.patching.Metrics;
import dev.loupe.tasks.ioi.IoiPrompt.Word;
import dev.loupe.tensor.Tensors;
import dev.loupe.tokenize.Tokenizer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;

import tech.tablesaw.api.IntColumn;
import tech.tablesaw.api.StringColumn;
import tech.tablesaw.api.Table;

/**
 * IOI prompts tokenized for a model, with the bookkeeping every IOI analysis needs: the answer (IO) and the wrong
 * name (S) as tokens, and per prompt the positions of IO, S1, S1+1, S2 and the last token ({@link Word}).
 *
 * <p>Prompts of different templates differ in length; {@link #tokens()} pads them on the right, which changes nothing
 * for the real tokens (attention is causal, and positions count from the start), so one batch holds them all and every
 * sweep in {@code dev.loupe.patching} runs on it. Metrics read each prompt at its own last token ({@link #logitDiff()}).
 */
public final class IoiDataset implements Displayable {

    /** Corrupted versions of a dataset: the same templates, places and objects, other names in the name slots. */
    public enum Corruption {
        /** Wang et al.'s ABC distribution: IO, S1 and S2 become three different names, none of them the clean IO or S. */
        ABC,
        /**
         * S2 becomes the IO (TransformerLens's demo): each prompt turns into the one with the other answer, so the clean
         * answers' logit difference changes sign.
         */
        S2_IO
    }

    private final Tokenizer tokenizer;
    private final boolean prependBos;
    private final List<IoiPrompt> prompts;
    private final int[][] ids;
    private final int[] ioTokens;
    private final int[] sTokens;
    private final Map<Word, int[]> positions = new EnumMap<>(Word.class);
    private final int length;
    private final NDArray tokens;

    private IoiDataset(Tokenizer tokenizer, boolean prependBos, List<IoiPrompt> prompts) {
        if (prompts.isEmpty()) {
            throw new IllegalArgumentException("An IOI dataset needs at least one prompt");
        }
        this.tokenizer = tokenizer;
        this.prependBos = prependBos;
        this.prompts = List.copyOf(prompts);
        int n = prompts.size();
        int bos = prependBos ? 1 : 0;
        ids = new int[n][];
        ioTokens = new int[n];
        sTokens = new int[n];
        for (Word w : Word.values()) {
            positions.put(w, new int[n]);
        }
        for (int i = 0; i < n; i++) {
            IoiPrompt p = prompts.get(i);
            int[] text = tokenizer.encode(p.text());
            ids[i] = new int[text.length + bos];
            if (prependBos) {
                ids[i][0] = tokenizer.bosTokenId().orElseThrow(() ->
                        new IllegalArgumentException("This tokenizer has no BOS token; build the dataset without BOS"));
            }
            System.arraycopy(text, 0, ids[i], bos, text.length);
            for (Word w : List.of(Word.IO, Word.S1, Word.S2)) {
                int token = nameToken(tokenizer, p.name(w));
                int at = tokenizer.encode(p.textBefore(w)).length + bos;
                if (at >= ids[i].length || ids[i][at] != token) {
                    throw new IllegalStateException("Prompt " + i + " (\"" + p.text() + "\"): expected " + w + " '" + p.name(w)
                            + "' as token " + token + " at position " + at + ", found " + Arrays.toString(ids[i]));
                }
                positions.get(w)[i] = at;
            }
            positions.get(Word.S1_PLUS_1)[i] = positions.get(Word.S1)[i] + 1;
            positions.get(Word.END)[i] = ids[i].length - 1;
            ioTokens[i] = nameToken(tokenizer, p.io());
            sTokens[i] = nameToken(tokenizer, p.s1());
        }
        length = Arrays.stream(ids).mapToInt(a -> a.length).max().getAsInt();
        int pad = tokenizer.padTokenId().orElse(tokenizer.eosTokenId().orElse(0));
        long[] flat = new long[n * length];
        Arrays.fill(flat, pad);
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < ids[i].length; j++) {
                flat[i * length + j] = ids[i][j];
            }
        }
        tokens = Tensors.ofLongs(flat, new Shape(n, length));
    }

    /** The prompts tokenized as {@code model.toTokens} does: the model's tokenizer, BOS first. */
    public static IoiDataset of(HookedTransformer model, List<IoiPrompt> prompts) {
        return of(model.tokenizer().orElseThrow(() -> new IllegalArgumentException(
                "The model has no tokenizer; attach one with withTokenizer(...) or use of(tokenizer, prependBos, prompts)")),
                true, prompts);
    }

    public static IoiDataset of(Tokenizer tokenizer, boolean prependBos, List<IoiPrompt> prompts) {
        return new IoiDataset(tokenizer, prependBos, prompts);
    }

    /**
     * The 8 prompts of TransformerLens's IOI demo (4 sentences, each with either name as the answer), in its order:
     * "When John and Mary went to the shops, John gave the bag to" → " Mary", then the same with " John" as the answer,
     * and so on. GPT-2 small (weights processed) gives them an average logit difference of 3.5519.
     */
    public static List<IoiPrompt> standardPrompts() {
        String shopsBag = "When [B] and [A] went to the shops, [B] gave the bag to";
        String parkBall = "When [B] and [A] went to the park, [B] gave the ball to";
        String shopsApple = "When [B] and [A] went to the shops, [B] gave an apple to";
        String parkDrink = "After [B] and [A] went to the park, [B] gave a drink to";
        List<IoiPrompt> prompts = new ArrayList<>();
        // Each pair keeps the sentence's first clause ("John and Mary") and changes who gives: the first prompt of
        // the first pair is BABA, the first of the other three ABBA, as in the demo.
        prompts.add(IoiPrompt.of(shopsBag, "Mary", "John", null, null));
        prompts.add(IoiPrompt.of(IoiPrompt.swapFirstClause(shopsBag), "John", "Mary", null, null));
        prompts.add(IoiPrompt.of(IoiPrompt.swapFirstClause(parkBall), "Tom", "James", null, null));
        prompts.add(IoiPrompt.of(parkBall, "James", "Tom", null, null));
        prompts.add(IoiPrompt.of(IoiPrompt.swapFirstClause(shopsApple), "Dan", "Sid", null, null));
        prompts.add(IoiPrompt.of(shopsApple, "Sid", "Dan", null, null));
        prompts.add(IoiPrompt.of(IoiPrompt.swapFirstClause(parkDrink), "Martin", "Amy", null, null));
        prompts.add(IoiPrompt.of(parkDrink, "Amy", "Martin", null, null));
        return prompts;
    }

    /** {@link #standardPrompts()} for {@code model}. */
    public static IoiDataset standard(HookedTransformer model) {
        return of(model, standardPrompts());
    }

    /**
     * The corrupted dataset drawing new names from the names this dataset uses (enough for ABC when it has five or
     * more different names).
     */
    public IoiDataset corrupted(Corruption kind, long seed) {
        LinkedHashSet<String> names = new LinkedHashSet<>();
        prompts.forEach(p -> names.addAll(List.of(p.io(), p.s1(), p.s2())));
        return corrupted(kind, List.copyOf(names), seed);
    }

    /** The corrupted dataset; ABC draws its names from {@code names}. Positions and lengths stay those of this one. */
    public IoiDataset corrupted(Corruption kind, List<String> names, long seed) {
        Random random = new Random(seed);
        List<IoiPrompt> out = new ArrayList<>();
        for (IoiPrompt p : prompts) {
            out.add(switch (kind) {
                case S2_IO -> p.withNames(p.io(), p.s1(), p.io());
                case ABC -> {
                    List<String> pool = new ArrayList<>(new LinkedHashSet<>(names));
                    pool.removeAll(List.of(p.io(), p.s1(), p.s2()));
                    if (pool.size() < 3) {
                        throw new IllegalArgumentException("ABC needs three names other than '" + p.io() + "' and '" + p.s1()
                                + "'; the pool has " + pool.size() + ": " + pool + ". Pass more names.");
                    }
                    java.util.Collections.shuffle(pool, random);
                    yield p.withNames(pool.get(0), pool.get(1), pool.get(2));
                }
            });
        }
        IoiDataset corrupted = new IoiDataset(tokenizer, prependBos, out);
        for (int i = 0; i < ids.length; i++) {
            if (corrupted.ids[i].length != ids[i].length) {
                throw new IllegalStateException("Corrupted prompt " + i + " has " + corrupted.ids[i].length + " tokens, the clean one "
                        + ids[i].length + ": names must be single tokens");
            }
        }
        return corrupted;
    }

    /**
     * The token id of {@code text} if it is exactly one token that decodes back to itself (not an unknown-token
     * stand-in), else −1.
     */
    static int singleToken(Tokenizer tokenizer, String text) {
        int[] ids = tokenizer.encode(text);
        return ids.length == 1 && tokenizer.decode(ids).equals(text) ? ids[0] : -1;
    }

    private static int nameToken(Tokenizer tokenizer, String name) {
        int id = singleToken(tokenizer, " " + name);
        if (id < 0) {
            throw new IllegalArgumentException("' " + name + "' is not a single token in this tokenizer (it encodes as "
                    + Arrays.toString(tokenizer.encode(" " + name)) + "); IOI prompts need single-token names"
                    + " (IoiDistribution.singleTokenNames keeps only those)");
        }
        return id;
    }

    public int size() {
        return prompts.size();
    }

    public List<IoiPrompt> prompts() {
        return prompts;
    }

    public List<String> texts() {
        return prompts.stream().map(IoiPrompt::text).toList();
    }

    /** [n, longest prompt] token ids, BOS first if asked for, padded on the right. */
    public NDArray tokens() {
        return tokens;
    }

    /** The prompts' token counts (BOS included). */
    public int[] lengths() {
        return Arrays.stream(ids).mapToInt(a -> a.length).toArray();
    }

    /** Each prompt's IO name as a token: the right answer. */
    public int[] ioTokens() {
        return ioTokens.clone();
    }

    /** Each prompt's subject (S1) as a token: the wrong answer. */
    public int[] sTokens() {
        return sTokens.clone();
    }

    /** Each prompt's position of {@code word}. */
    public int[] positions(Word word) {
        return positions.get(word).clone();
    }

    /**
     * {@code activation} [n, ..., pos (at {@code axis}), ...] at each prompt's {@code word} position: the same array
     * without that axis.
     */
    public NDArray at(NDArray activation, int axis, Word word) {
        Shape s = activation.getShape();
        if (s.get(0) != size() || axis <= 0 || axis >= s.dimension()) {
            throw new IllegalArgumentException("Expected an activation [" + size() + ", ...] with positions on an axis after the"
                    + " batch; got shape " + s + " and axis " + axis);
        }
        int[] pos = positions.get(word);
        long[] index = new long[pos.length];
        for (int i = 0; i < pos.length; i++) {
            if (pos[i] >= s.get(axis)) {
                throw new IllegalArgumentException("Prompt " + i + "'s " + word + " is at position " + pos[i] + " but axis " + axis
                        + " of " + s + " has only " + s.get(axis));
            }
            index[i] = pos[i];
        }
        long[] indexShape = s.getShape().clone(); // getShape() is the Shape's own array
        long[] one = new long[s.dimension()];
        Arrays.fill(one, 1);
        one[0] = s.get(0);
        indexShape[axis] = 1;
        NDArray idx = Tensors.ofLongs(index, new Shape(one)).broadcast(new Shape(indexShape));
        return activation.gather(idx, axis).squeeze(axis);
    }

    /**
     * The logit difference, logit(IO) − logit(S), of each prompt at its last token: [n]. Takes logits [n, pos, vocab],
     * or [n, 1, vocab] already at each prompt's last token (what sweeps unembed for {@link #logitDiff()}).
     */
    public NDArray logitDiffs(NDArray logits) {
        Shape s = logits.getShape();
        NDArray last;
        if (s.dimension() == 3 && s.get(0) == size() && s.get(1) == length) {
            last = at(logits, 1, Word.END);
        } else if (s.dimension() == 3 && s.get(0) == size() && s.get(1) == 1) {
            last = logits.get(":, 0, :");
        } else {
            throw new IllegalArgumentException("Expected logits [" + size() + ", " + length + ", vocab] or [" + size()
                    + ", 1, vocab] (each prompt at its last token), got " + s);
        }
        return last.gather(column(ioTokens), 1).sub(last.gather(column(sTokens), 1)).squeeze(1);
    }

    /**
     * The mean logit difference as a metric for patching sweeps. It reads each prompt at its own last token only, so
     * sweeps unembed just those positions.
     */
    public Function<NDArray, NDArray> logitDiff() {
        long[] ends = Arrays.stream(positions.get(Word.END)).asLongStream().toArray();
        return Metrics.atPositions(ends, logits -> logitDiffs(logits).mean());
    }

    /** Whether every prompt has the same length, so that all end at the last position. */
    public boolean endsAligned() {
        return Arrays.stream(positions.get(Word.END)).allMatch(e -> e == length - 1);
    }

    /** The mean logit difference over the prompts of one name order (ABBA or BABA); NaN if there are none. */
    public double meanLogitDiff(NDArray logits, IoiPrompt.Order order) {
        double[] diffs = logitDiffs(logits).toType(DataType.FLOAT64, false).toDoubleArray();
        return java.util.stream.IntStream.range(0, size()).filter(i -> prompts.get(i).order() == order)
                .mapToDouble(i -> diffs[i]).average().orElse(Double.NaN);
    }

    /** The share of prompts whose top prediction at the last token is the IO. */
    public double ioTopFraction(NDArray logits) {
        NDArray top = at(logits, 1, Word.END).argMax(1);
        long hits = 0;
        long[] best = top.toLongArray();
        for (int i = 0; i < best.length; i++) {
            hits += best[i] == ioTokens[i] ? 1 : 0;
        }
        return hits / (double) best.length;
    }

    private static NDArray column(int[] ids) {
        return Tensors.ofLongs(Arrays.stream(ids).asLongStream().toArray(), new Shape(ids.length, 1));
    }

    /** The prompts with their answers and positions. */
    public Table toTable() {
        Table t = Table.create("IOI prompts",
                StringColumn.create("prompt", texts()),
                StringColumn.create("IO", prompts.stream().map(IoiPrompt::io).toList()),
                StringColumn.create("S", prompts.stream().map(IoiPrompt::s1).toList()),
                StringColumn.create("order", prompts.stream().map(p -> p.order().name()).toList()));
        for (Word w : Word.values()) {
            t.addColumns(IntColumn.create("pos " + (w == Word.S1_PLUS_1 ? "S1+1" : w.name()), positions.get(w)));
        }
        return t;
    }

    @Override
    public MimeBundle mimeBundle() {
        return MimeBundle.text(toString()).withHtml(TableView.bundle(toTable().first(20)).data().get(MimeBundle.HTML));
    }

    @Override
    public String toString() {
        long abba = prompts.stream().filter(p -> p.order() == IoiPrompt.Order.ABBA).count();
        return String.format("IoiDataset: %d prompts (%d ABBA, %d BABA), %d to %d tokens%s; first: %s", size(), abba,
                size() - abba, Arrays.stream(lengths()).min().getAsInt(), length, prependBos ? " with BOS" : "", prompts.get(0));
    }
}
