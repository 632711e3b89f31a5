package dev.loupe.tasks.induction;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

import dev.loupe.circuits.HeadDetector;
import dev.loupe.circuits.RepeatedTokens;
import dev.loupe.model.HookedTransformer;
import dev.loupe.model.ModelConfig;
import dev.loupe.tokenize.SubsetTokenizer;
import dev.loupe.train.AdamW;
import dev.loupe.train.AtomicFolder;
import dev.loupe.train.BrownCorpus;
import dev.loupe.train.LrSchedule;
import dev.loupe.train.TokenWindows;
import dev.loupe.train.Trainer;
import dev.loupe.train.TrainingLog;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The recipe for {@code loupe/attn-only-2l}: a 2-layer attention-only transformer trained on the Brown corpus with
 * GPT-2's tokens restricted to the corpus's 4,096 most frequent, logging the induction-head measures of
 * {@link InductionMetrics} as it goes. Positions are shortformer embeddings (added to queries' and keys' inputs
 * only), as in Anthropic's and TransformerLens's attention-only models. Evaluation text is never altered.
 *
 * <p>Half of the training windows are random tokens that repeat instead of text, in two stages
 * ({@link TokenWindows#batch}): until step {@value #SPANS_FROM}, one block repeated end to end; from then on,
 * {@link dev.loupe.train.RecurringSpans}, with the learning rate warmed up again, since the cosine schedule of the first
 * stage has by then decayed to where sharpening is slow. Why, from the runs behind it (d_model 128, 8 × 128-token
 * batches, one thread each):
 * <ul>
 *   <li>Text alone, or text with half its windows ending in a repeated span, formed no previous-token head in 6,000
 *       steps (best scores 0.05 to 0.09).</li>
 *   <li>Repeated blocks alone (12,000 steps) go through the phase change between steps 5,600 and 6,300: the best
 *       induction score rises from 0.02 to 0.24, the repeated half of the probe becomes 2.2 nats easier (0.5 before),
 *       the in-context-learning score on held-out text falls from −0.15 to −0.37 nats. But the heads stay blunt (best
 *       scores 0.16 and 0.31 at the end): a periodic window can be matched by a bag of recent tokens, so layer 0 spreads
 *       over recent offsets (no offset above 0.05) and three layer-1 heads share the induction work.</li>
 *   <li>Recurring spans from the start, alone or with repeated blocks half the time, or a constant learning rate in
 *       the first stage: no phase change by step 6,500 to 8,500.</li>
 *   <li>Recurring spans after the phase change sharpen both heads in a few thousand steps: continuing the 12,000-step
 *       model at a constant 3e-3, previous-token 0.16 → 0.97 and induction 0.31 → 0.87 in 3,000 steps, the gap
 *       3.8 → 7.0 nats; at 1e-3 it went about four times slower.</li>
 *   <li>Sinusoidal starting positions lead to a local optimum, attending to a spread of fixed offsets and never
 *       forming an induction head (9,500 steps).</li>
 * </ul>
 * The recipe is sensitive to arithmetic: with two threads instead of one, sums are taken in another order from the
 * first steps on, and in one such run the phase change had not come by step 7,000, after which recurring spans alone
 * did not start it. {@code ./loupe train attn-only-2l} therefore runs on one thread ({@code OMP_NUM_THREADS=1} unless
 * set), where a run is deterministic: the committed run's first 7,000 steps logged the same metrics, digit for digit,
 * as an earlier run of the first stage alone.
 *
 * <p>Run: {@code ./loupe train attn-only-2l [--steps N] [--seed S] [--out DIR]}. Interrupted runs resume from the
 * checkpoint in {@code target/train/<out's name>}; the published folder gets half-precision weights (to keep git
 * small; the model computes in float32), the tokenizer, the metrics over training and how it was made.
 */
public final class AttnOnly2l {

    public static final int VOCAB = 4096;
    public static final int CTX = 128;
    public static final int BATCH = 8;
    public static final long STEPS = 12_000;
    static final int D_MODEL = 128;
    static final int EVAL_EVERY = 100;
    static final double SYNTHETIC_FRACTION = 0.5;
    /** Synthetic windows repeat one block until this step, then are recurring spans ({@link TokenWindows#batch}). */
    public static final long SPANS_FROM = 7_000;
    /** The first stage's cosine decays over this many steps, as in the all-repeated-blocks run whose phase change it keeps. */
    static final long COSINE_STEPS = 12_000;
    static final double LR = 3e-3;

    private AttnOnly2l() {}

    public static ModelConfig config(long seed) {
        return ModelConfig.builder().modelName("attn-only-2l").nLayers(2).dModel(D_MODEL).nHeads(4).dHead(32)
                .attnOnly(true).positionalEmbedding(ModelConfig.PositionalEmbedding.SHORTFORMER).dVocab(VOCAB).nCtx(CTX).seed(seed).build();
    }

    public static void main(String[] args) throws Exception {
        long steps = STEPS;
        long seed = 0;
        Path out = Path.of("tutorials/models/attn-only-2l");
        for (int i = 0; i < args.length; i += 2) {
            switch (args[i]) {
                case "--steps" -> steps = Long.parseLong(args[i + 1]);
                case "--seed" -> seed = Long.parseLong(args[i + 1]);
                case "--out" -> out = Path.of(args[i + 1]);
                default -> throw new IllegalArgumentException("Unknown option " + args[i] + "; expected --steps, --seed, --out");
            }
        }
        List<String> documents = BrownCorpus.documents(BrownCorpus.fetch(Path.of("target/data")));
        SubsetTokenizer tokenizer = SubsetTokenizer.mostFrequent(documents, VOCAB);
        TokenWindows windows = new TokenWindows(tokenizer, documents, BATCH, CTX, 0.05, seed, SYNTHETIC_FRACTION, SPANS_FROM);
        System.out.printf("Brown corpus: %d documents, %,d tokens; vocabulary %d covers %.1f%% of them%n",
                documents.size(), windows.size(), VOCAB, 100 * tokenizer.coverage(String.join("\n", documents)));

        HookedTransformer model = HookedTransformer.create(config(seed));
        int bos = tokenizer.bosTokenId().getAsInt();
        RepeatedTokens probe = InductionMetrics.probe(model, 20, 50, bos, seed + 1);
        NDArray heldOut = windows.heldOut(128);
        Trainer trainer = new Trainer(model, new AdamW(0.9, 0.99, 1e-8, 0.05), LrSchedule.warmupCosine(LR, 200, COSINE_STEPS, LR / 10)
                .then(SPANS_FROM, LrSchedule.warmup(LR, 100)),
                windows::batch, 1.0);
        trainer.evaluate("previous_token_score", EVAL_EVERY, m -> InductionMetrics.bestHeadScore(m, probe, HeadDetector.Kind.PREVIOUS_TOKEN, 0))
                .evaluate("induction_score", EVAL_EVERY, m -> InductionMetrics.bestHeadScore(m, probe, HeadDetector.Kind.INDUCTION, 1))
                .evaluate("repeated_half_gap", EVAL_EVERY, m -> InductionMetrics.repeatedHalfGap(m, probe))
                .evaluate("icl_score", EVAL_EVERY, m -> InductionMetrics.inContextLearningScore(m, heldOut, 25, 125, 10))
                .evaluate("held_out_loss", EVAL_EVERY, m -> m.loss(heldOut).toType(DataType.FLOAT64, false).getDouble());
        Path work = Path.of("target/train").resolve(out.getFileName());
        if (trainer.resumeIfSaved(work)) {
            System.out.println("Resuming from " + work + " at step " + trainer.step());
        }
        trainer.checkpoints(work, 500);
        long start = System.nanoTime();
        long firstStep = trainer.step();
        TrainingLog log = trainer.run(steps);
        double seconds = (System.nanoTime() - start) / 1e9;
        double tokensPerSecond = (trainer.step() - firstStep) * BATCH * CTX / seconds;
        System.out.printf(Locale.ROOT, "%d steps (%,d tokens) in %.0f s: %.0f tokens/s%n", trainer.step() - firstStep,
                (trainer.step() - firstStep) * BATCH * CTX, seconds, tokensPerSecond);
        publish(model, tokenizer, log, out, seed, steps, tokensPerSecond);
    }

    /** Writes the published folder whole or not at all. */
    static void publish(HookedTransformer model, SubsetTokenizer tokenizer, TrainingLog log, Path out, long seed,
                        long steps, double tokensPerSecond) throws IOException {
        Map<String, Double> last = new LinkedHashMap<>();
        for (String c : List.of("previous_token_score", "induction_score", "repeated_half_gap", "icl_score", "held_out_loss")) {
            double v = log.last(c);
            last.put(c, Double.isNaN(v) ? null : v);
        }
        AtomicFolder.write(out, dir -> {
            model.save(dir, DataType.FLOAT16);
            tokenizer.save(dir);
            log.writeCsv(dir.resolve("metrics.csv"));
            String about = String.format(Locale.ROOT, """
                    {
                      "command": "./loupe train attn-only-2l --steps %d --seed %d",
                      "seed": %d,
                      "steps": %d,
                      "tokens_seen": %d,
                      "tokens_per_second": %.0f,
                      "data": "Brown corpus (npm %s), last 5%% of the token stream held out; %.0f%% of training windows are random tokens that repeat: one block end to end until step %d, recurring spans from then on",
                      "final": %s
                    }
                    """, steps, seed, seed, steps, steps * BATCH * CTX, tokensPerSecond, BrownCorpus.PACKAGE, 100 * SYNTHETIC_FRACTION, SPANS_FROM,
                    new com.google.gson.Gson().toJson(last));
            Files.writeString(dir.resolve("training.json"), about, StandardCharsets.UTF_8);
        });
        System.out.println("Published " + out.toAbsolutePath() + ": " + last);
    }
}
