package dev.loupe.kernel;

import io.github.spencerpark.jupyter.kernel.util.GlobFinder;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * Line magics, a cell line starting with {@code %name}: {@code %classpath} (or {@code %jars}) adds jars, class
 * folders or globs of jars; {@code %maven} adds artifacts, with their dependencies, that Maven resolves.
 */
final class Magics {

    /** A magic used wrongly; the user sees the message alone. */
    static final class MagicException extends Exception {
        MagicException(String message) {
            super(message);
        }
    }

    private static final Pattern MAGIC = Pattern.compile("\\s*%([A-Za-z]\\w*)(.*)");

    private final Consumer<String> addToClasspath;
    private final MavenResolver maven;
    private final Set<Path> added = new LinkedHashSet<>();

    Magics(Consumer<String> addToClasspath, MavenResolver maven) {
        this.addToClasspath = addToClasspath;
        this.maven = maven;
    }

    /** Whether a cell line is a magic: {@code %} then a letter (Java's remainder operator is followed by a space). */
    static boolean isMagic(String line) {
        return MAGIC.matcher(line).matches();
    }

    void run(String line) throws Exception {
        Matcher m = MAGIC.matcher(line);
        if (!m.matches()) {
            throw new IllegalArgumentException("not a magic: " + line);
        }
        List<String> args = Arrays.stream(m.group(2).trim().split("\\s+")).filter(a -> !a.isEmpty()).collect(Collectors.toList());
        switch (m.group(1)) {
            case "classpath", "jars" -> addPaths(args);
            case "maven" -> addArtifacts(args);
            default -> throw new MagicException("Unknown magic %" + m.group(1)
                    + ". The kernel knows %classpath (or %jars) PATH_OR_GLOB... and %maven GROUP:ARTIFACT:VERSION...");
        }
    }

    private void addPaths(List<String> args) throws IOException, MagicException {
        if (args.isEmpty()) {
            throw new MagicException("%classpath needs a jar, a class folder or a glob of jars, e.g. %classpath lib/*.jar");
        }
        List<Path> paths = new ArrayList<>();
        for (String arg : args) {
            List<Path> matched = matches(arg.startsWith("~/") ? System.getProperty("user.home") + arg.substring(1) : arg);
            if (matched.isEmpty()) {
                throw new MagicException("%classpath: nothing matches " + arg + " (relative paths start from "
                        + Path.of("").toAbsolutePath() + ")");
            }
            paths.addAll(matched);
        }
        add(paths);
    }

    private static List<Path> matches(String pathOrGlob) throws IOException {
        if (!pathOrGlob.matches(".*[*?\\[{].*")) {
            Path path = Path.of(pathOrGlob).toAbsolutePath().normalize();
            return Files.exists(path) ? List.of(path) : List.of();
        }
        List<Path> jars = new ArrayList<>();
        for (Path p : new GlobFinder(pathOrGlob).computeMatchingFiles()) {
            if (p.toString().endsWith(".jar")) {
                jars.add(p.toAbsolutePath().normalize());
            }
        }
        jars.sort(null);
        return jars;
    }

    private void addArtifacts(List<String> coordinates) throws Exception {
        if (coordinates.isEmpty()) {
            throw new MagicException("%maven needs coordinates, e.g. %maven org.apache.commons:commons-math3:3.6.1");
        }
        System.out.println("Resolving " + String.join(" ", coordinates) + " with Maven");
        add(maven.resolve(coordinates));
    }

    private void add(List<Path> paths) {
        List<Path> fresh = paths.stream().filter(added::add).collect(Collectors.toList());
        fresh.forEach(p -> addToClasspath.accept(p.toString()));
        String names = fresh.size() <= 8
                ? fresh.stream().map(p -> p.getFileName().toString()).collect(Collectors.joining(", "))
                : fresh.size() + " jars";
        System.out.println(fresh.isEmpty() ? "Already on the class path." : "Added to the class path: " + names);
    }
}
