package dev.loupe.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

import dev.loupe.model.ModelConfig;
import dev.loupe.tensor.Tensors;

import java.util.Random;

/** The model shapes the benchmarks run (random weights: speed does not depend on them) and their random prompts. */
final class BenchModels {

    private BenchModels() {}

    /** GPT-2 small's shape: 12 layers, d_model 768, 12 heads, d_mlp 3072, GELU-new, LayerNorm. */
    static final ModelConfig GPT2_SMALL = ModelConfig.builder().modelName("gpt2-small-shaped").nLayers(12).dModel(768)
            .nHeads(12).dMlp(3072).dVocab(50257).nCtx(1024).build();

    /** Llama 3.2 1B's published shape (its config.json), untied here: random weights need no tying. */
    static final ModelConfig LLAMA_3_2_1B = ModelConfig.builder().modelName("llama-3.2-1b-shaped").nLayers(16).dModel(2048)
            .nHeads(32).dHead(64).nKeyValueHeads(8).dMlp(8192).dVocab(128256).nCtx(131072)
            .actFn(ModelConfig.ActFn.SILU).normalization(ModelConfig.Normalization.RMS).eps(1e-5)
            .positionalEmbedding(ModelConfig.PositionalEmbedding.ROTARY).rotaryBase(500000)
            .ropeScaling(ModelConfig.RopeScaling.llama3(32, 1, 4, 8192)).gatedMlp(true).initRange(0.02).build();

    /** [batch, pos] token ids drawn uniformly from the vocabulary, the same every run. */
    static NDArray randomTokens(int batch, int pos, int vocab) {
        Random random = new Random(0);
        long[] ids = new long[batch * pos];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = random.nextInt(vocab);
        }
        return Tensors.ofLongs(ids, new Shape(batch, pos));
    }
}
