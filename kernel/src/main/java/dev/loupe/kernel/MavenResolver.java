package dev.loupe.kernel;

import dev.loupe.kernel.Magics.MagicException;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Properties;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Resolves Maven coordinates, dependencies included, by running Maven itself on a throwaway POM. It first runs
 * offline, so what the local repository (~/.m2) holds is used without a network; only if that fails does Maven
 * fetch from the repositories it is configured with (Maven Central unless settings.xml says otherwise).
 */
final class MavenResolver {

    /** groupId:artifactId[:extension[:classifier]]:version, Maven's own order. */
    private static final String COORDINATE = "[\\w.-]+(:[\\w.-]+){2,4}";

    private final String pluginVersion = pluginVersion();

    List<Path> resolve(List<String> coordinates) throws IOException, InterruptedException, MagicException {
        for (String c : coordinates) {
            if (!c.matches(COORDINATE)) {
                throw new MagicException("%maven: " + c + " is not groupId:artifactId:version"
                        + " (or groupId:artifactId:extension[:classifier]:version)");
            }
        }
        Path dir = Files.createTempDirectory("loupe-maven");
        try {
            Files.writeString(dir.resolve("pom.xml"), pom(coordinates));
            if (mvn(dir, true) != 0) {
                System.out.println("Not all in the local Maven repository; Maven is fetching the rest");
                if (mvn(dir, false) != 0) {
                    throw new MagicException("Maven could not resolve " + String.join(" ", coordinates) + ":\n" + errors(dir));
                }
            }
            String classpath = Files.readString(dir.resolve("classpath.txt")).strip();
            return classpath.isEmpty() ? List.of()
                    : Arrays.stream(classpath.split(File.pathSeparator)).map(Path::of).collect(Collectors.toList());
        } finally {
            try (Stream<Path> files = Files.walk(dir)) {
                files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private int mvn(Path dir, boolean offline) throws IOException, InterruptedException, MagicException {
        List<String> command = new ArrayList<>(List.of("mvn", "-B", "-q"));
        if (offline) {
            command.add("-o");
        }
        command.addAll(List.of("-f", dir.resolve("pom.xml").toString(),
                "org.apache.maven.plugins:maven-dependency-plugin:" + pluginVersion + ":build-classpath",
                "-Dmdep.outputFile=" + dir.resolve("classpath.txt"), "-Dmdep.includeScope=runtime"));
        Process process;
        try {
            process = new ProcessBuilder(command).redirectErrorStream(true)
                    .redirectOutput(dir.resolve("maven.log").toFile()).start();
        } catch (IOException e) {
            throw new MagicException("%maven runs Maven, but there is no mvn on the PATH (" + e.getMessage() + ")");
        }
        try {
            return process.waitFor();
        } catch (InterruptedException e) {
            process.descendants().forEach(ProcessHandle::destroyForcibly);
            process.destroyForcibly();
            throw e;
        }
    }

    /** Maven's error lines, which name the artifact it could not find and where it looked. */
    private static String errors(Path dir) {
        try {
            List<String> lines = Files.readAllLines(dir.resolve("maven.log"));
            List<String> errors = lines.stream().filter(l -> l.startsWith("[ERROR]") && !l.strip().equals("[ERROR]"))
                    .limit(10).collect(Collectors.toList());
            return String.join("\n", errors.isEmpty() ? lines : errors);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String pom(List<String> coordinates) {
        StringBuilder deps = new StringBuilder();
        for (String c : coordinates) {
            String[] p = c.split(":");
            String version = p[p.length - 1];
            deps.append("<dependency><groupId>").append(p[0]).append("</groupId><artifactId>").append(p[1])
                    .append("</artifactId><version>").append(version).append("</version>");
            if (p.length >= 4) {
                deps.append("<type>").append(p[2]).append("</type>");
            }
            if (p.length == 5) {
                deps.append("<classifier>").append(p[3]).append("</classifier>");
            }
            deps.append("</dependency>\n");
        }
        return "<project><modelVersion>4.0.0</modelVersion>\n"
                + "<groupId>dev.loupe.notebook</groupId><artifactId>notebook-dependencies</artifactId><version>0</version>\n"
                + "<dependencies>\n" + deps + "</dependencies></project>\n";
    }

    private static String pluginVersion() {
        try (InputStream in = MavenResolver.class.getResourceAsStream("kernel.properties")) {
            if (in == null) {
                throw new IllegalStateException("kernel.properties is missing from the kernel's classes; rebuild them with Maven");
            }
            Properties p = new Properties();
            p.load(in);
            return p.getProperty("maven-dependency-plugin.version");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
