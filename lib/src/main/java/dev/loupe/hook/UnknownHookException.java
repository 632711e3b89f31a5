package dev.loupe.hook;

import java.util.List;

/** A hook name that is not a hook point of the model, with the closest names it has. */
public final class UnknownHookException extends IllegalArgumentException {
    public UnknownHookException(String name, List<String> closest, int total, String hint) {
        super("No hook point named '" + name + "'." + hint + " Closest of the model's " + total + ": "
                + String.join(", ", closest) + ". See model.hookNames() for all.");
    }
}
