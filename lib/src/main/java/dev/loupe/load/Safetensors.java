package dev.loupe.load;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;

import dev.loupe.tensor.Tensors;

import static dev.loupe.load.JsonValues.describe;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The safetensors format: an 8-byte little-endian header length, a JSON header of
 * {name: {dtype, shape, data_offsets}}, then the tensors' raw little-endian bytes. Every entry is checked
 * against the file before any data is read, so a truncated or corrupt file fails with its name and what is
 * wrong. Safetensors holds data only: loading it never runs code.
 *
 * <p>F32, F64, F16, integer and bool tensors keep their type; BF16 tensors are widened (exactly) to F32.
 *
 * <p>Tensors are read one at a time through one reusable buffer, not memory-mapped: a mapping's pages stay
 * resident until the mapping is collected, which would hold a second copy of the weights while they load.
 */
public final class Safetensors {

    private static final long MAX_HEADER = 100L * 1024 * 1024;
    private static final sun.misc.Unsafe UNSAFE = unsafe();

    private static sun.misc.Unsafe unsafe() {
        try {
            java.lang.reflect.Field f = sun.misc.Unsafe.class.getDeclaredField("theUnsafe");
            f.setAccessible(true);
            return (sun.misc.Unsafe) f.get(null);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private Safetensors() {}

    /** Every tensor in the file, in the order of their offsets, as Loupe arrays. */
    public static Map<String, NDArray> read(Path file) throws IOException {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            Header header = header(file, channel);
            long largest = header.entries().stream().mapToLong(e -> e.end - e.begin).max().orElse(0);
            ByteBuffer buffer = ByteBuffer.allocateDirect((int) Math.max(1, largest));
            try {
                Map<String, NDArray> tensors = new LinkedHashMap<>();
                for (Entry e : header.entries()) {
                    buffer.clear().limit((int) (e.end - e.begin));
                    while (buffer.hasRemaining()) {
                        if (channel.read(buffer, header.dataStart() + e.begin + buffer.position()) < 0) {
                            throw corrupt(file, "it ended while reading tensor '" + e.name + "'");
                        }
                    }
                    buffer.flip();
                    tensors.put(e.name, e.dtype == DataType.BFLOAT16
                            ? Tensors.fromBytes(bfloat16ToFloat32(buffer), e.shape, DataType.FLOAT32)
                            : Tensors.fromBytes(buffer, e.shape, e.dtype));
                }
                return tensors;
            } finally {
                UNSAFE.invokeCleaner(buffer); // the size of the largest tensor: free it now, not at some later collection
            }
        }
    }

    /** Each tensor's name, type and shape, checked against the file, without reading any data. */
    public static Map<String, Entry> entries(Path file) throws IOException {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            Map<String, Entry> byName = new LinkedHashMap<>();
            for (Entry e : header(file, channel).entries()) {
                byName.put(e.name, e);
            }
            return byName;
        }
    }

    /** The header's entries in the order of their offsets, and where the data starts. */
    private record Header(List<Entry> entries, long dataStart) {}

    private static Header header(Path file, FileChannel channel) throws IOException {
        long size = channel.size();
        if (size < 8) {
            throw corrupt(file, "it is " + size + " bytes long, shorter than the 8-byte header length");
        }
        ByteBuffer lengthBytes = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        channel.read(lengthBytes, 0);
        long headerLength = lengthBytes.flip().getLong();
        if (headerLength <= 0 || headerLength > MAX_HEADER || 8 + headerLength > size) {
            throw corrupt(file, "header length " + headerLength + " does not fit a file of " + size
                    + " bytes (truncated, or not a safetensors file)");
        }
        ByteBuffer headerBytes = ByteBuffer.allocate((int) headerLength);
        channel.read(headerBytes, 8);
        JsonElement json;
        try {
            json = JsonParser.parseString(new String(headerBytes.array(), StandardCharsets.UTF_8));
        } catch (JsonParseException e) {
            throw corrupt(file, "the header is not valid JSON (" + e.getMessage() + ")");
        }
        if (!json.isJsonObject()) {
            throw corrupt(file, "the header is " + describe(json) + ", not a JSON object of tensors");
        }
        long dataStart = 8 + headerLength;
        List<Entry> entries = new ArrayList<>();
        for (Map.Entry<String, JsonElement> e : json.getAsJsonObject().entrySet()) {
            if (!e.getKey().equals("__metadata__")) {
                entries.add(Entry.parse(file, e.getKey(), e.getValue(), size - dataStart));
            }
        }
        entries.sort((a, b) -> Long.compare(a.begin, b.begin));
        for (int i = 1; i < entries.size(); i++) {
            if (entries.get(i).begin < entries.get(i - 1).end) {
                throw corrupt(file, "tensors '" + entries.get(i - 1).name + "' and '" + entries.get(i).name + "' overlap");
            }
        }
        return new Header(entries, dataStart);
    }

    /**
     * bfloat16 is the top half of a float32, so widening is exact. Done here because libtorch, reached through
     * DJL, aborts the process when handed a bfloat16 buffer.
     */
    private static ByteBuffer bfloat16ToFloat32(ByteBuffer bf16) {
        ByteBuffer in = bf16.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        ByteBuffer out = ByteBuffer.allocate(in.remaining() * 2).order(ByteOrder.LITTLE_ENDIAN);
        while (in.hasRemaining()) {
            out.putInt((in.getShort() & 0xFFFF) << 16);
        }
        return out.flip();
    }

    /** Writes the tensors to {@code file} atomically: a temporary file beside it, then a rename. */
    public static void write(Path file, Map<String, NDArray> tensors) throws IOException {
        List<Source> sources = new ArrayList<>();
        for (Map.Entry<String, NDArray> e : tensors.entrySet()) {
            NDArray a = e.getValue();
            sources.add(new Source(e.getKey(), code(e.getKey(), a.getDataType()), a.getShape().getShape(),
                    a.getShape().size() * a.getDataType().getNumOfBytes(), out -> {
                        ByteBuffer buf = a.toByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
                        byte[] chunk = new byte[buf.remaining()];
                        buf.get(chunk);
                        out.write(chunk);
                    }));
        }
        write(file, sources);
    }

    /** One tensor to write: name, safetensors dtype code (F32, BF16, ...), shape, size, and its little-endian bytes. */
    public record Source(String name, String dtype, long[] shape, long bytes, Bytes data) {}

    /** Writes a tensor's bytes, in order. */
    public interface Bytes {
        void writeTo(java.io.OutputStream out) throws IOException;
    }

    /**
     * Writes tensors whose bytes come from elsewhere (a stream, another format), atomically: for files larger than
     * memory, or types that have no array here (BF16).
     */
    public static void write(Path file, List<Source> sources) throws IOException {
        Map<String, Object> header = new LinkedHashMap<>();
        long offset = 0;
        for (Source src : sources) {
            Map<String, Object> entry = new LinkedHashMap<>(); // in a fixed order (Map.of's changes by run): same bytes
            entry.put("dtype", src.dtype());
            entry.put("shape", src.shape());
            entry.put("data_offsets", new long[] {offset, offset + src.bytes()});
            header.put(src.name(), entry);
            offset += src.bytes();
        }
        header.put("__metadata__", Map.of("format", "pt"));
        byte[] json = new com.google.gson.Gson().toJson(header).getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) / 8 * 8;
        byte[] headerBytes = new byte[padded];
        java.util.Arrays.fill(headerBytes, (byte) ' ');
        System.arraycopy(json, 0, headerBytes, 0, json.length);

        AtomicFiles.write(file, out -> {
            out.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(padded).array());
            out.write(headerBytes);
            for (Source src : sources) {
                src.data().writeTo(out);
            }
        });
    }

    private static String code(String name, DataType type) {
        return switch (type) {
            case FLOAT32 -> "F32";
            case FLOAT64 -> "F64";
            case FLOAT16 -> "F16";
            case INT64 -> "I64";
            case INT32 -> "I32";
            case INT8 -> "I8";
            case UINT8 -> "U8";
            case BOOLEAN -> "BOOL";
            // libtorch here aborts the process on BF16 arrays, so none is ever made: BF16 is read by widening to F32.
            default -> throw new IllegalArgumentException("Cannot write tensor '" + name + "' of type " + type
                    + " to safetensors; store as F32 or F16");
        };
    }

    private static DataType type(String code) {
        return switch (code) {
            case "F32" -> DataType.FLOAT32;
            case "F64" -> DataType.FLOAT64;
            case "F16" -> DataType.FLOAT16;
            case "BF16" -> DataType.BFLOAT16;
            case "I64" -> DataType.INT64;
            case "I32" -> DataType.INT32;
            case "I8" -> DataType.INT8;
            case "U8" -> DataType.UINT8;
            case "BOOL" -> DataType.BOOLEAN;
            default -> null;
        };
    }

    static ModelFileException corrupt(Path file, String what) {
        return new ModelFileException("Corrupt safetensors file " + file + ": " + what + ".");
    }

    /** One tensor of the header: its type and shape, and where its bytes are, counted from the start of the data. */
    public record Entry(String name, DataType dtype, Shape shape, long begin, long end) {
        static Entry parse(Path file, String name, JsonElement json, long dataSize) throws IOException {
            String entry = "tensor '" + name + "'";
            if (!json.isJsonObject()) {
                throw corrupt(file, entry + " is " + describe(json) + ", not {dtype, shape, data_offsets}");
            }
            JsonObject o = json.getAsJsonObject();
            JsonElement code = o.get("dtype");
            DataType dtype = code != null && code.isJsonPrimitive() && code.getAsJsonPrimitive().isString()
                    ? type(code.getAsString()) : null;
            if (dtype == null) {
                throw corrupt(file, entry + " has dtype " + describe(code) + "; expected one of F32, F64, F16, BF16, I64,"
                        + " I32, I8, U8, BOOL");
            }
            long[] shape = longs(file, entry, "shape", o.get("shape"), -1);
            long[] offsets = longs(file, entry, "data_offsets", o.get("data_offsets"), 2);
            long begin = offsets[0];
            long end = offsets[1];
            long expected = dtype.getNumOfBytes();
            for (long d : shape) {
                expected = d == 0 || expected <= Long.MAX_VALUE / d ? expected * d : -1;
                if (expected < 0) {
                    throw corrupt(file, entry + " has shape " + Arrays.toString(shape) + ", more bytes than any file holds");
                }
            }
            if (end < begin || end - begin != expected) {
                throw corrupt(file, entry + " of shape " + new Shape(shape) + " " + code.getAsString()
                        + " needs " + expected + " bytes but its offsets [" + begin + ", " + end + "] span " + (end - begin));
            }
            if (end > dataSize) {
                throw corrupt(file, entry + " ends at byte " + end + " of the data but the file holds only "
                        + dataSize + " data bytes (truncated?)");
            }
            return new Entry(name, dtype, new Shape(shape), begin, end);
        }

        /** A JSON array of whole numbers of at least 0 ({@code length} of them, unless it is -1). */
        private static long[] longs(Path file, String entry, String field, JsonElement json, int length) throws IOException {
            String expected = "an array of " + (length < 0 ? "" : length + " ") + "whole numbers of at least 0";
            if (json == null || !json.isJsonArray() || (length >= 0 && json.getAsJsonArray().size() != length)) {
                throw corrupt(file, entry + " has " + field + " " + describe(json) + "; expected " + expected);
            }
            long[] values = new long[json.getAsJsonArray().size()];
            for (int i = 0; i < values.length; i++) {
                Long value = JsonValues.wholeNumber(json.getAsJsonArray().get(i), 0, Long.MAX_VALUE);
                if (value == null) {
                    throw corrupt(file, entry + " has " + field + " " + describe(json) + "; expected " + expected);
                }
                values[i] = value;
            }
            return values;
        }
    }
}
