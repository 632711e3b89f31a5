package dev.loupe.tasks.ioi;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import dev.loupe.model.HookedTransformer;
import dev.loupe.model.ModelConfig;
import dev.loupe.tensor.Tensors;
import dev.loupe.tokenize.Gpt2Tokenizer;
import dev.loupe.tokenize.SubsetTokenizer;
import dev.loupe.train.AdamW;
import dev.loupe.train.AtomicFolder;
import dev.loupe.train.BrownCorpus;
import dev.loupe.train.LrSchedule;
import dev.loupe.train.TiedEmbeddings;
import dev.loupe.train.TokenWindows;
import dev.loupe.train.Trainer;
import dev.loupe.train.TrainingLog;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.function.LongFunction;
import java.util.stream.IntStream;

/**
 * The recipe for {@code loupe/ioi-organism}: a small GPT-2-architecture model (layer norm, GELU MLPs, learned
 * positions) trained on the Brown corpus mixed with IOI sentences, so that the IOI analyses can be run, end to end and
 * offline, on a model that does the task. It is a trained model organism, not GPT-2: its circuit is its own.
 *
 * <p>Half of each batch's rows are Brown text ({@link TokenWindows}); the other half are IOI sentences from
 * {@link #trainingDistribution}, each after an end-of-text token and completed with its answer and a full stop,
 * packed to the context length. Nothing is held out of the loss. Three templates never appear in a training sentence:
 * {@link #heldOutTemplates()} measures the task on sentences the model was not taught. Eight of the paper's names never
 * appear in one either ({@link #heldOutDistribution()}: held-out templates and names); they are common in the Brown
 * corpus, so their embeddings are learned from ordinary text only; the corpus's frequent proper nouns (people, places,
 * months) join the training names. The vocabulary is GPT-2's tokens restricted to the corpus's most frequent plus
 * every word of every IOI template, name and TransformerLens's 8 standard prompts.
 *
 * <p>The unembedding is trained tied to the embedding ({@link TiedEmbeddings}), as GPT-2's was. Untied, the organism
 * learned to attend to the IO but left most of the copying to its MLPs: its name movers' copy scores were 8–38%
 * (an average head 8%), and it learned to move names one by one: held-out names were not copied at all (logit
 * difference 0.17). Tied, a head that moves a name's embedding raises that name's logit: name movers 2.1 and 2.7 copy
 * 52% and 61%, and held-out names reach a logit difference of 1.5, with the same data and steps.
 *
 * <p>Run: {@code ./loupe train ioi-organism [--steps N] [--seed S] [--out DIR]}. Interrupted runs resume from the
 * checkpoint in {@code target/train/ioi-organism}; the published folder gets half-precision weights, the tokenizer, the
 * metrics over training and how it was made.
 */
public final class IoiOrganism {

    public static final String NAME = "ioi-organism";
    public static final int VOCAB = 4096;
    public static final int CTX = 64;
    public static final int BATCH = 32;
    static final double IOI_FRACTION = 0.5;
    static final double LR = 2e-3;
    static final long EVAL_EVERY = 100;
    static final long DEFAULT_STEPS = 3000;
    /** Proper nouns the corpus uses this often join the training names. */
    static final int MIN_PROPER_NOUN_COUNT = 15;

    /** Names no training sentence uses, chosen among those the Brown corpus mentions 20 times or more. */
    public static final List<String> HELD_OUT_NAMES = List.of("Thomas", "Charles", "Richard", "Joseph", "David", "Paul",
            "Sarah", "Laura");

    /** Templates (indices into {@link IoiTemplates#TEMPLATES}) no training sentence uses. */
    public static final List<Integer> HELD_OUT_TEMPLATES = List.of(2, 9, 14);

    private IoiOrganism() {}

    public static ModelConfig config(int vocab, long seed) {
        return ModelConfig.builder().modelName(NAME).nLayers(4).dModel(128).nHeads(8).dHead(16).dMlp(512)
                .actFn(ModelConfig.ActFn.GELU_NEW).dVocab(vocab).nCtx(CTX).seed(seed).build();
    }

    /**
     * The names training sentences use: the paper's except the held-out ones, the standard prompts' other names (Tom,
     * Dan, Sid, Martin) and {@code properNouns} that are one GPT-2 token after a space, held-out names excepted.
     */
    public static List<String> trainingNames(List<String> properNouns) {
        Gpt2Tokenizer gpt2 = Gpt2Tokenizer.bundled();
        java.util.LinkedHashSet<String> names = new java.util.LinkedHashSet<>(IoiTemplates.NAMES);
        IoiDataset.standardPrompts().forEach(p -> names.add(p.io()));
        properNouns.stream().filter(n -> IoiDataset.singleToken(gpt2, " " + n) >= 0).forEach(names::add);
        names.removeAll(HELD_OUT_NAMES);
        return List.copyOf(names);
    }

    /** The paper's templates without the held-out ones, with {@code names}. */
    public static IoiDistribution trainingDistribution(List<String> names) {
        IoiDistribution paper = IoiDistribution.paper();
        return paper.withNames(names).withTemplates(IntStream.range(0, paper.templates().size())
                .filter(i -> !HELD_OUT_TEMPLATES.contains(i)).mapToObj(paper.templates()::get).toList());
    }

    /** Only the held-out templates and names: prompts unlike any the organism was trained on. */
    public static IoiDistribution heldOutDistribution() {
        return heldOutTemplates().withNames(HELD_OUT_NAMES);
    }

    /** The held-out templates with the paper's names that training sentences use: new sentences, familiar names. */
    public static IoiDistribution heldOutTemplates() {
        IoiDistribution paper = IoiDistribution.paper();
        return paper.withNames(paperTrainingNames()).withTemplates(HELD_OUT_TEMPLATES.stream().map(paper.templates()::get).toList());
    }

    /** The training templates with the paper's names that training sentences use (fresh draws, not the training data). */
    public static IoiDistribution trainingTemplates() {
        return trainingDistribution(paperTrainingNames());
    }

    private static List<String> paperTrainingNames() {
        return IoiTemplates.NAMES.stream().filter(n -> !HELD_OUT_NAMES.contains(n)).toList();
    }

    /** Every word an IOI prompt with these names or the 8 standard prompts can contain, so none becomes {@code <unk>}. */
    static List<String> ioiWords(List<String> names) {
        List<String> words = new ArrayList<>();
        IoiDistribution paper = IoiDistribution.paper().withNames(names);
        for (String t : paper.templates()) {
            words.add(t.replaceAll("\\[(A|B|PLACE|OBJECT)]", ""));
        }
        IoiDataset.standardPrompts().forEach(p -> words.add(p.text() + p.answer()));
        for (List<String> list : List.of(paper.names(), paper.places(), paper.objects())) {
            list.forEach(w -> words.add(" " + w));
        }
        words.add(".");
        return words;
    }

    /** GPT-2's tokens restricted to the corpus's most frequent, plus every IOI word and the paper's names. */
    public static SubsetTokenizer tokenizer(List<String> documents, List<String> trainingNames) {
        List<String> names = new ArrayList<>(trainingNames);
        names.addAll(HELD_OUT_NAMES);
        return SubsetTokenizer.mostFrequent(documents, VOCAB, ioiWords(names));
    }

    /** Training batches [BATCH, CTX]: Brown windows, with {@link #IOI_FRACTION} of the rows IOI sentences instead. */
    static LongFunction<NDArray> batches(TokenWindows brown, SubsetTokenizer tokenizer, IoiDistribution ioi, long seed) {
        int eot = tokenizer.eosTokenId().getAsInt();
        return step -> {
            long[] ids = brown.batch(step).toLongArray();
            Random random = new Random(seed * 1_000_003L + step + 7);
            for (int row = 0; row < BATCH; row++) {
                if (random.nextDouble() >= IOI_FRACTION) {
                    continue;
                }
                int at = 0;
                while (at < CTX) {
                    IoiPrompt p = ioi.prompt(random, random.nextBoolean() ? IoiPrompt.Order.ABBA : IoiPrompt.Order.BABA);
                    ids[row * CTX + at++] = eot;
                    for (int id : tokenizer.encode(p.text() + p.answer() + ".")) {
                        if (at == CTX) {
                            break;
                        }
                        ids[row * CTX + at++] = id;
                    }
                }
            }
            return Tensors.ofLongs(ids, new Shape(BATCH, CTX));
        };
    }

    /**
     * The organism's training data: the Brown corpus (fetched into {@code target/data}), the training names, the
     * vocabulary, Brown windows with the last 5% held out, the IOI training distribution, and the mixed batches.
     */
    public record TrainingData(List<String> documents, List<String> names, SubsetTokenizer tokenizer, TokenWindows brown,
                               IoiDistribution ioi, LongFunction<NDArray> batches) {}

    /** The data {@code ./loupe train ioi-organism} trains on with this seed (the same tokenizer whatever the seed). */
    public static TrainingData trainingData(long seed) throws IOException {
        Path corpus = BrownCorpus.fetch(Path.of("target/data"));
        List<String> documents = BrownCorpus.documents(corpus);
        List<String> names = trainingNames(BrownCorpus.properNouns(corpus, MIN_PROPER_NOUN_COUNT));
        SubsetTokenizer tokenizer = tokenizer(documents, names);
        TokenWindows brown = new TokenWindows(tokenizer, documents, BATCH, CTX, 0.05, seed);
        System.out.printf("Brown corpus: %d documents, %,d tokens; vocabulary %d covers %.1f%% of them%n",
                documents.size(), brown.size(), VOCAB, 100 * tokenizer.coverage(String.join("\n", documents)));
        IoiDistribution ioi = trainingDistribution(names);
        return new TrainingData(documents, names, tokenizer, brown, ioi, batches(brown, tokenizer, ioi, seed));
    }

    /** Mean logit difference and the share of prompts answered with the IO, on a dataset. */
    static Map<String, Double> ioiMetrics(HookedTransformer model, IoiDataset data, String prefix) {
        NDArray logits = model.forward(data.tokens());
        Map<String, Double> m = new LinkedHashMap<>();
        m.put(prefix + "_logit_diff", data.logitDiffs(logits).mean().toType(DataType.FLOAT64, false).getDouble());
        m.put(prefix + "_io_top", data.ioTopFraction(logits));
        return m;
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> o = options(args, Map.of("--steps", String.valueOf(DEFAULT_STEPS), "--seed", "0",
                "--out", "tutorials/models/" + NAME));
        long steps = Long.parseLong(o.get("--steps"));
        long seed = Long.parseLong(o.get("--seed"));
        Path out = Path.of(o.get("--out"));
        long start = System.nanoTime();
        TrainingData data = trainingData(seed);
        List<String> names = data.names();
        SubsetTokenizer tokenizer = data.tokenizer();
        TokenWindows brown = data.brown();

        HookedTransformer model = HookedTransformer.create(config(tokenizer.vocabSize(), seed)).withTokenizer(tokenizer);
        IoiDistribution training = data.ioi();
        System.out.printf("IOI sentences: %d templates, %d names (%d of them the paper's)%n", training.templates().size(),
                names.size(), names.stream().filter(IoiTemplates.NAMES::contains).count());
        IoiDataset seen = IoiDataset.of(model, trainingTemplates().sample(200, seed + 101));
        IoiDataset newTemplates = IoiDataset.of(model, heldOutTemplates().sample(200, seed + 303));
        IoiDataset heldOut = IoiDataset.of(model, heldOutDistribution().sample(200, seed + 202));
        IoiDataset standard = IoiDataset.standard(model);
        NDArray heldOutText = brown.heldOut(64);
        Trainer trainer = new Trainer(model, new AdamW(0.9, 0.99, 1e-8, 0.01), LrSchedule.warmupCosine(LR, 200, steps, LR / 10),
                data.batches(), 1.0);
        trainer.filterGradients(TiedEmbeddings.tie(model));
        trainer.evaluateAll(EVAL_EVERY, m -> {
            Map<String, Double> v = new LinkedHashMap<>(ioiMetrics(m, heldOut, "held_out"));
            v.putAll(ioiMetrics(m, newTemplates, "held_out_templates"));
            v.putAll(ioiMetrics(m, seen, "train_dist"));
            v.putAll(ioiMetrics(m, standard, "standard"));
            v.put("brown_loss", m.loss(heldOutText).toType(DataType.FLOAT64, false).getDouble());
            return v;
        });
        Path work = Path.of("target/train").resolve(out.getFileName());
        if (trainer.resumeIfSaved(work)) {
            System.out.println("Resuming from " + work + " at step " + trainer.step());
        }
        long firstStep = trainer.step();
        long trainStart = System.nanoTime();
        TrainingLog log = trainer.checkpoints(work, 500).run(steps);
        long tokens = (trainer.step() - firstStep) * BATCH * CTX;
        double tokensPerSecond = tokens / ((System.nanoTime() - trainStart) / 1e9);
        System.out.printf(Locale.ROOT, "%,d tokens trained at %.0f tokens/s%n", tokens, tokensPerSecond);
        publish(model, tokenizer, log, out, seed, steps, tokensPerSecond, (System.nanoTime() - start) / 1e9, names.size());
    }

    /** {@code --name value} pairs over the defaults, which also name the options allowed. */
    static Map<String, String> options(String[] args, Map<String, String> defaults) {
        Map<String, String> o = new LinkedHashMap<>(defaults);
        for (int i = 0; i < args.length; i += 2) {
            if (!defaults.containsKey(args[i])) {
                throw new IllegalArgumentException("Unknown option " + args[i] + "; expected one of " + defaults.keySet());
            }
            if (i + 1 == args.length) {
                throw new IllegalArgumentException("Option " + args[i] + " needs a value");
            }
            o.put(args[i], args[i + 1]);
        }
        return o;
    }

    /** Writes the published folder whole or not at all. */
    static void publish(HookedTransformer model, SubsetTokenizer tokenizer, TrainingLog log, Path out, long seed, long steps,
                        double tokensPerSecond, double wallSeconds, int trainingNames) throws IOException {
        Map<String, Double> last = new LinkedHashMap<>();
        for (String c : List.of("held_out_logit_diff", "held_out_io_top", "held_out_templates_logit_diff",
                "held_out_templates_io_top", "train_dist_logit_diff", "train_dist_io_top",
                "standard_logit_diff", "standard_io_top", "brown_loss")) {
            last.put(c, log.last(c));
        }
        var gson = new com.google.gson.GsonBuilder().setPrettyPrinting().create();
        Map<String, Object> about = new LinkedHashMap<>();
        about.put("command", "./loupe train " + NAME + " --steps " + steps + " --seed " + seed);
        about.put("seed", seed);
        about.put("steps", steps);
        about.put("batch", BATCH + " x " + CTX + " tokens");
        about.put("tokens_seen", steps * BATCH * CTX);
        about.put("tokens_per_second", Math.round(tokensPerSecond));
        about.put("wall_seconds", Math.round(wallSeconds));
        about.put("data", String.format(Locale.ROOT, "Brown corpus (npm %s), last 5%% of its token stream held out; %.0f%% of the rows"
                + " IOI sentences from the paper's templates except the held-out ones, with %d names: the paper's except the held-out"
                + " ones, the standard prompts' and the corpus's proper nouns used %d times or more", BrownCorpus.PACKAGE,
                100 * IOI_FRACTION, trainingNames, MIN_PROPER_NOUN_COUNT));
        about.put("held_out_names", HELD_OUT_NAMES);
        about.put("held_out_templates", HELD_OUT_TEMPLATES);
        about.put("final", last);
        AtomicFolder.write(out, dir -> {
            model.save(dir, DataType.FLOAT16); // half the size in git; the model computes in float32
            tokenizer.save(dir);
            log.writeCsv(dir.resolve("metrics.csv"));
            Files.writeString(dir.resolve("training.json"), gson.toJson(about) + "\n", StandardCharsets.UTF_8);
        });
        System.out.println("Published " + out.toAbsolutePath() + ": " + last);
    }
}
