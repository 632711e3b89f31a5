package dev.loupe.display;

import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/**
 * Showing objects: {@link #bundleOf} turns any object into a {@link MimeBundle}; {@link #display} shows one now
 * (a notebook output, or text on a console), and {@link #update} replaces an earlier output in place, which is
 * how progress bars and live training curves work. The Jupyter kernel installs a {@link Sink}; without one,
 * text goes to standard output.
 */
public final class Display {

    /** Where displayed bundles go. {@code update} replaces the output shown under {@code displayId}. */
    public interface Sink {
        void display(MimeBundle bundle, String displayId);

        void update(MimeBundle bundle, String displayId);

        /** Whether outputs can be replaced in place (a notebook) rather than only appended (a console). */
        boolean supportsUpdates();

        /**
         * A sink that shows nothing: for runs whose standard output is taken (a benchmark's table), or that read what
         * would have shown from the objects themselves. {@code supportsUpdates} is what it tells progress bars and live
         * curves: true makes them behave as in a notebook, false as on a console.
         */
        static Sink discarding(boolean supportsUpdates) {
            return new Sink() {
                @Override
                public void display(MimeBundle bundle, String displayId) {}

                @Override
                public void update(MimeBundle bundle, String displayId) {}

                @Override
                public boolean supportsUpdates() {
                    return supportsUpdates;
                }
            };
        }
    }

    private static final Sink CONSOLE = new Sink() {
        @Override
        public void display(MimeBundle bundle, String displayId) {
            System.out.println(bundle.text());
        }

        @Override
        public void update(MimeBundle bundle, String displayId) {
            System.out.println(bundle.text());
        }

        @Override
        public boolean supportsUpdates() {
            return false;
        }
    };

    private static final Map<Class<?>, Function<Object, MimeBundle>> RENDERERS = new ConcurrentHashMap<>();
    private static volatile Sink sink = CONSOLE;

    static {
        Renderers.registerDefaults(); // NDArray, Tablesaw tables and columns
    }

    private Display() {}

    /** Installs where displays go (the kernel does this); null restores the console. */
    public static void setSink(Sink newSink) {
        sink = newSink == null ? CONSOLE : newSink;
    }

    public static Sink sink() {
        return sink;
    }

    /**
     * Renders instances of a type Loupe does not own by this function (NDArray and Tablesaw tables have
     * renderers from the start; registering the same type again replaces its renderer). For an object of
     * several registered types, the most specific type's renderer is used.
     */
    public static <T> void register(Class<T> type, Function<? super T, MimeBundle> renderer) {
        RENDERERS.put(type, o -> renderer.apply(type.cast(o)));
    }

    /** How the object shows: its own bundle, a registered renderer's, or its toString as text. */
    public static MimeBundle bundleOf(Object o) {
        if (o instanceof MimeBundle bundle) {
            return bundle;
        }
        if (o instanceof Displayable d) {
            return d.mimeBundle();
        }
        if (o != null) {
            Function<Object, MimeBundle> exact = RENDERERS.get(o.getClass());
            if (exact != null) {
                return exact.apply(o);
            }
            Class<?> best = null;
            for (Class<?> type : RENDERERS.keySet()) {
                if (type.isInstance(o) && (best == null || best.isAssignableFrom(type))) {
                    best = type;
                }
            }
            if (best != null) {
                return RENDERERS.get(best).apply(o);
            }
        }
        return MimeBundle.text(String.valueOf(o));
    }

    /** Shows the object now; returns an id to {@link #update} it with later. */
    public static String display(Object o) {
        String id = UUID.randomUUID().toString();
        sink.display(bundleOf(o), id);
        return id;
    }

    /** Replaces what was shown under {@code displayId} (on a console, prints the new version). */
    public static void update(String displayId, Object o) {
        sink.update(bundleOf(o), displayId);
    }
}
