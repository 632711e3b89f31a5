package dev.loupe.kernel;

import jdk.jshell.execution.DirectExecutionControl;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * JShell's execution engine for the kernel. Snippets run in the kernel's own JVM, so a cell's value is a real object
 * the kernel can render, and each runs on a fresh thread, so that {@link #interrupt} can end it: first politely
 * with {@link Thread#interrupt}, then, for code that never looks (a tight loop, a long native call returning into
 * one), with {@link Thread#stop}, which Java 17 still honours.
 */
final class CellExecution extends DirectExecutionControl {

    /** The exception "class" of an interrupted snippet; no real class has a space in its name. */
    static final String INTERRUPTED = "Interrupted cell";

    /** How long a cell gets to honour {@link Thread#interrupt} before it is stopped outright. */
    private static final long GRACE_MS = 1_000;

    private record Running(Thread thread, FutureTask<?> task) {}

    private final AtomicInteger threadCount = new AtomicInteger();
    private volatile Running running;
    private volatile boolean interrupted;
    private volatile ClassLoader snippetLoader = Thread.currentThread().getContextClassLoader();
    private Object value;

    /** Starts a new cell: forgets an interrupt aimed at the previous one. */
    void beginCell() {
        interrupted = false;
    }

    /** Whether the current cell was interrupted; the kernel then runs nothing more of it. */
    boolean interrupted() {
        return interrupted;
    }

    /** The value of the snippet run last (JShell itself only sees its string form); taking it forgets it. */
    Object takeValue() {
        Object v = value;
        value = null;
        return v;
    }

    @Override
    protected String invoke(Method doit) throws Exception {
        // Snippet classes live in JShell's class loader; cell threads see it too, so ServiceLoader finds %maven jars.
        snippetLoader = doit.getDeclaringClass().getClassLoader();
        try {
            value = run(() -> doit.invoke(null));
        } catch (InterruptedException e) {
            throw interruptedCell();
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (interrupted && causedByInterrupt(cause)) {
                throw interruptedCell();
            }
            // JShell reports the target of an InvocationTargetException as the user's exception.
            throw cause instanceof InvocationTargetException ite ? ite : new InvocationTargetException(cause);
        }
        return "";  // the value itself is taken by the kernel; JShell's string form of it would be wasted work
    }

    private static UserException interruptedCell() {
        return new UserException("The cell was interrupted.", INTERRUPTED, new StackTraceElement[0]);
    }

    /**
     * Runs work for the current cell on a thread of its own and waits for it. What the work throws comes back as the
     * cause of an {@link ExecutionException}; an interrupt before the start throws {@link InterruptedException}.
     */
    <T> T run(Callable<T> work) throws ExecutionException, InterruptedException {
        if (interrupted) {
            throw new InterruptedException("The cell was interrupted.");
        }
        FutureTask<T> task = new FutureTask<>(work);
        Thread thread = new Thread(task, "loupe-cell-" + threadCount.incrementAndGet());
        thread.setDaemon(true);
        thread.setContextClassLoader(snippetLoader);
        // A stop that lands after the work finished would otherwise print a stray ThreadDeath.
        thread.setUncaughtExceptionHandler((t, e) -> { });
        running = new Running(thread, task);
        thread.start();
        try {
            return task.get();
        } finally {
            running = null;
        }
    }

    /** Interrupts the running cell; one still running {@link #GRACE_MS} later is stopped. Safe from any thread. */
    void interrupt() {
        interrupted = true;
        Running r = running;
        if (r == null) {
            return;
        }
        r.thread().interrupt();
        Thread stopper = new Thread(() -> stopIfStillRunning(r), "loupe-interrupt");
        stopper.setDaemon(true);
        stopper.start();
    }

    @SuppressWarnings({"deprecation", "removal"})
    private void stopIfStillRunning(Running r) {
        try {
            r.thread().join(GRACE_MS);
        } catch (InterruptedException e) {
            return;
        }
        if (!r.task().isDone() && running == r) {
            r.thread().stop();
        }
    }

    /** JShell.stop(), e.g. on shutdown. */
    @Override
    public void stop() {
        interrupt();
    }

    static boolean causedByInterrupt(Throwable t) {
        for (; t != null; t = t.getCause()) {
            if (t instanceof ThreadDeath || t instanceof InterruptedException) {
                return true;
            }
        }
        return false;
    }
}
