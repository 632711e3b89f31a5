package dev.loupe.spark;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** A command's {@code --name value} options: each name checked against those the command takes, each value parsed on use. */
final class Options {

    private final String command;
    private final Map<String, String> values = new LinkedHashMap<>();

    Options(String command, String[] args, Set<String> known) {
        this.command = command;
        for (int i = 0; i < args.length; i++) {
            String name = args[i].startsWith("--") ? args[i].substring(2) : null;
            if (name == null || !known.contains(name)) {
                throw new UsageException(command + ": unknown option '" + args[i] + "'; it takes --" + String.join(", --", known));
            }
            if (i + 1 == args.length) {
                throw new UsageException(command + ": --" + name + " needs a value");
            }
            values.put(name, args[++i]);
        }
    }

    boolean has(String name) {
        return values.containsKey(name);
    }

    String get(String name, String otherwise) {
        return values.getOrDefault(name, otherwise);
    }

    String required(String name) {
        String v = values.get(name);
        if (v == null) {
            throw new UsageException(command + ": --" + name + " is required");
        }
        return v;
    }

    int integer(String name, int otherwise) {
        String v = values.get(name);
        try {
            return v == null ? otherwise : Integer.parseInt(v.replace("_", "").replace(",", ""));
        } catch (NumberFormatException e) {
            throw new UsageException(command + ": --" + name + " is a whole number; got '" + v + "'");
        }
    }

    /** A comma-separated list; empty if not given. */
    List<String> list(String name) {
        String v = values.get(name);
        return v == null ? List.of() : new ArrayList<>(Arrays.asList(v.split(",")));
    }

    /** A wrong command line: the message says what was expected and what came. */
    static final class UsageException extends IllegalArgumentException {
        UsageException(String message) {
            super(message);
        }
    }
}
