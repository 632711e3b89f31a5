package dev.loupe.hook;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Hook point names, and the short forms TransformerLens's {@code utils.get_act_name} accepts:
 * {@code ("pattern", 1)} is {@code blocks.1.attn.hook_pattern}, {@code ("k", 6, "a")} is
 * {@code blocks.6.attn.hook_k}, {@code "pre5"} is {@code blocks.5.mlp.hook_pre}, {@code "scale4ln1"} is
 * {@code blocks.4.ln1.hook_scale}, and {@code "scale"} alone is {@code ln_final.hook_scale}.
 */
public final class ActNames {

    private static final Map<String, String> NAME_ALIASES = Map.of(
            "attn", "pattern", "attn_logits", "attn_scores", "key", "k", "query", "q", "value", "v",
            "mlp_pre", "pre", "mlp_mid", "mid", "mlp_post", "post");
    private static final Map<String, String> LAYER_TYPE_ALIASES = Map.of(
            "a", "attn", "m", "mlp", "b", "", "block", "", "blocks", "", "attention", "attn");
    private static final Set<String> ATTN = Set.of("k", "v", "q", "z", "rot_k", "rot_q", "result", "pattern", "attn_scores");
    private static final Set<String> MLP = Set.of("pre", "post", "mid", "pre_linear");
    private static final Set<String> LAYER_NORM = Set.of("scale", "normalized");
    private static final Pattern COMPACT = Pattern.compile("([a-z_]+)(\\d+)([a-z]?.*)");
    private static final Pattern LAYER = Pattern.compile("^blocks\\.(\\d+)\\.");

    private ActNames() {}

    /** The full hook name for a short name; a name that is already full is returned unchanged. */
    public static String actName(String name) {
        return actName(name, null, null);
    }

    public static String actName(String name, int layer) {
        return actName(name, layer, null);
    }

    /** As TransformerLens's {@code get_act_name(name, layer, layer_type)}; {@code layer} may be null. */
    public static String actName(String name, Integer layer, String layerType) {
        if ((name.contains(".") || name.startsWith("hook_")) && layer == null && layerType == null) {
            return name;
        }
        Matcher compact = COMPACT.matcher(name);
        if (layer == null && compact.matches()) {
            name = compact.group(1);
            layer = Integer.parseInt(compact.group(2));
            layerType = compact.group(3).isEmpty() ? null : compact.group(3);
        }
        name = NAME_ALIASES.getOrDefault(name, name);
        StringBuilder full = new StringBuilder();
        if (layer != null) {
            full.append("blocks.").append(layer).append('.');
        }
        if (ATTN.contains(name)) {
            layerType = "attn";
        } else if (MLP.contains(name)) {
            layerType = "mlp";
        } else if (layerType != null) {
            layerType = LAYER_TYPE_ALIASES.getOrDefault(layerType, layerType);
        }
        if (layerType != null && !layerType.isEmpty()) {
            full.append(layerType).append('.');
        }
        full.append("hook_").append(name);
        if (LAYER_NORM.contains(name) && layer == null) {
            return "ln_final." + full;
        }
        return full.toString();
    }

    /** The block index in a full hook name, or -1 for names outside the blocks. */
    public static int layerOf(String fullName) {
        Matcher m = LAYER.matcher(fullName);
        return m.find() ? Integer.parseInt(m.group(1)) : -1;
    }

    /**
     * The least {@code stopAtLayer} of a run that reaches this hook point, i.e. how many blocks must run before its value
     * is known: l for {@code blocks.l.hook_resid_pre} (the residual stream blocks 0..l-1 hand on), l + 1 for the rest of
     * block l, 0 for the embeddings, none for the hook points after the blocks ({@code ln_final.*}), which only a whole
     * forward pass reaches. A hook point spliced in under another ({@code <hook>.hook_sae_acts_post}) goes with it.
     */
    public static OptionalInt stopAtLayerFor(String fullName) {
        int layer = layerOf(fullName);
        if (layer < 0) {
            return fullName.startsWith("hook_") ? OptionalInt.of(0) : OptionalInt.empty();
        }
        String residPre = actName("resid_pre", layer);
        return OptionalInt.of(fullName.equals(residPre) || fullName.startsWith(residPre + ".") ? layer : layer + 1);
    }

    /**
     * " The model has 2 layers (0 to 1)." when {@code name} names a block past the last of {@code known} hook names;
     * otherwise "". The closest names alone would not say why {@code blocks.5...} is missing from a 2-layer model.
     */
    public static String layerHint(String name, Iterable<String> known) {
        int layers = 0;
        for (String k : known) {
            layers = Math.max(layers, layerOf(k) + 1);
        }
        int layer = layerOf(name);
        return layer >= layers && layers > 0
                ? " The model has " + layers + (layers == 1 ? " layer (0)." : " layers (0 to " + (layers - 1) + ").") : "";
    }

    /** Up to {@code n} of {@code candidates} closest to {@code name} by edit distance, closest first. */
    public static List<String> closest(String name, Iterable<String> candidates, int n) {
        List<String> all = new ArrayList<>();
        candidates.forEach(all::add);
        all.sort(Comparator.comparingInt((String c) -> editDistance(name, c)).thenComparing(c -> c));
        return all.subList(0, Math.min(n, all.size()));
    }

    static int editDistance(String a, String b) {
        int[] previous = new int[b.length() + 1];
        int[] current = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            previous[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            current[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int substitute = previous[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
                current[j] = Math.min(substitute, Math.min(previous[j], current[j - 1]) + 1);
            }
            int[] swap = previous;
            previous = current;
            current = swap;
        }
        return previous[b.length()];
    }
}
