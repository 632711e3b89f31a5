package dev.loupe.sae;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import dev.loupe.tensor.Tensors;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;

/**
 * numpy's {@code .npz}: a zip (stored by {@code np.savez}, deflated by {@code np.savez_compressed}) of {@code .npy}
 * files, each a magic string, a version, a header that is a Python dict literal ({@code {'descr': '<f4',
 * 'fortran_order': False, 'shape': (2304, 16384), }}) and the raw data. Only float arrays are read, and the header is
 * parsed as data, never evaluated: object arrays, which numpy stores pickled, are refused, so reading runs no code.
 */
final class NumpyArchive {

    private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
    private static final int MAX_HEADER = 1 << 20;
    private static final int MAX_ENTRIES = 1024;
    /** Deflate expands at most about 1032 times: no entry can hold more data than this many times the file. */
    private static final long MAX_RATIO = 1100;

    private NumpyArchive() {}

    /** Each array by its name without ".npy", in the archive's order: float16, float32 or float64 arrays. */
    static Map<String, NDArray> read(Path file) throws IOException {
        String where = file.toString();
        long bound = Math.min(Integer.MAX_VALUE - 8L, Files.size(file) * MAX_RATIO);
        Map<String, NDArray> arrays = new LinkedHashMap<>();
        try (ZipFile zip = new ZipFile(file.toFile())) {
            List<? extends ZipEntry> entries = entries(zip, where);
            for (ZipEntry entry : entries) {
                String name = entry.getName();
                if (!name.endsWith(".npy") || entry.isDirectory()) {
                    throw new SaeFormatException(where, name, "only .npy arrays in the archive", "another entry");
                }
                String key = name.substring(0, name.length() - 4);
                if (arrays.containsKey(key)) {
                    throw new SaeFormatException(where, name, "one entry of that name", "two");
                }
                try (InputStream in = zip.getInputStream(entry)) {
                    arrays.put(key, array(in, where + " entry " + name, bound));
                }
            }
        } catch (ZipException | EOFException e) {
            arrays.values().forEach(NDArray::close);
            throw new SaeFormatException(where, "(the file)", "a readable zip archive of .npy files", e.getMessage());
        } catch (IOException | RuntimeException e) {
            arrays.values().forEach(NDArray::close);
            throw e;
        }
        return arrays;
    }

    private static List<? extends ZipEntry> entries(ZipFile zip, String where) {
        if (zip.size() > MAX_ENTRIES) {
            throw new SaeFormatException(where, "(the file)", "at most " + MAX_ENTRIES + " arrays", zip.size() + " entries");
        }
        List<ZipEntry> list = new ArrayList<>();
        Enumeration<? extends ZipEntry> e = zip.entries();
        while (e.hasMoreElements()) {
            list.add(e.nextElement());
        }
        return list;
    }

    /** One .npy file's array; {@code where} names it in errors, {@code bound} caps the bytes its header may claim. */
    static NDArray array(InputStream in, String where, long bound) throws IOException {
        byte[] magic = in.readNBytes(8);
        if (magic.length < 8 || !java.util.Arrays.equals(magic, 0, 6, MAGIC, 0, 6)) {
            throw new SaeFormatException(where, "magic", "\\x93NUMPY and a version (an .npy array)", "other bytes");
        }
        int major = magic[6];
        if (major < 1 || major > 3 || magic[7] != 0) {
            throw new SaeFormatException(where, "version", "1.0, 2.0 or 3.0", major + "." + magic[7]);
        }
        byte[] lengthBytes = in.readNBytes(major == 1 ? 2 : 4);
        long length = 0;
        for (int i = lengthBytes.length - 1; i >= 0; i--) {
            length = length << 8 | (lengthBytes[i] & 0xFF);
        }
        if (lengthBytes.length < (major == 1 ? 2 : 4) || length > MAX_HEADER) {
            throw new SaeFormatException(where, "header length", "at most " + MAX_HEADER + " bytes", String.valueOf(length));
        }
        byte[] headerBytes = in.readNBytes((int) length);
        if (headerBytes.length < length) {
            throw new SaeFormatException(where, "header", length + " bytes", "the entry ended after " + headerBytes.length);
        }
        String text = new String(headerBytes, major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
        NpyHeader header = NpyHeader.parse(where, text);
        long bytes = header.elements() * header.itemSize();
        if (header.elements() < 0 || bytes > bound) {
            throw new SaeFormatException(where, "shape", "at most " + bound + " bytes of data (what the file can hold,"
                    + " and the largest array Loupe holds)", header.shapeText());
        }
        byte[] data = in.readNBytes((int) bytes);
        if (data.length < bytes) {
            throw new SaeFormatException(where, "data", bytes + " bytes for shape " + header.shapeText(),
                    data.length + " (truncated)");
        }
        if (header.bigEndian()) {
            swapBytes(data, header.itemSize());
        }
        if (header.fortranOrder()) {
            data = toRowMajor(data, header.shape(), header.itemSize());
        }
        return Tensors.fromBytes(ByteBuffer.wrap(data), new Shape(header.shape()), header.type());
    }

    /** Column-major data (fortran_order) in row-major order: each element moved to its C-order place. */
    private static byte[] toRowMajor(byte[] data, long[] shape, int size) {
        int n = shape.length;
        long[] cStride = new long[n];
        for (int k = n - 1, s = 1; k >= 0; s *= (int) shape[k], k--) {
            cStride[k] = s;
        }
        byte[] out = new byte[data.length];
        long[] index = new long[n];
        long c = 0;
        for (int f = 0; f + size <= data.length; f += size) {
            System.arraycopy(data, f, out, (int) (c * size), size);
            for (int k = 0; k < n; k++) { // the odometer of a column-major walk: the first index turns fastest
                if (++index[k] < shape[k]) {
                    c += cStride[k];
                    break;
                }
                index[k] = 0;
                c -= (shape[k] - 1) * cStride[k];
            }
        }
        return out;
    }

    private static void swapBytes(byte[] data, int size) {
        for (int i = 0; i + size <= data.length; i += size) {
            for (int a = i, b = i + size - 1; a < b; a++, b--) {
                byte t = data[a];
                data[a] = data[b];
                data[b] = t;
            }
        }
    }
}
