package dev.loupe.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

import dev.loupe.ReferenceCase;
import dev.loupe.hook.Hook;
import dev.loupe.tensor.Tensors;

import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class GenerateTest {

    private final ReferenceCase ref = ReferenceCase.load("gpt2_like");
    private final HookedTransformer model = ref.model(DataType.FLOAT32);

    @Test
    void greedyPicksTheArgmaxOfEachPrefix() {
        NDArray prompt = Tensors.tokens(3, 14, 15, 92);
        long[] out = model.generate(prompt, GenerateOptions.greedy(6), null).toLongArray();
        assertEquals(10, out.length);
        for (int len = 4; len < out.length; len++) {
            float[] logits = model.forward(Tensors.ofLongs(Arrays.copyOf(out, len), new ai.djl.ndarray.types.Shape(1, len)))
                    .get("0, -1, :").toFloatArray();
            int best = 0;
            for (int v = 1; v < logits.length; v++) {
                if (logits[v] > logits[best]) best = v;
            }
            assertEquals(best, out[len], "token " + len);
        }
    }

    @Test
    void hooksAttachedDuringGenerationSteerIt() {
        int target = 42;
        NDArray direction = model.W_U().get(":, " + target).mul(100); // push the final residual towards token 42
        try (var steering = model.hooks(Hook.of("blocks.1.hook_resid_post", (resid, h) -> resid.add(direction)))) {
            long[] out = model.generate(Tensors.tokens(1, 2, 3), GenerateOptions.greedy(5), null).toLongArray();
            assertArrayEquals(new long[] {42, 42, 42, 42, 42}, Arrays.copyOfRange(out, 3, 8));
        }
    }

    @Test
    void seededSamplingRepeatsAndStopsAtEos() {
        GenerateOptions sampled = GenerateOptions.defaults().maxNewTokens(8).seed(11);
        NDArray prompt = ref.tokens();
        assertArrayEquals(model.generate(prompt, sampled, null).toLongArray(), model.generate(prompt, sampled, null).toLongArray());
        long[] greedy = model.generate(Tensors.tokens(3, 14), GenerateOptions.greedy(8), null).toLongArray();
        int eos = (int) greedy[4]; // the third generated token: stop there
        long[] stopped = model.generate(Tensors.tokens(3, 14), GenerateOptions.greedy(8), eos).toLongArray();
        int firstEos = 2;
        while (stopped[firstEos] != eos) firstEos++;
        assertEquals(firstEos + 1, stopped.length, "ends at the first end-of-text");
    }

    @Test
    void samplerFollowsTheSoftmaxAndItsFilters() {
        double[] logits = {0, Math.log(2), Math.log(3)}; // probabilities 1/6, 2/6, 3/6
        assertFrequencies(new Sampler(GenerateOptions.defaults().seed(1)), logits, new double[] {1 / 6.0, 2 / 6.0, 3 / 6.0});
        assertFrequencies(new Sampler(GenerateOptions.defaults().topK(2).seed(2)), logits, new double[] {0, 0.4, 0.6});
        assertFrequencies(new Sampler(GenerateOptions.defaults().topP(0.5).seed(3)), logits, new double[] {0, 0, 1});
        assertFrequencies(new Sampler(GenerateOptions.defaults().topP(0.8).seed(4)), logits, new double[] {0, 0.4, 0.6});
        // temperature 0.5 squares the odds: 1 : 4 : 9
        assertFrequencies(new Sampler(GenerateOptions.defaults().temperature(0.5).seed(5)), logits,
                new double[] {1 / 14.0, 4 / 14.0, 9 / 14.0});
        assertEquals(2, new Sampler(GenerateOptions.greedy(1)).next(logits));
    }

    private static void assertFrequencies(Sampler sampler, double[] logits, double[] expected) {
        int n = 60_000;
        int[] counts = new int[logits.length];
        for (int i = 0; i < n; i++) {
            counts[sampler.next(logits)]++;
        }
        for (int v = 0; v < logits.length; v++) {
            // binomial standard deviation is at most 0.002 here; 0.01 is five of them
            assertTrue(Math.abs(counts[v] / (double) n - expected[v]) < 0.01,
                    "token " + v + ": " + counts[v] / (double) n + " vs " + expected[v]);
        }
    }

    @Test
    void aKvCacheGivesTheLogitsOfTheFullSequence() {
        for (String name : ReferenceCase.NAMES) {
            ReferenceCase c = ReferenceCase.load(name);
            HookedTransformer m = c.model(DataType.FLOAT64);
            NDArray tokens = c.tokens();
            long pos = tokens.getShape().get(1);
            KvCache cache = m.newKvCache();
            NDArray first = m.forward(tokens.get(":, 0:" + (pos - 2)), cache);
            NDArray next = m.forward(tokens.get(":, " + (pos - 2) + ":" + (pos - 1)), cache);
            NDArray last = m.forward(tokens.get(":, " + (pos - 1) + ":"), cache);
            assertEquals(pos, cache.length());
            NDArray expected = c.expected().get("logits");
            dev.loupe.ReferenceCase.assertClose(expected.get(":, 0:" + (pos - 2)), first, 1e-9, 1e-9, name + " prompt");
            dev.loupe.ReferenceCase.assertClose(expected.get(":, " + (pos - 2) + ":" + (pos - 1)), next, 1e-9, 1e-9, name + " next");
            dev.loupe.ReferenceCase.assertClose(expected.get(":, " + (pos - 1) + ":"), last, 1e-9, 1e-9, name + " last");
        }
    }

    @Test
    void generationPastNCtxKeepsTheLastNCtxTokensAsContext() {
        long[] out = model.generate(Tensors.tokens(new int[30]), GenerateOptions.greedy(6), null).toLongArray(); // n_ctx 32
        assertEquals(36, out.length);
        long[] tail = Arrays.copyOfRange(out, 4, 35); // the 31 tokens before the last, i.e. the context it saw
        float[] logits = model.forward(Tensors.ofLongs(Arrays.copyOfRange(out, 3, 35), new ai.djl.ndarray.types.Shape(1, 32)))
                .get("0, -1, :").toFloatArray();
        int best = 0;
        for (int v = 1; v < logits.length; v++) if (logits[v] > logits[best]) best = v;
        assertEquals(best, out[35], "the last token is the argmax over the last 32 tokens");
        assertTrue(tail.length == 31);
    }
}
