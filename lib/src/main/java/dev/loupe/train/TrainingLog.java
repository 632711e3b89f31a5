package dev.loupe.train;

import dev.loupe.display.Displayable;
import dev.loupe.display.MimeBundle;
import dev.loupe.display.TableView;
import dev.loupe.plot.Chart;
import dev.loupe.plot.Plot;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import tech.tablesaw.api.DoubleColumn;
import tech.tablesaw.api.LongColumn;
import tech.tablesaw.api.Table;

/**
 * Metrics over training, one row per step: step, loss, lr, grad_norm, and a column per evaluation (NaN on steps
 * without one). {@link #table()} for Tablesaw; CSV in and out for checkpoints.
 */
public final class TrainingLog implements Displayable {

    private final List<Long> steps = new ArrayList<>();
    private final Map<String, List<Double>> columns = new LinkedHashMap<>();

    /** An empty log, for training loops outside this package (SAE training). */
    public TrainingLog() {
        for (String c : List.of("loss", "lr", "grad_norm")) {
            columns.put(c, new ArrayList<>());
        }
    }

    /** A new row: the step's loss, learning rate and gradient norm (NaN if not measured). */
    public synchronized void step(long step, double loss, double lr, double gradNorm) {
        steps.add(step);
        for (List<Double> c : columns.values()) {
            c.add(Double.NaN);
        }
        set("loss", loss);
        set("lr", lr);
        set("grad_norm", gradNorm);
    }

    /** Values measured at the step of the last row. */
    public synchronized void evaluation(long step, Map<String, Double> values) {
        if (steps.isEmpty() || steps.get(steps.size() - 1) != step) {
            throw new IllegalStateException("Evaluation at step " + step + " without a training step");
        }
        values.forEach(this::set);
    }

    /** Adds a value computed after the fact (say, from weights saved during training) at an existing step. */
    public synchronized void put(long step, String column, double value) {
        int row = java.util.Collections.binarySearch(steps, step);
        if (row < 0) {
            throw new IllegalArgumentException("No step " + step + " in the log: put adds to the rows training wrote ("
                    + steps.size() + " rows)");
        }
        columns.computeIfAbsent(column, k -> new ArrayList<>(java.util.Collections.nCopies(steps.size(), Double.NaN)))
                .set(row, value);
    }

    private void set(String column, double value) {
        List<Double> c = columns.computeIfAbsent(column, k -> {
            List<Double> filled = new ArrayList<>();
            for (int i = 0; i < steps.size(); i++) {
                filled.add(Double.NaN);
            }
            return filled;
        });
        c.set(steps.size() - 1, value);
    }

    public synchronized boolean hasColumn(String name) {
        return columns.containsKey(name);
    }

    /** The values of one column, step by step. */
    public synchronized double[] column(String name) {
        List<Double> c = columns.get(name);
        if (c == null) {
            throw new IllegalArgumentException("No column '" + name + "'; there are " + columns.keySet());
        }
        return c.stream().mapToDouble(Double::doubleValue).toArray();
    }

    /** The column's last measured value, NaN if it was never measured. */
    public synchronized double last(String name) {
        double[] values = column(name);
        for (int i = values.length - 1; i >= 0; i--) {
            if (!Double.isNaN(values[i])) {
                return values[i];
            }
        }
        return Double.NaN;
    }

    /** The rows at steps that are multiples of {@code every}, and the last row: a smaller log for publishing. */
    public synchronized TrainingLog sampled(long every) {
        TrainingLog out = new TrainingLog();
        out.columns.clear();
        columns.keySet().forEach(c -> out.columns.put(c, new ArrayList<>()));
        for (int i = 0; i < steps.size(); i++) {
            if (steps.get(i) % every == 0 || i == steps.size() - 1) {
                out.steps.add(steps.get(i));
                int row = i;
                columns.forEach((c, values) -> out.columns.get(c).add(values.get(row)));
            }
        }
        return out;
    }

    public synchronized long[] steps() {
        return steps.stream().mapToLong(Long::longValue).toArray();
    }

    public synchronized Table table() {
        Table t = Table.create("training").addColumns(LongColumn.create("step", steps()));
        columns.keySet().forEach(name -> t.addColumns(DoubleColumn.create(name, column(name))));
        return t;
    }

    /** The logged columns as lines against the step, rows where a column was not measured left out. */
    public synchronized Chart chart(String... columns) {
        List<Chart.Series> series = new ArrayList<>();
        for (String name : columns) {
            if (hasColumn(name) && series(name).x().length > 0) {
                series.add(series(name));
            }
        }
        return Plot.lines(series).title("training").axes("step", "");
    }

    /** One column against the step, rows where it was not measured left out. */
    public synchronized Chart.Series series(String column) {
        long[] steps = steps();
        double[] values = column(column);
        int n = 0;
        double[] x = new double[values.length];
        double[] y = new double[values.length];
        for (int i = 0; i < values.length; i++) {
            if (!Double.isNaN(values[i])) {
                x[n] = steps[i];
                y[n++] = values[i];
            }
        }
        return new Chart.Series(column, Arrays.copyOf(x, n), Arrays.copyOf(y, n));
    }

    /** Writes the log as CSV, atomically. */
    public synchronized void writeCsv(Path file) throws IOException {
        StringBuilder s = new StringBuilder("step");
        columns.keySet().forEach(c -> s.append(',').append(c));
        s.append('\n');
        for (int i = 0; i < steps.size(); i++) {
            s.append(steps.get(i));
            for (List<Double> c : columns.values()) {
                s.append(',').append(String.format(Locale.ROOT, "%.17g", c.get(i)));
            }
            s.append('\n');
        }
        Path temp = Files.createTempFile(file.toAbsolutePath().getParent(), file.getFileName().toString(), ".partial");
        Files.writeString(temp, s, StandardCharsets.UTF_8);
        Files.move(temp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /** A log written by {@link #writeCsv} (for example a published model's metrics.csv). */
    public static TrainingLog read(Path file) throws IOException {
        TrainingLog log = new TrainingLog();
        log.readCsv(file);
        return log;
    }

    synchronized void readCsv(Path file) throws IOException {
        List<String> lines = Files.readAllLines(file);
        String[] header = lines.get(0).split(",");
        steps.clear();
        columns.clear();
        for (int c = 1; c < header.length; c++) {
            columns.put(header[c], new ArrayList<>());
        }
        for (String line : lines.subList(1, lines.size())) {
            String[] cells = line.split(",");
            steps.add(Long.parseLong(cells[0]));
            for (int c = 1; c < header.length; c++) {
                columns.get(header[c]).add(Double.parseDouble(cells[c]));
            }
        }
    }

    @Override
    public synchronized String toString() {
        if (steps.isEmpty()) {
            return "TrainingLog (empty)";
        }
        double[] loss = column("loss");
        return String.format(Locale.ROOT, "TrainingLog: %d steps, loss %.4g → %.4g", steps.size(), loss[0], loss[loss.length - 1]);
    }

    @Override
    public MimeBundle mimeBundle() {
        return MimeBundle.text(toString()).withHtml(TableView.bundle(table()).data().get(MimeBundle.HTML));
    }
}
