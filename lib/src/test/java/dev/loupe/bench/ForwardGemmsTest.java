package dev.loupe.bench;

import dev.loupe.model.HookedTransformer;
import dev.loupe.model.ModelConfig;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

class ForwardGemmsTest {

    /** 2 layers, d_model 8, 2 query heads and 1 key/value head of 4, gated MLP of 16, vocabulary 10. */
    private static final ModelConfig TINY = ModelConfig.builder().modelName("tiny-gqa").nLayers(2).dModel(8).nHeads(2).dHead(4)
            .nKeyValueHeads(1).dMlp(16).gatedMlp(true).actFn(ModelConfig.ActFn.SILU).dVocab(10).nCtx(8).build();

    /**
     * By hand, in multiply-adds, for 1 × 3 tokens. Per token and layer: W_Q 8·8 + W_K 8·4 + W_V 8·4 + W_O 8·8 = 192, MLP
     * 3 · 8·16 = 384, so 576. Per layer, attention over both query heads and all 3 × 3 query-key pairs: scores 2·3·3·4 = 72
     * and pattern × values 72. Two layers: 2 · (3 · 576 + 144) = 3,744; unembedding 3 · 8·10 = 240.
     * 3,984 multiply-adds.
     */
    @Test
    void forwardFlopsMatchAHandCount() {
        assertEquals(2 * 3984.0, ForwardGemms.flops(ForwardGemms.forward(TINY, 1, 3, 3)));
        assertEquals(8 * 2 * 3984.0, ForwardGemms.flops(ForwardGemms.forward(TINY, 8, 3, 24))); // each prompt its own
    }

    /**
     * By hand for 2 positions: patch (l, p) runs layers l..1 on positions p..1, query q scoring q + 1 keys (2 heads of 4:
     * 16 multiply-adds a key, scores and values). p = 0: 2 · 576 + 16 · (1 + 2) = 1,200; p = 1: 576 + 16 · 2 = 608. Layer 0's
     * patches run 2 blocks, layer 1's one: (1,200 + 608) · 3 = 5,424; and 4 patches each unembed one position, 80.
     */
    @Test
    void residPreSweepLimitMatchesAHandCount() {
        assertEquals(2 * (5424.0 + 4 * 80), ForwardGemms.residPreSweepLimit(TINY, 2));
    }

    /** Each product's weight is a parameter of the model with k · n entries, and attention's products have none. */
    @Test
    void weightsAreTheModelsParametersOfTheGemmShapes() {
        for (ModelConfig cfg : List.of(TINY, ModelConfig.builder().nLayers(1).dModel(12).nHeads(3).dMlp(20).dVocab(7).nCtx(4).build())) {
            try (HookedTransformer model = HookedTransformer.create(cfg, 0)) {
                for (ForwardGemms.Gemm g : ForwardGemms.forward(cfg, 2, 3, 6)) {
                    if (g.weight() == null) {
                        assertEquals(2L * cfg.nHeads(), g.batch());
                    } else {
                        assertEquals(g.k() * g.n(), model.parameter(g.weight()).size(), g.weight());
                    }
                }
            }
        }
    }

    /** The JSON the peer script writes (bench/peers/forward_torch.py) reads as a report; absent figures stay null. */
    @Test
    void peerJsonReadsAsAReport() {
        String json = """
                {"runtime": "PyTorch 1.13 eager", "threads": 2, "runs": 10, "gemm1024_flops_per_s": 1.9e11,
                 "measures": [{"model": "gpt2", "measure": "forward 1x128", "flops": 3.2e10, "peak_flops_per_s": 1.5e11,
                               "runs": 10, "median_s": 0.3, "min_s": 0.28, "achieved_flops_per_s": 1.07e11,
                               "fraction_of_peak": 0.71, "min_over_median": 0.93}]}""";
        LimitBench.Report r = LimitBench.GSON.fromJson(json, LimitBench.Report.class);
        LimitBench.Measure m = r.measures().get(0);
        assertEquals(1.9e11, r.gemm1024FlopsPerS());
        assertEquals(0.3, m.medianS());
        assertEquals(1.5e11, m.peakFlopsPerS());
        assertNull(m.cacheBytes());
        assertEquals(LimitBench.GSON.toJson(r), LimitBench.GSON.toJson(LimitBench.GSON.fromJson(LimitBench.GSON.toJson(r),
                LimitBench.Report.class)));
    }
}
