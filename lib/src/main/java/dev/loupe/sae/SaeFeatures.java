package dev.loupe.sae;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

/** An SAE's features as {@link Units}: the SAE encodes what it reads at its hook point. */
final class SaeFeatures implements Units {

    private final Sae sae;

    SaeFeatures(Sae sae) {
        this.sae = sae;
    }

    @Override
    public String hookName() { return sae.hookName(); }

    @Override
    public int count() { return sae.dSae(); }

    @Override
    public String name(int i) { return "feature " + i; }

    @Override
    public boolean positiveOnly() { return true; }

    @Override
    public Sae sae() { return sae; }

    @Override
    public NDArray read(NDArray x) {
        Shape s = x.getShape();
        long width = s.dimension() == 4 ? s.get(2) * s.get(3) : s.get(s.dimension() - 1);
        if (width != sae.dIn()) {
            throw new IllegalArgumentException("The SAE reads " + sae.hookName() + " with d_in " + sae.dIn()
                    + " (its cfg.json), but the model's activation there is " + s + ", " + width + " wide");
        }
        // hook_z [batch, pos, head, d_head] is read as [batch, pos, head × d_head], as the splice reads it.
        return sae.encode(s.dimension() == 4 && s.get(2) * s.get(3) == sae.dIn() ? Units.flat(x) : x);
    }

    @Override
    public String toString() {
        return "SAE features of " + sae.hookName() + " (d_sae " + sae.dSae() + ")";
    }
}
