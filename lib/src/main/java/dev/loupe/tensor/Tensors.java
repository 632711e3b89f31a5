package dev.loupe.tensor;

import ai.djl.Device;
import ai.djl.ndarray.BaseNDManager;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import java.lang.reflect.Field;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Where Loupe's arrays live. Every array Loupe makes, and every array derived from one, belongs to one
 * process-wide manager whose arrays are freed by the garbage collector once unreferenced (see
 * {@link ReclaimingResources}); {@code close()} still frees one at once. Temporaries of a forward pass
 * are freed at its end by an {@link ai.djl.ndarray.NDScope}, without waiting for a collection.
 */
public final class Tensors {

    /** A collection is requested when tracked native memory grows this much (or a quarter) past what survived the last. */
    private static final long MIN_COLLECT_BYTES =
            Long.getLong("loupe.gc.minBytes", 512L * 1024 * 1024);

    private static final ReclaimingResources RESOURCES = new ReclaimingResources(MIN_COLLECT_BYTES);
    private static final NDManager MANAGER = createManager();

    private Tensors() {}

    private static NDManager createManager() {
        if (System.getProperty("ai.djl.offline") == null) {
            System.setProperty("ai.djl.offline", "true"); // the native jar is on the class path: never download
        }
        NDManager manager = NDManager.newBaseManager(Device.cpu(), "PyTorch");
        manager.setName("loupe");
        try {
            Field resources = BaseNDManager.class.getDeclaredField("resources");
            resources.setAccessible(true);
            resources.set(manager, RESOURCES);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
        return manager;
    }

    /** The manager of every Loupe array. Arrays made from it are freed when unreferenced. */
    public static NDManager manager() {
        return MANAGER;
    }

    /** Native bytes held by live Loupe arrays (those not yet closed or collected). */
    public static long liveBytes() {
        return RESOURCES.liveBytes();
    }

    /**
     * Runs the garbage collector and frees every unreferenced Loupe array this thread (or a thread that has ended)
     * made; normally this happens by itself as arrays are made.
     */
    public static void collect() {
        RESOURCES.collectNow();
    }

    /**
     * The most native bytes Loupe arrays held at once since the last {@link #resetPeak()}: what a piece of work
     * needed at its worst, as {@code torch.cuda.max_memory_allocated} tells on a GPU.
     */
    public static long peakBytes() {
        return RESOURCES.peakBytes();
    }

    /** Starts a new high-water mark for {@link #peakBytes()} at what is live now. */
    public static void resetPeak() {
        RESOURCES.resetPeak();
    }

    /** Number of live Loupe arrays. */
    public static int liveArrays() {
        return RESOURCES.liveArrays();
    }

    /**
     * One element as a double, whatever the array's type: TransformerLens's {@code x[l, h].item()} is
     * {@code Tensors.item(x, l, h)}; with no indices the array must hold one element ({@code x.max().item()}).
     * Negative indices count from the end. DJL's {@code getDouble} refuses float32 arrays; this does not.
     */
    public static double item(NDArray x, long... indices) {
        Shape s = x.getShape();
        if (indices.length == 0 && x.size() != 1) {
            throw new IllegalArgumentException("item() of an array of shape " + s + " (" + x.size() + " elements): index one"
                    + " element, e.g. Tensors.item(x, " + "0, ".repeat(Math.max(0, s.dimension() - 1)) + "0)");
        }
        if (indices.length != 0 && indices.length != s.dimension()) {
            throw new IllegalArgumentException("item() needs one index per axis of shape " + s + " (" + s.dimension()
                    + "), got " + indices.length);
        }
        long[] at = indices.clone();
        for (int i = 0; i < at.length; i++) {
            long n = s.get(i);
            if (at[i] < -n || at[i] >= n) {
                throw new IndexOutOfBoundsException("Index " + at[i] + " is out of range for axis " + i + " of shape " + s);
            }
            at[i] = at[i] < 0 ? n + at[i] : at[i];
        }
        NDArray one = at.length == 0 ? x : x.get(new ai.djl.ndarray.index.NDIndex(at));
        return one.toType(DataType.FLOAT64, false).toDoubleArray()[0];
    }

    /** [batch, ...] repeated as [copies · batch, ...], copy-major: row i is row i mod batch (one copy of a run per patch, say). */
    public static NDArray tile(NDArray array, long copies) {
        Shape s = array.getShape();
        return array.expandDims(0).repeat(0, copies).reshape(new Shape(copies * s.get(0)).addAll(s.slice(1)));
    }

    /** An int64 array of these values with this shape, owned by libtorch (not backed by Java memory). */
    public static NDArray ofLongs(long[] values, Shape shape) {
        return owned(MANAGER.create(values, shape));
    }

    /** An int64 array of these ids, shape [1, n]. */
    public static NDArray tokens(int... ids) {
        long[] values = new long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            values[i] = ids[i];
        }
        return ofLongs(values, new Shape(1, ids.length));
    }

    public static NDArray ofFloats(float[] values, Shape shape) {
        return owned(MANAGER.create(values, shape));
    }

    public static NDArray ofBooleans(boolean[] values, Shape shape) {
        return owned(MANAGER.create(values, shape));
    }

    public static NDArray ofDoubles(double[] values, Shape shape) {
        return owned(MANAGER.create(values, shape));
    }

    /**
     * A 0-d array of this value and type in libtorch's own storage. Use it instead of DJL's scalar overloads
     * ({@code x.div(2.0)}, {@code mul}, {@code pow}, {@code maximum}) wherever a gradient may be taken: those wrap a
     * Java buffer, close it on return, and autograd, which saved the scalar for the backward pass, then reads freed
     * memory once the buffer is collected (the gradients of a 16 × 256 batch came out NaN).
     */
    public static NDArray scalar(double value, DataType type) {
        return ofDoubles(new double[] {value}, new Shape()).toType(type, false);
    }

    /** An array copied out of little-endian bytes (for example a slice of a memory-mapped file). */
    public static NDArray fromBytes(ByteBuffer bytes, Shape shape, DataType type) {
        ByteBuffer data = bytes.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        if (!data.isDirect()) {
            ByteBuffer direct = ByteBuffer.allocateDirect(data.remaining()).order(ByteOrder.nativeOrder());
            direct.put(data).flip();
            data = direct;
        }
        return owned(MANAGER.create(data, shape, type));
    }

    /**
     * DJL wraps Java buffers without copying; a view of such an array outlives the buffer's owner and would read
     * freed memory (and a buffer the caller reuses changes under it). The data is copied into libtorch's own storage.
     */
    private static NDArray owned(NDArray wrapped) {
        RESOURCES.ownStorageNow(wrapped);
        return wrapped;
    }
}
