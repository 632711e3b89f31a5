package dev.loupe.kernel;

import java.io.File;
import java.io.IOException;
import java.lang.reflect.Field;
import java.net.URI;
import java.nio.file.DirectoryStream;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Where inspection (Shift-Tab) finds Javadoc. JShell reads it from sources, and looks only in the JDK's src.zip; this
 * adds the sources of the class path: a Maven module's {@code src/main/java} beside its {@code target/classes} (Loupe
 * itself, run from a checkout) and a {@code NAME-sources.jar} beside a {@code NAME.jar} (a library whose sources Maven
 * fetched). JShell keeps that list in a field meant for its own tests, reached here by reflection; the kernel's JVM
 * opens the package for it (--add-opens jdk.jshell/jdk.jshell). Without that, inspection shows signatures only.
 */
final class SourcePath {

    private SourcePath() {}

    /** Sets JShell's source list once, before the first inspection; says why not if it cannot. */
    static void install(String classPath) {
        try {
            Class<?> analysis = Class.forName("jdk.jshell.SourceCodeAnalysisImpl");
            Field override = analysis.getDeclaredField("availableSourcesOverride");
            override.setAccessible(true);
            override.set(null, sources(classPath));
        } catch (ReflectiveOperationException | RuntimeException e) {
            System.err.println("loupe kernel: inspection shows signatures without Javadoc (" + e + ")");
        }
    }

    /** The JDK's source roots, then the class path's. */
    static List<Path> sources(String classPath) {
        List<Path> sources = new ArrayList<>(jdkSources());
        for (String entry : classPath.split(File.pathSeparator)) {
            if (entry.isEmpty()) {
                continue;
            }
            Path p = Path.of(entry);
            Path module = p.getParent() != null && p.getParent().getParent() != null ? p.getParent().getParent() : null;
            Path sourceDir = module != null && p.endsWith(Path.of("target", "classes")) ? module.resolve("src/main/java") : null;
            Path sourceJar = entry.endsWith(".jar") ? Path.of(entry.substring(0, entry.length() - 4) + "-sources.jar") : null;
            for (Path candidate : new Path[] {sourceDir, sourceJar}) {
                if (candidate != null && Files.exists(candidate)) {
                    sources.add(candidate);
                }
            }
        }
        return sources;
    }

    /** As JShell finds them: src.zip's module folders (kept open for the kernel's life), or src.zip itself. */
    private static List<Path> jdkSources() {
        Path home = Path.of(System.getProperty("java.home"));
        Path srcZip = home.resolve("lib/src.zip");
        if (!Files.isReadable(srcZip)) {
            return List.of();
        }
        List<Path> roots = new ArrayList<>();
        try {
            FileSystem zip = FileSystems.newFileSystem(URI.create("jar:" + srcZip.toUri()), Map.of());
            Path root = zip.getRootDirectories().iterator().next();
            if (Files.exists(root.resolve("java.base/java/lang/Object.java"))) {
                try (DirectoryStream<Path> modules = Files.newDirectoryStream(root, Files::isDirectory)) {
                    modules.forEach(roots::add);
                }
            } else {
                roots.add(srcZip);
            }
        } catch (IOException | RuntimeException e) {
            return List.of();
        }
        return roots;
    }
}
