package dev.loupe.tasks.modular;

import dev.loupe.display.Displayable;
import dev.loupe.display.Html;
import dev.loupe.display.MimeBundle;
import dev.loupe.load.BundledModels;
import dev.loupe.model.HookedTransformer;
import dev.loupe.plot.Chart;
import dev.loupe.plot.Plot;
import dev.loupe.train.TrainingLog;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * A published grokking run, as {@link GrokkingP113} wrote it: the metrics over training, the phases, the key
 * frequencies and the checkpoints at the phase boundaries. {@link #bundled()} is {@code loupe/grokking-p113}.
 */
public record GrokkingRun(Path folder, String command, long seed, long epochs, double epochsPerSecond,
                          double secondsToGrok, int[] keyFrequencies, double keyShare, GrokkingPhases phases,
                          Map<String, Long> checkpoints) implements Displayable {

    /** The run that comes with Loupe. */
    public static GrokkingRun bundled() {
        try {
            return read(BundledModels.folder(GrokkingP113.NAME));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A folder {@link GrokkingP113} published. */
    public static GrokkingRun read(Path folder) throws IOException {
        JsonObject o = JsonParser.parseString(Files.readString(folder.resolve("training.json"))).getAsJsonObject();
        JsonObject p = o.getAsJsonObject("phases");
        Map<String, Long> checkpoints = new LinkedHashMap<>();
        o.getAsJsonObject("checkpoints").entrySet().forEach(e -> checkpoints.put(e.getKey(), e.getValue().getAsLong()));
        int[] key = o.getAsJsonArray("key_frequencies").asList().stream().mapToInt(e -> e.getAsInt()).toArray();
        GrokkingPhases phases = new GrokkingPhases(p.get("memorisation_end").getAsLong(), p.get("circuit_formation_end").getAsLong(),
                p.get("cleanup_end").getAsLong(), o.get("grokked_epoch").getAsLong(), o.get("epochs").getAsLong());
        return new GrokkingRun(folder, o.get("command").getAsString(), o.get("seed").getAsLong(), o.get("epochs").getAsLong(),
                o.get("epochs_per_second").getAsDouble(), o.get("seconds_to_grok").getAsDouble(), key,
                o.get("key_share").getAsDouble(), phases, checkpoints);
    }

    /** The task with this run's split. */
    public ModularAddition task() {
        return ModularAddition.paper(seed);
    }

    /** Train and test loss and accuracy, weight norm, Fourier norms, restricted and excluded loss, by epoch. */
    public TrainingLog metrics() {
        try {
            return TrainingLog.read(folder.resolve("metrics.csv"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Logged columns against the epoch on a log scale, with the ends of the three phases drawn as vertical lines.
     */
    public Chart chart(String... columns) {
        TrainingLog log = metrics();
        List<Chart.Series> series = new ArrayList<>();
        for (String c : columns) {
            series.add(log.series(c));
        }
        return Plot.lines(series).logY().title(String.join(", ", columns)).axes("epoch", "")
                .marker(phases.memorised(), "memorisation ends")
                .marker(phases.circuitFormed(), "circuit formation ends")
                .marker(phases.cleanedUp(), "cleanup ends");
    }

    /** The final model. */
    public HookedTransformer model() {
        return load(folder);
    }

    /** The model at a checkpoint: one of {@link #checkpoints()}' names ("initial", "memorised", ...). */
    public HookedTransformer checkpoint(String name) {
        Long epoch = checkpoints.get(name);
        if (epoch == null) {
            throw new IllegalArgumentException("No checkpoint '" + name + "'; there are " + checkpoints.keySet());
        }
        return load(epoch == epochs ? folder : folder.resolve(GrokkingP113.checkpointFolder(epoch)));
    }

    private static HookedTransformer load(Path dir) {
        try {
            return HookedTransformer.load(dir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "%s%n%,d epochs at %.1f/s; test loss below %s at epoch %,d, %.0f s in%n"
                        + "phases: memorisation 0–%,d, circuit formation %,d–%,d, cleanup %,d–%,d%n"
                        + "key frequencies %s: %.1f%% of the embedding's squared Fourier norm%ncheckpoints: %s",
                command, epochs, epochsPerSecond, GrokkingP113.GROKKED_LOSS, phases.grokked(), secondsToGrok,
                phases.memorised(), phases.memorised(), phases.circuitFormed(), phases.circuitFormed(), phases.cleanedUp(),
                java.util.Arrays.toString(keyFrequencies), 100 * keyShare,
                checkpoints.entrySet().stream().map(e -> e.getKey() + " " + e.getValue()).collect(Collectors.joining(", ")));
    }

    @Override
    public MimeBundle mimeBundle() {
        return MimeBundle.text(toString()).withHtml("<pre>" + Html.escape(toString()) + "</pre>");
    }
}
