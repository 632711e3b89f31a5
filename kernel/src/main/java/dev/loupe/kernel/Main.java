package dev.loupe.kernel;

import io.github.spencerpark.jupyter.channels.JupyterConnection;
import io.github.spencerpark.jupyter.channels.Loop;
import io.github.spencerpark.jupyter.kernel.KernelConnectionProperties;

import sun.misc.Signal;
import sun.misc.SignalHandler;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Starts the kernel: {@code java -cp CLASSPATH dev.loupe.kernel.Main CONNECTION_FILE}, as the kernelspec's argv says
 * (through kernel/python/launch_kernel.py). The startup script is the file named by {@code -Dloupe.startup}, else the
 * copy packaged with the kernel.
 */
public final class Main {

    private Main() {}

    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("Usage: java -cp CLASSPATH dev.loupe.kernel.Main CONNECTION_FILE");
            System.exit(2);
        }
        if (System.getProperty("java.util.logging.config.file") == null) {
            Logger.getLogger("").setLevel(Level.WARNING);  // the base kernel logs every message at INFO
        }
        KernelConnectionProperties properties = KernelConnectionProperties.parse(Files.readString(Path.of(args[0])));
        LoupeKernel kernel = new LoupeKernel(startupScript());
        // SIGINT (a client in interrupt_mode "signal", or Ctrl-C in a terminal) interrupts the cell; by default it
        // would end the JVM. The JVM leaves an ignored SIGINT ignored: the kernelspec's launch_kernel.py resets it.
        if (Signal.handle(new Signal("INT"), signal -> kernel.interrupt()) == SignalHandler.SIG_IGN) {
            System.err.println("loupe: SIGINT is ignored by this process (started from a background shell?), so it"
                    + " cannot interrupt a cell; interrupt requests by message still do");
        }
        JupyterConnection connection = new JupyterConnection(properties);
        kernel.becomeHandlerForConnection(connection);
        connection.connect();
        keepChannelsAlive();
        connection.waitUntilClose();
        System.exit(0);  // threads a cell started must not keep a shut-down kernel alive
    }

    /**
     * A cell that fills the heap can make any thread's allocation fail until the cell has unwound. The base kernel's
     * channel threads (heartbeat, shell, control) would die of that OutOfMemoryError and leave a kernel that looks
     * dead to Jupyter; told to carry on after an error, they outlive it.
     */
    private static void keepChannelsAlive() {
        Thread[] threads = new Thread[Thread.activeCount() + 16];
        int n = Thread.currentThread().getThreadGroup().enumerate(threads);
        for (int i = 0; i < n; i++) {
            if (threads[i] instanceof Loop loop) {
                loop.onError(error -> 50);  // ms to wait before the loop's next round
            }
        }
    }

    static String startupScript() throws IOException {
        String file = System.getProperty("loupe.startup");
        if (file != null) {
            Path path = Path.of(file);
            if (Files.isReadable(path)) {
                return Files.readString(path);
            }
            System.err.println("loupe: no startup script at " + path + "; using the one packaged with the kernel");
        }
        try (InputStream in = Main.class.getResourceAsStream("startup.jsh")) {
            return in == null ? "" : new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }
}
