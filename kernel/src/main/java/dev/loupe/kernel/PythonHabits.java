package dev.loupe.kernel;

import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Hints for code that does not compile because it is written as TransformerLens's Python: javac's own messages
 * ("not a statement", "unreachable statement") do not say what the Java is.
 */
final class PythonHabits {

    private static final Pattern TUPLE = Pattern.compile("(?m)^\\s*(\\w+)\\s*,\\s*(\\w+)\\s*=[^=]\\s*(.*?)\\s*;?\\s*$");
    private static final Pattern SUBSCRIPT = Pattern.compile("(\\w+)\\[\\s*(\"[^\"]*\"[^\\]]*|[^\\]\"]*:[^\\]]*)\\]");
    private static final Pattern SNAKE_CALL = Pattern.compile("\\.([a-z]+(?:_[a-z0-9]+)+)\\(");
    private static final Pattern PYTHON_SYNTAX = Pattern.compile("(?m)^\\s*(def|import \\w+ as|from \\w+ import)\\b|\\blambda\\s+\\w*\\s*:");

    private PythonHabits() {}

    /** A hint for the first Python habit in {@code source}, if any. */
    static Optional<String> hint(String source) {
        Matcher m = TUPLE.matcher(source);
        if (m.find()) {
            String call = m.group(3);
            return Optional.of("Java has no tuple assignment. For `" + m.group(1) + ", " + m.group(2) + " = "
                    + call + "` write one variable per value, e.g. `var cache = model.runWithCache(tokens);"
                    + " var logits = cache.logits();`");
        }
        m = SUBSCRIPT.matcher(source);
        if (m.find()) {
            return Optional.of("Java has no [] on objects. `" + m.group(0) + "` is `" + m.group(1) + ".get("
                    + (m.group(2).startsWith("\"") ? m.group(2) : "\"" + m.group(2).strip() + "\"") + ")`"
                    + " (a cache by name and layer, an NDArray by an index string such as \"0, :, -1\").");
        }
        m = SNAKE_CALL.matcher(source);
        if (m.find()) {
            return Optional.of("Loupe's methods are named as TransformerLens's, in camelCase: `" + m.group(1) + "` is `"
                    + camel(m.group(1)) + "`.");
        }
        m = PYTHON_SYNTAX.matcher(source);
        if (m.find()) {
            return Optional.of("This is Python syntax. Functions are lambdas in Java: `(z, hook) -> z.mul(0)`;"
                    + " README's \"Coming from TransformerLens\" table has the common calls.");
        }
        return Optional.empty();
    }

    static String camel(String snake) {
        StringBuilder b = new StringBuilder();
        boolean up = false;
        for (char c : snake.toCharArray()) {
            if (c == '_') {
                up = true;
            } else {
                b.append(up ? Character.toUpperCase(c) : c);
                up = false;
            }
        }
        return b.toString();
    }
}
