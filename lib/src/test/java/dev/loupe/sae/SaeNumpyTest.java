package dev.loupe.sae;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** numpy archives written by hand (np.savez's stored and np.savez_compressed's deflated zips, .npy versions 1 to 3). */
class SaeNumpyTest {

    @TempDir
    Path tmp;

    private static final float[] SIX = {1, 2, 3, 4, 5, 6};

    private Map<String, NDArray> read(Map<String, byte[]> arrays, boolean deflate) throws IOException {
        Path file = tmp.resolve("a" + deflate + arrays.hashCode() + ".npz");
        Files.write(file, SaeFiles.npz(arrays, deflate));
        return NumpyArchive.read(file);
    }

    @Test
    void everyVersionTypeAndCompressionReadsTheSameValues() throws IOException {
        for (boolean deflate : new boolean[] {false, true}) {
            for (int version = 1; version <= 3; version++) {
                Map<String, byte[]> arrays = new LinkedHashMap<>();
                arrays.put("f4", SaeFiles.npy(version, "<f4", false, new long[] {2, 3}, SaeFiles.encode(SIX, "F32")));
                arrays.put("f2", SaeFiles.npy(version, "<f2", false, new long[] {6}, SaeFiles.encode(SIX, "F16")));
                arrays.put("f8", SaeFiles.npy(version, "<f8", false, new long[] {3, 2}, SaeFiles.encode(SIX, "F64")));
                byte[] big = SaeFiles.encode(SIX, "F32");
                for (int i = 0; i < big.length; i += 4) { // big-endian: each value's bytes reversed
                    byte[] v = {big[i + 3], big[i + 2], big[i + 1], big[i]};
                    System.arraycopy(v, 0, big, i, 4);
                }
                arrays.put("be", SaeFiles.npy(version, ">f4", false, new long[] {1, 6}, big));
                Map<String, NDArray> got = read(arrays, deflate);
                String what = "version " + version + (deflate ? " deflated" : " stored");
                assertEquals(List.of("f4", "f2", "f8", "be"), List.copyOf(got.keySet()), what);
                assertEquals(new Shape(2, 3), got.get("f4").getShape());
                assertEquals(DataType.FLOAT16, got.get("f2").getDataType());
                assertEquals(DataType.FLOAT64, got.get("f8").getDataType());
                for (NDArray a : got.values()) {
                    assertArrayEquals(SIX, a.toType(DataType.FLOAT32, false).toFloatArray(), what);
                    a.close();
                }
            }
        }
    }

    @Test
    void fortranOrderArraysComeBackInRowMajorOrder() throws IOException {
        // [[1, 2, 3], [4, 5, 6]] in column-major order is 1 4 2 5 3 6.
        byte[] columns = SaeFiles.encode(new float[] {1, 4, 2, 5, 3, 6}, "F32");
        // a [2, 3, 2] array whose element (i, j, k) is 100i + 10j + k, column-major: i turns fastest
        float[] cube = new float[12];
        int f = 0;
        for (int k = 0; k < 2; k++) {
            for (int j = 0; j < 3; j++) {
                for (int i = 0; i < 2; i++) {
                    cube[f++] = 100 * i + 10 * j + k;
                }
            }
        }
        Map<String, NDArray> got = read(Map.of("m", SaeFiles.npy(1, "<f4", true, new long[] {2, 3}, columns),
                "c", SaeFiles.npy(2, "<f4", true, new long[] {2, 3, 2}, SaeFiles.encode(cube, "F32"))), false);
        assertArrayEquals(SIX, got.get("m").toFloatArray());
        assertEquals(new Shape(2, 3), got.get("m").getShape());
        assertArrayEquals(new float[] {0, 1, 10, 11, 20, 21, 100, 101, 110, 111, 120, 121}, got.get("c").toFloatArray());
        got.values().forEach(NDArray::close);
    }

    /** An archive of one .npy whose refusal names the file, the entry and these words. */
    private void refused(byte[] npy, String... words) throws IOException {
        Path file = tmp.resolve("bad.npz");
        Files.write(file, SaeFiles.npz(Map.of("W_enc", npy), false));
        SaeFormatException e = assertThrows(SaeFormatException.class, () -> NumpyArchive.read(file));
        assertTrue(e.getMessage().contains(file + " entry W_enc.npy"), e.getMessage());
        for (String w : words) {
            assertTrue(e.getMessage().contains(w), "'" + w + "' missing from: " + e.getMessage());
        }
    }

    @Test
    void objectArraysPickleAndOtherTypesAreRefused() throws IOException {
        byte[] pickle = {(byte) 0x80, 4, (byte) 0x95}; // what an object array's data begins with
        refused(SaeFiles.npy(1, "|O", false, new long[] {1}, pickle), "'|O'", "pickled");
        refused(pickle, "magic");
        refused(SaeFiles.npy(1, "<i8", false, new long[] {1}, new byte[8]), "descr", "'<i8'");
        refused(SaeFiles.npyWithHeader(1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", new byte[4]),
                "descr", "structured");
        refused(SaeFiles.npyWithHeader(1, "{'descr': '<f4', 'shape': (1,), }", new byte[4]), "header", "exactly");
        refused(SaeFiles.npyWithHeader(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", new byte[4]),
                "header", "exactly");
        refused(SaeFiles.npyWithHeader(1, "__import__('os').system('x')", new byte[4]), "header", "Python dict literal");
        refused(SaeFiles.npy(1, "<f4", false, new long[] {-1}, new byte[4]), "header");
        refused(SaeFiles.npy(1, "<f4", false, new long[] {4, 6}, new byte[40]), "data", "96 bytes", "40 (truncated)");
        refused(SaeFiles.npy(1, "<f4", false, new long[] {1L << 40, 1L << 20}, new byte[4]), "shape", "at most");
        byte[] v4 = SaeFiles.npy(1, "<f4", false, new long[] {1}, new byte[4]);
        v4[6] = 4;
        refused(v4, "version", "4.0");
    }

    @Test
    void aFileThatIsNoZipIsRefusedNamingIt() throws IOException {
        Path file = tmp.resolve("params.npz");
        byte[] zip = SaeFiles.gemmaScopeNpz(3, 5, true);
        Files.write(file, Arrays.copyOf(zip, zip.length / 2));
        SaeFormatException e = assertThrows(SaeFormatException.class, () -> NumpyArchive.read(file));
        assertTrue(e.getMessage().startsWith(file + ": (the file): expected a readable zip archive"), e.getMessage());
    }
}
