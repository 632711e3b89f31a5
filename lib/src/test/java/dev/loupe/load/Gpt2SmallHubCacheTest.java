package dev.loupe.load;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

import dev.loupe.model.HookedTransformer;
import dev.loupe.model.ModelConfig;
import dev.loupe.model.Pretrained;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The GPT-2-small-shaped hub cache ({@link Gpt2SmallHubCache}), written once and loaded once through
 * {@code fromPretrained("gpt2")} from an offline hub on it: the hub's layout, GPT-2 small's config and tokens, the tied
 * unembedding, logits equal to a plain-Java forward over the fixture's own draws, and the checkpoint it names.
 */
class Gpt2SmallHubCacheTest {

    @TempDir
    static Path tmp;

    private static Path snapshot;
    private static HookedTransformer model;

    @BeforeAll
    static void writeAndLoad() throws IOException {
        Path cache = tmp.resolve("hub");
        snapshot = Gpt2SmallHubCache.write(cache);
        model = Pretrained.fromPretrained("gpt2", LoadOptions.noProcessing(), new Hub(cache, null, null, true, Progress.none()));
    }

    @AfterAll
    static void free() {
        model.close();
    }

    @Test
    void theCacheHasTheHubsLayout() throws IOException {
        Path repo = tmp.resolve("hub/models--openai-community--gpt2");
        String commit = Files.readString(repo.resolve("refs/main"));
        assertTrue(commit.matches("[0-9a-f]{40}"), commit);
        assertEquals(repo.resolve("snapshots").resolve(commit), snapshot);
        List<String> files = List.of("config.json", "merges.txt", "model.safetensors", "tokenizer.json",
                "tokenizer_config.json", "vocab.json");
        try (var listed = Files.list(snapshot)) {
            assertEquals(files, listed.map(p -> p.getFileName().toString()).sorted().toList());
        }
        for (String file : files) {
            Path pointer = snapshot.resolve(file);
            assertTrue(Files.isSymbolicLink(pointer), file + " is a link");
            Path target = Files.readSymbolicLink(pointer);
            assertEquals("../../blobs", target.getParent().toString(), file);
            String expected = file.equals("model.safetensors") ? sha256(pointer) : FakeHub.gitBlobId(Files.readAllBytes(pointer));
            assertEquals(expected, target.getFileName().toString(), file + "'s blob name");
        }
    }

    @Test
    void loadsAsGpt2SmallWithItsTokenizerAndTiedUnembedding() {
        ModelConfig c = model.config();
        assertEquals(List.of(12, 768, 12, 64, 3072, 50257, 1024), List.of(c.nLayers(), c.dModel(), c.nHeads(), c.dHead(),
                c.dMlp(), c.dVocab(), c.nCtx()));
        assertEquals(ModelConfig.ActFn.GELU_NEW, c.actFn());
        assertEquals(1e-5, c.eps());
        assertEquals(List.of("<|endoftext|>", "When", " John", " and", " Mary", " went", " to", " the", " shops", ","),
                model.toStrTokens("When John and Mary went to the shops,"));
        assertArrayEquals(model.W_E().transpose().toFloatArray(), model.W_U().toFloatArray());
    }

    @Test
    void logitsEqualAPlainJavaForwardOverTheFixturesDraws() {
        NDArray tokens = model.toTokens("When John and Mary");
        int[] ids = tokens.toType(DataType.INT32, false).toIntArray();
        float[] logits = model.forward(tokens).toFloatArray();
        double[][] expected = plainForward(ids);
        int vocab = Gpt2SmallHubCache.VOCAB;
        for (int t = 0; t < ids.length; t++) {
            for (int v = 0; v < vocab; v++) {
                double got = logits[t * vocab + v];
                if (Math.abs(got - expected[t][v]) > 1e-4) {
                    throw new AssertionError("logit of token " + v + " at position " + t + ": " + got + ", expected " + expected[t][v]);
                }
            }
        }
    }

    @Test
    void theCheckpointNamesTheRepositoryTheSnapshotAndTheWeightsSha256() throws IOException {
        Checkpoint expected = new Checkpoint("openai-community/gpt2", snapshot.getFileName().toString(),
                Map.of("model.safetensors", sha256(snapshot.resolve("model.safetensors"))));
        assertEquals(expected, model.checkpoint().orElseThrow());
        assertTrue(model.checkpoint().orElseThrow().toString().contains(expected.sha256().get("model.safetensors")));
        assertTrue(HookedTransformer.create(model.config().toBuilder().nLayers(1).dVocab(10).nCtx(8).build()).checkpoint().isEmpty());
    }

    @Test
    void aBundledModelsCheckpointIsItsFolderAndItsWeightsHashed() throws IOException {
        Checkpoint bundled = HookedTransformer.fromPretrained("loupe/ioi-organism").checkpoint().orElseThrow();
        Path folder = BundledModels.folder("ioi-organism");
        assertEquals(new Checkpoint(folder.toString(), null, Map.of("model.safetensors", sha256(folder.resolve("model.safetensors")))),
                bundled);
    }

    private static String sha256(Path file) throws IOException {
        try (DigestInputStream in = new DigestInputStream(Files.newInputStream(file), MessageDigest.getInstance("SHA-256"))) {
            in.transferTo(OutputStream.nullOutputStream());
            return HexFormat.of().formatHex(in.getMessageDigest().digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * GPT-2's forward in plain Java, in double precision, on the weights as the fixture draws them (not as any file
     * holds them): the logits at every position.
     */
    private static double[][] plainForward(int[] ids) {
        Map<String, Gpt2SmallHubCache.Tensor> byName = Gpt2SmallHubCache.tensors().stream()
                .collect(Collectors.toMap(Gpt2SmallHubCache.Tensor::name, Function.identity()));
        Function<String, float[]> w = name -> byName.get(name).values().all();
        int d = Gpt2SmallHubCache.D_MODEL;
        int heads = 12;
        int dHead = d / heads;
        int n = ids.length;
        float[] wte = w.apply("wte.weight");
        float[] wpe = w.apply("wpe.weight");
        double[][] x = new double[n][d];
        for (int t = 0; t < n; t++) {
            for (int i = 0; i < d; i++) {
                x[t][i] = wte[ids[t] * d + i] + wpe[t * d + i];
            }
        }
        for (int l = 0; l < Gpt2SmallHubCache.LAYERS; l++) {
            String h = "h." + l + ".";
            double[][] qkv = linear(layerNorm(x, w.apply(h + "ln_1.weight"), w.apply(h + "ln_1.bias")),
                    w.apply(h + "attn.c_attn.weight"), w.apply(h + "attn.c_attn.bias"));
            double[][] z = new double[n][d];
            for (int head = 0; head < heads; head++) {
                int q0 = head * dHead;
                int k0 = d + head * dHead;
                int v0 = 2 * d + head * dHead;
                for (int q = 0; q < n; q++) {
                    double[] p = new double[q + 1];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int k = 0; k <= q; k++) {
                        for (int j = 0; j < dHead; j++) {
                            p[k] += qkv[q][q0 + j] * qkv[k][k0 + j];
                        }
                        p[k] /= Math.sqrt(dHead);
                        max = Math.max(max, p[k]);
                    }
                    double sum = 0;
                    for (int k = 0; k <= q; k++) {
                        p[k] = Math.exp(p[k] - max);
                        sum += p[k];
                    }
                    for (int k = 0; k <= q; k++) {
                        for (int j = 0; j < dHead; j++) {
                            z[q][q0 + j] += p[k] / sum * qkv[k][v0 + j];
                        }
                    }
                }
            }
            add(x, linear(z, w.apply(h + "attn.c_proj.weight"), w.apply(h + "attn.c_proj.bias")));
            double[][] hidden = linear(layerNorm(x, w.apply(h + "ln_2.weight"), w.apply(h + "ln_2.bias")),
                    w.apply(h + "mlp.c_fc.weight"), w.apply(h + "mlp.c_fc.bias"));
            for (double[] row : hidden) {
                for (int i = 0; i < row.length; i++) {
                    double v = row[i];
                    row[i] = 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v))); // gelu_new
                }
            }
            add(x, linear(hidden, w.apply(h + "mlp.c_proj.weight"), w.apply(h + "mlp.c_proj.bias")));
        }
        double[][] last = layerNorm(x, w.apply("ln_f.weight"), w.apply("ln_f.bias"));
        double[][] logits = new double[n][Gpt2SmallHubCache.VOCAB];
        for (int t = 0; t < n; t++) {
            for (int v = 0; v < logits[t].length; v++) {
                for (int i = 0; i < d; i++) {
                    logits[t][v] += last[t][i] * wte[v * d + i]; // tied: the unembedding is wte transposed
                }
            }
        }
        return logits;
    }

    private static double[][] layerNorm(double[][] x, float[] weight, float[] bias) {
        double[][] out = new double[x.length][];
        for (int t = 0; t < x.length; t++) {
            double mean = 0;
            double var = 0;
            for (double v : x[t]) {
                mean += v / x[t].length;
            }
            for (double v : x[t]) {
                var += (v - mean) * (v - mean) / x[t].length;
            }
            out[t] = new double[x[t].length];
            for (int i = 0; i < x[t].length; i++) {
                out[t][i] = (x[t][i] - mean) / Math.sqrt(var + 1e-5) * weight[i] + bias[i];
            }
        }
        return out;
    }

    /** Conv1D: weight [in, out], row-major. */
    private static double[][] linear(double[][] x, float[] weight, float[] bias) {
        int out = bias.length;
        double[][] y = new double[x.length][out];
        for (int t = 0; t < x.length; t++) {
            for (int i = 0; i < x[t].length; i++) {
                for (int o = 0; o < out; o++) {
                    y[t][o] += x[t][i] * weight[i * out + o];
                }
            }
            for (int o = 0; o < out; o++) {
                y[t][o] += bias[o];
            }
        }
        return y;
    }

    private static void add(double[][] x, double[][] y) {
        for (int t = 0; t < x.length; t++) {
            for (int i = 0; i < x[t].length; i++) {
                x[t][i] += y[t][i];
            }
        }
    }
}
