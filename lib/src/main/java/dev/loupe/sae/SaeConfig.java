package dev.loupe.sae;

import java.util.Arrays;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * What an SAE or transcoder is, in SAELens's terms: its architecture, sizes, the hook point(s) it belongs to and how
 * its input is prepared. {@code cfg.json} in a SAELens folder holds the same fields.
 *
 * @param architecture     how features are activated: ReLU, TopK, BatchTopK (TopK per token at inference), JumpReLU
 * @param kind             an SAE (reads and replaces one activation), a transcoder (reads one, replaces another), or
 *                         a skip transcoder (a transcoder plus a linear skip path {@code W_skip})
 * @param dIn              width of the activation it reads (for {@code hook_z}: heads × d_head)
 * @param dSae             number of features
 * @param dOut             width of what it writes: {@code dIn} for an SAE
 * @param hookName         the model hook point it reads, e.g. {@code blocks.8.hook_resid_pre}
 * @param hookNameOut      the hook point whose activation it replaces: {@code hookName} for an SAE
 * @param modelName        the model it was trained on (informational)
 * @param k                features kept per token by TopK and BatchTopK; 0 otherwise
 * @param applyBDecToInput subtract {@code b_dec} from the input before encoding (SAEs only)
 * @param normalization    run-time normalisation of the input, undone on the output
 * @param rescaleByDecoderNorm TopK chooses among pre-activations times their decoder rows' norms
 * @param metadata         the rest of cfg.json (context size, dataset, neuronpedia id, ...), kept for saving
 */
public record SaeConfig(Architecture architecture, Kind kind, int dIn, int dSae, int dOut, String hookName,
                        String hookNameOut, String modelName, int k, boolean applyBDecToInput,
                        Normalization normalization, boolean rescaleByDecoderNorm, Map<String, Object> metadata) {

    /** How pre-activations become feature activations. */
    public enum Architecture {
        STANDARD("standard"), TOPK("topk"), BATCHTOPK("batchtopk"), JUMPRELU("jumprelu");

        private final String saeLensName;

        Architecture(String saeLensName) {
            this.saeLensName = saeLensName;
        }

        public String saeLensName() {
            return saeLensName;
        }
    }

    /** What it reads and writes. */
    public enum Kind { SAE, TRANSCODER, SKIP_TRANSCODER }

    /** SAELens's {@code normalize_activations} modes that act at run time. */
    public enum Normalization {
        NONE("none"),
        /** x · √d_in / ‖x‖ on the way in, divided back out on the way out. */
        CONSTANT_NORM_RESCALE("constant_norm_rescale"),
        /** (x − mean) / (std + 1e-5) in, with the unbiased std; times std plus mean out. */
        LAYER_NORM("layer_norm");

        private final String saeLensName;

        Normalization(String saeLensName) {
            this.saeLensName = saeLensName;
        }

        public String saeLensName() {
            return saeLensName;
        }

        public static Normalization of(String name) {
            for (Normalization n : values()) {
                if (n.saeLensName.equals(name)) {
                    return n;
                }
            }
            throw new IllegalArgumentException("normalize_activations must be one of "
                    + Arrays.stream(values()).map(Normalization::saeLensName).toList() + "; got '" + name + "'");
        }
    }

    /** Sizes refused as absurd before any array is made. */
    static final long MAX_PARAMETERS = 1L << 34;

    public SaeConfig {
        if (architecture == null || kind == null) {
            throw new IllegalArgumentException("An SAE needs an architecture and a kind");
        }
        requirePositive("d_in", dIn);
        requirePositive("d_sae", dSae);
        requirePositive("d_out", dOut);
        if ((long) dSae * (dIn + dOut) > MAX_PARAMETERS) {
            throw new IllegalArgumentException("d_sae " + dSae + " with d_in " + dIn + " and d_out " + dOut
                    + " would need " + (long) dSae * (dIn + dOut) + " decoder and encoder parameters; more than "
                    + MAX_PARAMETERS + " is refused as a corrupt size");
        }
        if (hookName == null || hookName.isBlank()) {
            throw new IllegalArgumentException("An SAE needs the hook point it reads (hook_name)");
        }
        if (kind == Kind.SAE) {
            if (hookNameOut != null && !hookNameOut.equals(hookName)) {
                throw new IllegalArgumentException("An SAE replaces the activation it reads (" + hookName
                        + "); hook_name_out " + hookNameOut + " makes it a transcoder");
            }
            if (dOut != dIn) {
                throw new IllegalArgumentException("An SAE writes what it reads: d_out " + dOut + " must equal d_in " + dIn);
            }
            hookNameOut = hookName;
        } else {
            if (hookNameOut == null || hookNameOut.isBlank()) {
                throw new IllegalArgumentException("A transcoder needs the hook point it writes (hook_name_out)");
            }
            if (applyBDecToInput) {
                throw new IllegalArgumentException("A transcoder's b_dec has d_out entries; it cannot be applied to its input");
            }
        }
        boolean topK = architecture == Architecture.TOPK || architecture == Architecture.BATCHTOPK;
        if (topK ? k < 1 || k > dSae : k != 0) {
            throw new IllegalArgumentException(topK ? "k must be between 1 and d_sae " + dSae + "; got " + k
                    : "k is for TopK and BatchTopK SAEs; " + architecture.saeLensName() + " got k " + k);
        }
        if (rescaleByDecoderNorm && !topK) {
            throw new IllegalArgumentException("rescale_acts_by_decoder_norm is for TopK SAEs");
        }
        modelName = modelName == null ? "" : modelName;
        normalization = normalization == null ? Normalization.NONE : normalization;
        metadata = metadata == null ? Map.of() : java.util.Collections.unmodifiableMap(new TreeMap<>(metadata));
    }

    private static void requirePositive(String field, int value) {
        if (value < 1) {
            throw new IllegalArgumentException(field + " must be positive; got " + value);
        }
    }

    /** A ReLU SAE on one hook point, b_dec subtracted from its input, SAELens's defaults otherwise. */
    public static SaeConfig standard(String hookName, int dIn, int dSae) {
        return new SaeConfig(Architecture.STANDARD, Kind.SAE, dIn, dSae, dIn, hookName, hookName, "", 0, true,
                Normalization.NONE, false, Map.of());
    }

    /** A TopK SAE keeping k features per token. */
    public static SaeConfig topK(String hookName, int dIn, int dSae, int k) {
        return standard(hookName, dIn, dSae).withArchitecture(Architecture.TOPK, k);
    }

    /** A transcoder reading {@code hookName} ({@code dIn} wide) and writing {@code hookNameOut} ({@code dOut} wide). */
    public static SaeConfig transcoder(String hookName, int dIn, String hookNameOut, int dOut, int dSae) {
        return new SaeConfig(Architecture.STANDARD, Kind.TRANSCODER, dIn, dSae, dOut, hookName, hookNameOut, "", 0,
                false, Normalization.NONE, false, Map.of());
    }

    public SaeConfig withArchitecture(Architecture a, int k) {
        return new SaeConfig(a, kind, dIn, dSae, dOut, hookName, hookNameOut, modelName, k, applyBDecToInput,
                normalization, rescaleByDecoderNorm && (a == Architecture.TOPK || a == Architecture.BATCHTOPK), metadata);
    }

    /** TopK and BatchTopK choosing among pre-activations times their decoder rows' norms (SAELens trains that way). */
    public SaeConfig withRescaleByDecoderNorm(boolean rescale) {
        return new SaeConfig(architecture, kind, dIn, dSae, dOut, hookName, hookNameOut, modelName, k, applyBDecToInput,
                normalization, rescale, metadata);
    }

    public SaeConfig withModelName(String name) {
        return new SaeConfig(architecture, kind, dIn, dSae, dOut, hookName, hookNameOut, name, k, applyBDecToInput,
                normalization, rescaleByDecoderNorm, metadata);
    }

    public SaeConfig withApplyBDecToInput(boolean apply) {
        return new SaeConfig(architecture, kind, dIn, dSae, dOut, hookName, hookNameOut, modelName, k, apply,
                normalization, rescaleByDecoderNorm, metadata);
    }

    public SaeConfig withNormalization(Normalization n) {
        return new SaeConfig(architecture, kind, dIn, dSae, dOut, hookName, hookNameOut, modelName, k, applyBDecToInput,
                n, rescaleByDecoderNorm, metadata);
    }

    public SaeConfig withMetadata(Map<String, Object> more) {
        return new SaeConfig(architecture, kind, dIn, dSae, dOut, hookName, hookNameOut, modelName, k, applyBDecToInput,
                normalization, rescaleByDecoderNorm, more);
    }

    /** SAELens's architecture name: standard, topk, batchtopk, jumprelu, transcoder, skip_transcoder, jumprelu_transcoder. */
    public String saeLensArchitecture() {
        return switch (kind) {
            case SAE -> architecture.saeLensName();
            case TRANSCODER -> architecture == Architecture.JUMPRELU ? "jumprelu_transcoder" : "transcoder";
            case SKIP_TRANSCODER -> "skip_transcoder";
        };
    }

    /** The SAELens architecture names {@link #saeLensArchitecture} gives and loaders accept. */
    public static final java.util.List<String> SAELENS_ARCHITECTURES = java.util.List.of("standard", "topk",
            "batchtopk", "jumprelu", "transcoder", "skip_transcoder", "jumprelu_transcoder");

    @Override
    public String toString() {
        String what = saeLensArchitecture() + (k > 0 ? " k=" + k : "");
        String where = kind == Kind.SAE ? hookName : hookName + " -> " + hookNameOut;
        return String.format(Locale.ROOT, "SaeConfig(%s, %s, d_in %d, d_sae %d%s)", what, where, dIn, dSae,
                kind == Kind.SAE ? "" : ", d_out " + dOut);
    }
}
