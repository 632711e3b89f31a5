package dev.loupe.sae;

import ai.djl.ndarray.types.DataType;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * An .npy header: the Python dict literal {@code {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }}, read
 * by a parser of literals (strings, True/False/None, whole numbers, tuples, lists, dicts), never by evaluating it.
 */
record NpyHeader(DataType type, int itemSize, boolean bigEndian, boolean fortranOrder, long[] shape) {

    private static final int MAX_DEPTH = 8;

    /** Elements in the array; -1 if their number overflows a long. */
    long elements() {
        long n = 1;
        for (long d : shape) {
            if (d != 0 && n > Long.MAX_VALUE / d / itemSize) {
                return -1;
            }
            n *= d;
        }
        return n;
    }

    String shapeText() {
        return Arrays.toString(shape);
    }

    static NpyHeader parse(String where, String text) {
        Object parsed;
        try {
            Literal literal = new Literal(text);
            parsed = literal.value(0);
            literal.end();
        } catch (IllegalStateException e) {
            throw new SaeFormatException(where, "header", "a Python dict literal", e.getMessage());
        }
        if (!(parsed instanceof Map<?, ?> dict) || !dict.keySet().equals(Set.of("descr", "fortran_order", "shape"))) {
            throw new SaeFormatException(where, "header", "a dict of exactly 'descr', 'fortran_order' and 'shape'",
                    shorten(text));
        }
        Object descr = dict.get("descr");
        if (!(descr instanceof String d)) {
            throw new SaeFormatException(where, "descr", "a float type such as '<f4'", shorten(String.valueOf(descr))
                    + " (a structured array)");
        }
        if (d.contains("O")) {
            throw new SaeFormatException(where, "descr", "a float type such as '<f4'", "'" + d + "', an object array,"
                    + " which numpy stores pickled; Loupe never unpickles (it can run code)");
        }
        if (d.length() != 3 || (d.charAt(0) != '<' && d.charAt(0) != '>') || d.charAt(1) != 'f'
                || "248".indexOf(d.charAt(2)) < 0) {
            throw new SaeFormatException(where, "descr", "'<f2', '<f4' or '<f8' (or big-endian '>')", "'" + d + "'");
        }
        if (!(dict.get("fortran_order") instanceof Boolean fortran)) {
            throw new SaeFormatException(where, "fortran_order", "True or False", String.valueOf(dict.get("fortran_order")));
        }
        if (!(dict.get("shape") instanceof List<?> dims) || !dims.stream().allMatch(x -> x instanceof Long l && l >= 0)) {
            throw new SaeFormatException(where, "shape", "a tuple of whole numbers of at least 0",
                    shorten(String.valueOf(dict.get("shape"))));
        }
        long[] shape = dims.stream().mapToLong(x -> (Long) x).toArray();
        int size = d.charAt(2) - '0';
        DataType type = size == 2 ? DataType.FLOAT16 : size == 4 ? DataType.FLOAT32 : DataType.FLOAT64;
        return new NpyHeader(type, size, d.charAt(0) == '>', fortran, shape);
    }

    private static String shorten(String s) {
        return s.length() > 80 ? s.substring(0, 80) + "..." : s;
    }

    /** A recursive-descent reader of Python literals; errors are IllegalStateExceptions saying where and what. */
    private static final class Literal {
        private final String s;
        private int i;

        Literal(String s) {
            this.s = s;
        }

        Object value(int depth) {
            if (depth > MAX_DEPTH) {
                throw new IllegalStateException("nested deeper than " + MAX_DEPTH + " at character " + i);
            }
            skipSpace();
            if (i >= s.length()) {
                throw new IllegalStateException("it ends where a value should be");
            }
            char c = s.charAt(i);
            if (c == '{') {
                i++;
                Map<Object, Object> map = new LinkedHashMap<>();
                while (!closes('}')) {
                    Object key = value(depth + 1);
                    expect(':');
                    if (map.put(key, value(depth + 1)) != null) {
                        throw new IllegalStateException("key " + key + " appears twice");
                    }
                    separator('}');
                }
                return map;
            }
            if (c == '(' || c == '[') {
                char close = c == '(' ? ')' : ']';
                i++;
                List<Object> items = new ArrayList<>();
                while (!closes(close)) {
                    items.add(value(depth + 1));
                    separator(close);
                }
                return items;
            }
            if (c == '\'' || c == '"') {
                int end = s.indexOf(c, i + 1);
                if (end < 0 || s.substring(i + 1, end).contains("\\")) {
                    throw new IllegalStateException("an unterminated or escaped string at character " + i);
                }
                String str = s.substring(i + 1, end);
                i = end + 1;
                return str;
            }
            for (String word : new String[] {"True", "False", "None"}) {
                if (s.startsWith(word, i)) {
                    i += word.length();
                    return word.equals("None") ? null : (Object) word.equals("True");
                }
            }
            int start = i;
            while (i < s.length() && Character.isDigit(s.charAt(i)) && i - start < 18) {
                i++;
            }
            if (i == start) {
                throw new IllegalStateException("'" + c + "' at character " + i + " begins no value");
            }
            long number = Long.parseLong(s.substring(start, i));
            if (i < s.length() && s.charAt(i) == 'L') { // Python 2 wrote long integers with a suffix
                i++;
            }
            return number;
        }

        private boolean closes(char close) {
            skipSpace();
            if (i < s.length() && s.charAt(i) == close) {
                i++;
                return true;
            }
            return false;
        }

        private void separator(char close) {
            skipSpace();
            if (i < s.length() && s.charAt(i) == ',') {
                i++;
            } else if (i >= s.length() || s.charAt(i) != close) {
                throw new IllegalStateException("expected ',' or '" + close + "' at character " + i);
            }
        }

        private void expect(char c) {
            skipSpace();
            if (i >= s.length() || s.charAt(i) != c) {
                throw new IllegalStateException("expected '" + c + "' at character " + i);
            }
            i++;
        }

        private void skipSpace() {
            while (i < s.length() && Character.isWhitespace(s.charAt(i))) {
                i++;
            }
        }

        void end() {
            skipSpace();
            if (i < s.length()) {
                throw new IllegalStateException("more after the dict at character " + i);
            }
        }
    }
}
