package dev.loupe.sae;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

import dev.loupe.hook.ActNames;
import dev.loupe.load.BundledModels;
import dev.loupe.load.Hub;
import dev.loupe.load.LoadOptions;
import dev.loupe.load.ModelLoadException;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Public SAE releases under the names SAELens gives them ({@code pretrained_saes.yaml}), each SAE id mapped to its
 * folder in a Hugging Face repository: SAELens folders, or Gemma Scope's {@code params.npz}.
 */
public final class SaeReleases {

    /** One SAE: its folder in the repository, and its Neuronpedia id (kept in the metadata, as SAELens does). */
    private record Entry(String path, String neuronpediaId) {}

    private record Release(String repoId, String model, boolean gemmaScope, Map<String, Entry> saes) {}

    private static final Map<String, Release> RELEASES = new LinkedHashMap<>();

    static {
        Map<String, Entry> jb = new LinkedHashMap<>();
        for (int layer = 0; layer < 12; layer++) {
            jb.put("blocks." + layer + ".hook_resid_pre", new Entry("blocks." + layer + ".hook_resid_pre", "gpt2-small/" + layer + "-res-jb"));
        }
        jb.put("blocks.11.hook_resid_post", new Entry("blocks.11.hook_resid_post", "gpt2-small/12-res-jb"));
        RELEASES.put("gpt2-small-res-jb", new Release("jbloom/GPT2-Small-SAEs-Reformatted", "gpt2-small", false, jb));

        Map<String, Entry> res = new LinkedHashMap<>();
        // As SAELens lists it, the embedding SAE's Neuronpedia id says att.
        res.put("blocks.0.hook_resid_pre", new Entry("e-res-sm", "pythia-70m-deduped/e-att-sm"));
        for (int layer = 0; layer < 6; layer++) {
            res.put("blocks." + layer + ".hook_resid_post", new Entry(layer + "-res-sm", "pythia-70m-deduped/" + layer + "-res-sm"));
        }
        RELEASES.put("pythia-70m-deduped-res-sm", new Release("ctigges/pythia-70m-deduped__res-sm_processed",
                "pythia-70m-deduped", false, res));
        RELEASES.put("pythia-70m-deduped-mlp-sm", pythia("mlp", "hook_mlp_out"));
        RELEASES.put("pythia-70m-deduped-att-sm", pythia("att", "hook_attn_out"));

        // layer:width:average L0 of the canonical SAE, whose folder is layer_L/width_W/average_l0_N.
        String canonical = "0:16k:105 1:16k:102 2:16k:141 3:16k:59 4:16k:124 5:16k:68 6:16k:70 7:16k:69 8:16k:71 9:16k:73"
                + " 10:16k:77 11:16k:80 12:16k:82 13:16k:84 14:16k:84 15:16k:78 16:16k:78 17:16k:77 18:16k:74 19:16k:73"
                + " 20:16k:71 21:16k:70 22:16k:72 23:16k:75 24:16k:73 25:16k:116 5:1m:114 12:1m:107 19:1m:88 12:262k:121"
                + " 12:32k:76 12:524k:115 0:65k:73 1:65k:121 2:65k:77 3:65k:89 4:65k:89 5:65k:105 6:65k:107 7:65k:107"
                + " 8:65k:111 9:65k:118 10:65k:128 11:65k:70 12:65k:72 13:65k:75 14:65k:73 15:65k:127 16:65k:128"
                + " 17:65k:125 18:65k:116 19:65k:115 20:65k:114 21:65k:111 22:65k:116 23:65k:123 24:65k:124 25:65k:93";
        Map<String, Entry> gemma = new LinkedHashMap<>();
        for (String entry : canonical.split(" ")) {
            String[] f = entry.split(":");
            String dir = "layer_" + f[0] + "/width_" + f[1];
            gemma.put(dir + "/canonical", new Entry(dir + "/average_l0_" + f[2], "gemma-2-2b/" + f[0] + "-gemmascope-res-" + f[1]));
        }
        RELEASES.put("gemma-scope-2b-pt-res-canonical", new Release("google/gemma-scope-2b-pt-res", "gemma-2-2b", true, gemma));
    }

    private static Release pythia(String site, String hook) {
        Map<String, Entry> saes = new LinkedHashMap<>();
        for (int layer = 0; layer < 6; layer++) {
            saes.put("blocks." + layer + "." + hook, new Entry(layer + "-" + site + "-sm", "pythia-70m-deduped/" + layer + "-" + site + "-sm"));
        }
        return new Release("ctigges/pythia-70m-deduped__" + site + "-sm_processed", "pythia-70m-deduped", false, saes);
    }

    /** Gemma Scope's widths, as its folder names spell them. */
    private static final Map<String, Integer> WIDTHS = Map.of("4k", 4096, "16k", 16384, "32k", 32768, "65k", 65536,
            "131k", 131072, "262k", 262144, "524k", 524288, "1m", 1048576);
    private static final Pattern GEMMA_PATH = Pattern.compile("layer_(\\d+)/width_(\\w+)/.*");

    private SaeReleases() {}

    /** The release names, in the order SAELens lists them here. */
    public static List<String> releases() {
        return List.copyOf(RELEASES.keySet());
    }

    /** SAEs Loupe trained on its own models, in the library: release {@code loupe}, no download. */
    public static final List<String> LOUPE_SAES = List.of("sae-ioi-organism");

    /** A release's SAE ids. */
    public static List<String> ids(String release) {
        return release.equals("loupe") ? LOUPE_SAES : List.copyOf(release(release).saes().keySet());
    }

    /** The Hugging Face repository a release downloads from. */
    public static String repoId(String release) {
        return release(release).repoId();
    }

    static Sae fromPretrained(String release, String saeId, LoadOptions options) {
        try {
            return fromPretrained(release, saeId, options, Hub.fromEnvironment());
        } catch (IOException e) {
            throw new ModelLoadException(e.getMessage(), e);
        }
    }

    /** As {@link Sae#fromPretrained(String, String, LoadOptions)}, through this hub (its cache, endpoint and progress). */
    public static Sae fromPretrained(String release, String saeId, LoadOptions options, Hub hub) throws IOException {
        if (release.equals("loupe") && LOUPE_SAES.contains(saeId)) {
            return SaeFolder.read(BundledModels.folder(saeId), options.dtype(), Map.of());
        }
        Release r = release(release);
        Entry entry = r.saes().get(saeId);
        if (entry == null) {
            throw new IllegalArgumentException("Release " + release + " has no SAE '" + saeId + "'. Closest: "
                    + String.join(", ", ActNames.closest(saeId, r.saes().keySet(), 3)) + " (" + r.saes().size()
                    + " in all: SaeReleases.ids(\"" + release + "\")).");
        }
        DataType type = options.dtype();
        SaeFolder.checkType(type);
        Map<String, Object> metadata = new LinkedHashMap<>();
        metadata.put("neuronpedia_id", entry.neuronpediaId());
        if (release.equals("gpt2-small-res-jb")) { // SAELens's override: trained on a model with centred writing weights
            metadata.put("model_from_pretrained_kwargs", Map.of("center_writing_weights", true));
        }
        if (r.gemmaScope()) {
            String npz = entry.path() + "/params.npz";
            Path dir = hub.snapshot(r.repoId(), options.revision(), List.of(npz), List.of());
            return gemmaScope(dir.resolve(npz), entry.path(), r.model(), type, metadata);
        }
        String cfg = entry.path() + "/" + SaeCfgJson.FILE;
        String weights = entry.path() + "/" + SaeFolder.WEIGHTS;
        Path dir = hub.snapshot(r.repoId(), options.revision(), List.of(cfg, weights),
                List.of(entry.path() + "/" + SaeFolder.SPARSITY));
        return SaeFolder.read(dir.resolve(entry.path()), type, metadata);
    }

    /**
     * A Gemma Scope residual SAE: JumpReLU on {@code blocks.L.hook_resid_post} of the layer in its path, b_dec not
     * subtracted from the input, sizes from W_enc's shape (checked against the width in its path), as SAELens's Gemma
     * Scope loader configures it.
     */
    private static Sae gemmaScope(Path npz, String path, String model, DataType type, Map<String, Object> more)
            throws IOException {
        Matcher m = GEMMA_PATH.matcher(path);
        if (!m.matches() || !WIDTHS.containsKey(m.group(2))) {
            throw new IllegalStateException("Gemma Scope path without layer and width: " + path);
        }
        Map<String, NDArray> arrays = new LinkedHashMap<>();
        NumpyArchive.read(npz).forEach((name, a) -> arrays.put(name.startsWith("w_") ? "W_" + name.substring(2) : name, a));
        NDArray wEnc = arrays.get("W_enc");
        if (wEnc == null || wEnc.getShape().dimension() != 2 || wEnc.getShape().get(1) != WIDTHS.get(m.group(2))) {
            arrays.values().forEach(NDArray::close);
            throw new SaeFormatException(npz.toString(), "W_enc", "a [d_in, " + WIDTHS.get(m.group(2)) + "] array (width "
                    + m.group(2) + ")", wEnc == null ? "none; it has " + arrays.keySet() : "shape " + wEnc.getShape());
        }
        int dIn = (int) wEnc.getShape().get(0);
        Map<String, Object> metadata = new LinkedHashMap<>(more);
        metadata.put("hook_head_index", null);
        metadata.put("prepend_bos", true);
        metadata.put("dataset_path", "monology/pile-uncopyrighted");
        metadata.put("context_size", 1024L);
        String hook = "blocks." + m.group(1) + ".hook_resid_post";
        SaeConfig cfg = new SaeConfig(SaeConfig.Architecture.JUMPRELU, SaeConfig.Kind.SAE, dIn, WIDTHS.get(m.group(2)), dIn,
                hook, hook, model, 0, false, SaeConfig.Normalization.NONE, false, metadata);
        return SaeFolder.fromTensors(npz.toString(), cfg, arrays, type);
    }

    private static Release release(String name) {
        Release r = RELEASES.get(name);
        if (r == null) {
            throw new IllegalArgumentException("Unknown SAE release '" + name + "'. Closest: "
                    + String.join(", ", ActNames.closest(name, RELEASES.keySet(), 3)) + ". Known: "
                    + String.join(", ", RELEASES.keySet()) + ".");
        }
        return r;
    }
}
