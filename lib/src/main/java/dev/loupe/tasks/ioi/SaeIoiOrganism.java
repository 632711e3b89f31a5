package dev.loupe.tasks.ioi;

import ai.djl.ndarray.NDArray;

import dev.loupe.model.HookedTransformer;
import dev.loupe.sae.ActivationStore;
import dev.loupe.sae.Sae;
import dev.loupe.sae.SaeConfig;
import dev.loupe.sae.SaeEvaluation;
import dev.loupe.sae.SaeTrainer;
import dev.loupe.sae.SaeTraining;
import dev.loupe.train.AtomicFolder;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The recipe for {@code loupe/sae-ioi-organism}: a TopK SAE (d_sae 1024, k 32) on the committed IOI organism's
 * residual stream entering layer 2, {@code blocks.2.hook_resid_pre}, trained on the organism's own data mix (Brown
 * text with half the rows IOI sentences). That is where the organism's layers 0–1 have written what its later heads
 * read: the names, their positions and which one is repeated, so the features there are the ones an IOI analysis
 * asks about. Activations are scaled to average norm √d_model while training, the factor folded into the saved
 * weights; position 0 (end-of-text) is left out. Evaluated on the held-out tail of the Brown corpus.
 *
 * <p>Run: {@code ./loupe train sae-ioi-organism [--tokens N] [--seed S] [--out DIR]}. Interrupted runs resume from
 * the checkpoint in {@code target/train/sae-ioi-organism}.
 */
public final class SaeIoiOrganism {

    static final String NAME = "sae-ioi-organism";
    static final String HOOK = "blocks.2.hook_resid_pre";
    static final int D_SAE = 1024;
    static final int K = 32;
    static final int BATCH = 4096;
    static final double LR = 1e-3;
    static final long DEFAULT_TOKENS = 8_000_000;

    private SaeIoiOrganism() {}

    public static void main(String[] args) throws Exception {
        Map<String, String> o = IoiOrganism.options(args, Map.of("--tokens", String.valueOf(DEFAULT_TOKENS), "--seed", "0",
                "--out", "tutorials/models/" + NAME));
        long tokens = Long.parseLong(o.get("--tokens"));
        long seed = Long.parseLong(o.get("--seed"));
        Path out = Path.of(o.get("--out"));
        long start = System.nanoTime();
        HookedTransformer model = HookedTransformer.load(Path.of("tutorials/models/" + IoiOrganism.NAME));
        IoiOrganism.TrainingData data = IoiOrganism.trainingData(seed);
        SaeConfig cfg = SaeConfig.topK(HOOK, model.config().dModel(), D_SAE, K).withModelName("loupe/" + IoiOrganism.NAME)
                .withMetadata(Map.of("context_size", IoiOrganism.CTX, "prepend_bos", true,
                        "dataset_path", "Brown corpus + IOI sentences (IoiOrganism.trainingData)"));
        long steps = tokens / BATCH;
        SaeTraining options = SaeTraining.of(model, cfg).tokens(tokens).batchSize(BATCH).lr(LR)
                .lrWarmupSteps(steps / 20).lrDecaySteps(steps / 5).normaliseActivations(true)
                .deadWindowTokens(500_000).seed(seed).logEvery(10)
                .checkpoints(Path.of("target/train").resolve(out.getFileName()), 200);
        ActivationStore store = ActivationStore.of(model, cfg, data.batches()).windowsPerRefill(64);
        SaeTrainer trainer = options.trainer(store);
        if (trainer.step() > 0) {
            System.out.println("Resuming from step " + trainer.step());
        }
        long firstStep = trainer.step();
        long trainStart = System.nanoTime();
        trainer.run(steps);
        double tokensPerSecond = (trainer.step() - firstStep) * BATCH / ((System.nanoTime() - trainStart) / 1e9);
        System.out.printf(Locale.ROOT, "%,d tokens trained at %.0f tokens/s (harvesting included)%n",
                (trainer.step() - firstStep) * BATCH, tokensPerSecond);

        NDArray heldOut = data.brown().heldOut(128);
        List<NDArray> evalBatches = new ArrayList<>();
        for (int b = 0; b < 4; b++) {
            evalBatches.add(heldOut.get(b * 32 + ":" + (b + 1) * 32));
        }
        try (Sae sae = trainer.sae()) {
            SaeEvaluation eval = SaeEvaluation.of(model, sae, evalBatches, true);
            System.out.println(eval);
            Map<String, Object> about = new LinkedHashMap<>();
            about.put("command", "./loupe train " + NAME + " --tokens " + tokens + " --seed " + seed);
            about.put("seed", seed);
            about.put("model", "tutorials/models/" + IoiOrganism.NAME);
            about.put("hook", HOOK);
            about.put("architecture", "topk k=" + K + ", d_sae " + D_SAE);
            about.put("tokens", steps * BATCH);
            about.put("batch", BATCH);
            about.put("lr", LR + ", warm-up " + steps / 20 + " steps, linear decay over the last " + steps / 5);
            about.put("activation_scale_folded", trainer.activationScale());
            about.put("tokens_per_second", Math.round(tokensPerSecond));
            about.put("wall_seconds", Math.round((System.nanoTime() - start) / 1e9));
            about.put("data", "IoiOrganism.trainingData(seed): Brown corpus windows of " + IoiOrganism.CTX
                    + " tokens, half the rows IOI sentences; position 0 left out");
            about.put("evaluation", "held-out Brown tail, " + evalBatches.size() * 32 + " windows of " + IoiOrganism.CTX
                    + " tokens (reconstruction metrics without position 0); dense = firing on more than "
                    + (int) (100 * SaeEvaluation.DENSE) + "% of tokens");
            about.put("final", eval.metrics());
            var gson = new com.google.gson.GsonBuilder().setPrettyPrinting().disableHtmlEscaping().create();
            Path target = out;
            AtomicFolder.write(target, dir -> {
                for (String file : List.of("cfg.json", "sae_weights.safetensors")) {
                    Files.copy(Path.of("target/train").resolve(target.getFileName()).resolve(file), dir.resolve(file));
                }
                trainer.log().sampled(10).writeCsv(dir.resolve("metrics.csv"));
                Files.writeString(dir.resolve("training.json"), gson.toJson(about) + "\n", StandardCharsets.UTF_8);
            });
            System.out.println("Published " + out.toAbsolutePath());
        }
    }
}
