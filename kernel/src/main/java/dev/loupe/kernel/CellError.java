package dev.loupe.kernel;

import jdk.jshell.Diag;
import jdk.jshell.EvalException;
import jdk.jshell.JShellException;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;

/**
 * A cell that failed, as Jupyter shows it: a name, a message and the lines of a traceback. Tracebacks speak of the
 * user's cells and lines ("Cell In[3], line 2"), never of JShell's wrapper classes or the kernel's own frames.
 */
final class CellError extends Exception {

    /** Where a snippet's source came from: a cell (or the startup script) and the line it starts on there. */
    record Place(String label, int firstLine) {
        String at(int snippetLine) {
            return label + ", line " + (firstLine + snippetLine - 1);
        }
    }

    private static final String RED = "\u001b[0;31m";
    private static final String BOLD_RED = "\u001b[1;31m";
    private static final String RESET = "\u001b[0m";
    private static final int MAX_FRAMES = 30;
    private static final int MAX_CAUSE_FRAMES = 5;

    private final String name;
    private final List<String> traceback;

    CellError(String name, String message, List<String> traceback) {
        super(message);
        this.name = name;
        this.traceback = List.copyOf(traceback);
    }

    String name() {
        return name;
    }

    List<String> traceback() {
        return traceback;
    }

    static CellError interrupted() {
        return new CellError("Interrupted", "The cell was interrupted.",
                List.of(BOLD_RED + "Interrupted" + RESET + ": the cell was stopped; the kernel is ready for the next one."));
    }

    /** javac's errors for one snippet, each with its line in the cell and a caret under the offending code. */
    static CellError compile(String source, List<Diag> diagnostics, Place place) {
        List<String> lines = new ArrayList<>();
        String first = null;
        for (Diag d : diagnostics) {
            if (!d.isError()) {
                continue;
            }
            String message = message(d);
            first = first == null ? message : first;
            int pos = (int) Math.max(0, Math.min(d.getPosition(), source.length()));
            int lineStart = source.lastIndexOf('\n', pos - 1) + 1;
            int lineEnd = source.indexOf('\n', pos);
            lineEnd = lineEnd < 0 ? source.length() : lineEnd;
            int lineNo = (int) source.substring(0, lineStart).chars().filter(c -> c == '\n').count() + 1;
            long start = Math.max(lineStart, Math.min(d.getStartPosition(), pos));
            long end = Math.max(pos + 1, Math.min(d.getEndPosition(), lineEnd));
            lines.add(BOLD_RED + "Compile error" + RESET + " at " + place.at(lineNo) + ":");
            lines.add("    " + source.substring(lineStart, lineEnd));
            lines.add("    " + " ".repeat((int) (start - lineStart)) + RED + "^".repeat((int) (end - start)) + RESET);
            lines.add(message);
        }
        PythonHabits.hint(source).ifPresent(hint -> lines.add(BOLD_RED + "Hint" + RESET + ": " + hint));
        return new CellError("CompileError", first == null ? "the cell does not compile" : first, lines);
    }

    /** javac's message without the "location: class" line that only names JShell's wrapper. */
    private static String message(Diag d) {
        return unwrapped(d.getMessage(Locale.getDefault()).replaceAll("\\n\\s*location: class\\s*$", ""));
    }

    /** An exception thrown by the user's code, with the frames that say where; causes follow briefly. */
    static CellError thrown(EvalException e, Function<String, Place> places) {
        List<String> lines = new ArrayList<>();
        String className = e.getExceptionClassName();
        String message = e.getMessage() == null ? "" : unwrapped(e.getMessage());
        lines.add(BOLD_RED + className + RESET + (message.isEmpty() ? "" : ": " + message));
        lines.addAll(frames(e.getStackTrace(), places, MAX_FRAMES));
        for (JShellException c = (JShellException) e.getCause(); c != null; c = (JShellException) c.getCause()) {
            String causeName = c instanceof EvalException ee ? ee.getExceptionClassName() : c.getClass().getName();
            lines.add("Caused by: " + causeName + (c.getMessage() == null ? "" : ": " + unwrapped(c.getMessage())));
            lines.addAll(frames(c.getStackTrace(), places, MAX_CAUSE_FRAMES));
        }
        if (className.equals(OutOfMemoryError.class.getName())) {
            lines.add(heapHint());
        }
        return new CellError(simpleName(className), message, lines);
    }

    /** A message with JShell's wrapper classes taken out: "because "s" is null", not "REPL.$JShell$24.s". */
    private static String unwrapped(String message) {
        return message.replaceAll("REPL\\.\\$JShell\\$\\d+[A-Z]*[.$]", "");
    }

    /** A failure of the kernel's own work for a cell (a magic, rendering a value), shown like a user exception. */
    static CellError thrown(Throwable t) {
        List<String> lines = new ArrayList<>();
        lines.add(BOLD_RED + t.getClass().getName() + RESET + (t.getMessage() == null ? "" : ": " + t.getMessage()));
        lines.addAll(frames(t.getStackTrace(), id -> null, MAX_FRAMES));
        for (Throwable c = t.getCause(); c != null && c != c.getCause(); c = c.getCause()) {
            lines.add("Caused by: " + c);
            lines.addAll(frames(c.getStackTrace(), id -> null, MAX_CAUSE_FRAMES));
        }
        if (t instanceof OutOfMemoryError) {
            lines.add(heapHint());
        }
        return new CellError(t.getClass().getSimpleName(), t.getMessage() == null ? "" : t.getMessage(), lines);
    }

    /** "at" lines for the frames worth reading: snippet frames become cell lines, JShell and kernel frames go. */
    static List<String> frames(StackTraceElement[] stack, Function<String, Place> places, int max) {
        List<String> lines = new ArrayList<>();
        int shown = 0;
        int hidden = 0;
        for (StackTraceElement f : stack) {
            String cls = f.getClassName();
            if (cls.startsWith("jdk.jshell.") || cls.startsWith("dev.loupe.kernel.") || cls.startsWith("jdk.internal.reflect.")
                    || cls.startsWith("java.util.concurrent.FutureTask") || cls.equals("java.lang.Thread")) {
                continue;
            }
            if (shown == max) {
                hidden++;
                continue;
            }
            shown++;
            String file = f.getFileName();
            Place place = file != null && file.startsWith("#") ? places.apply(file.substring(1)) : null;
            if (place == null) {
                lines.add("    at " + f);
            } else {
                String method = (cls.isEmpty() ? "" : cls + ".") + f.getMethodName();
                lines.add("    at " + (method.isEmpty() ? "" : method + " (") + place.at(f.getLineNumber())
                        + (method.isEmpty() ? "" : ")"));
            }
        }
        if (hidden > 0) {
            lines.add("    ... " + hidden + " more");
        }
        return lines;
    }

    private static String heapHint() {
        long mb = Runtime.getRuntime().maxMemory() >> 20;
        return "The kernel's heap is limited to " + mb + " MB. To raise it: LOUPE_KERNEL_XMX=8g ./loupe kernel install,"
                + " then restart the kernel.";
    }

    private static String simpleName(String className) {
        return className.substring(className.lastIndexOf('.') + 1).replace('$', '.');
    }
}
