package dev.loupe.tensor;

import ai.djl.engine.EngineException;
import ai.djl.ndarray.NDArray;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.util.NativeResource;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.ref.Cleaner;
import java.nio.Buffer;
import java.lang.ref.WeakReference;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.Collection;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The resource table of Loupe's NDManager: it holds arrays weakly, so that an array nobody references
 * is freed by the garbage collector, as a Python tensor is freed when its last name goes away.
 *
 * <p>DJL's managers hold every array strongly until the manager is closed, which in a notebook session
 * means forever. This table replaces the manager's map: arrays are remembered through weak references
 * and a {@link Cleaner} deletes the native tensor once the Java object is unreachable. Closing an array
 * explicitly still frees it at once; the cleaner then finds the handle already cleared and does nothing.
 * Sub-managers and other resources are kept strongly, as DJL does.
 *
 * <p>The cleaner does not free a tensor itself: a Java array can become unreachable while the native operation it
 * was handed to is still running on another thread (an intermediate in {@code a.div(b).sqrt()} is garbage as soon
 * as its handle has been read). Found arrays wait in a queue and are freed by the thread that made them, the next
 * time it makes an array (so it is not inside a native call), or by any thread once that thread has ended.
 *
 * <p>DJL makes an array from Java values ({@code manager.create(long[])}) by wrapping a direct buffer that only that
 * Java object keeps alive, not libtorch: a view of it ({@code reshape}, {@code get}) would read freed memory once the
 * first array is collected. The constructor attaches the buffer only after the array is registered here, so such an
 * array is recognised when its thread makes the next one, the first moment a view of it can exist: it is then moved
 * into libtorch's own storage, and the new array, if it reads the buffer (a view made before the move, or a view of
 * that view, and so on), keeps the buffer alive for as long as it lives.
 *
 * <p>The JVM does not see native memory, so the table counts the bytes it tracks and asks for a
 * collection when they have grown past a threshold, the way direct byte buffers do.
 */
final class ReclaimingResources extends ConcurrentHashMap<String, AutoCloseable> {

    private static final Cleaner CLEANER = Cleaner.create();
    private static final sun.misc.Unsafe UNSAFE = (sun.misc.Unsafe) staticField(sun.misc.Unsafe.class, "theUnsafe");
    private static final Field HANDLE;
    private static final Field JAVA_BUFFER;
    private static final Object LIBTORCH;
    private static final MethodHandle CLONE;
    private static final MethodHandle DATA;
    private static final long ADDRESS = UNSAFE.objectFieldOffset(field(Buffer.class, "address"));

    static {
        try {
            HANDLE = NativeResource.class.getDeclaredField("handle");
            HANDLE.setAccessible(true);
            JAVA_BUFFER = PtNDArray.class.getDeclaredField("dataRef");
            JAVA_BUFFER.setAccessible(true);
            // The native clone itself: a clone through DJL would make an array, and this runs while one is registered.
            Class<?> library = Class.forName("ai.djl.pytorch.jni.PyTorchLibrary");
            LIBTORCH = staticField(library, "LIB");
            Method clone = library.getDeclaredMethod("tensorClone", long.class);
            clone.setAccessible(true);
            CLONE = MethodHandles.lookup().unreflect(clone);
            Method data = library.getDeclaredMethod("torchDirectByteBuffer", long.class);
            data.setAccessible(true);
            DATA = MethodHandles.lookup().unreflect(data);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** The array a thread made last, and the Java buffer it reads (null if none). */
    private record Made(WeakReference<NDArray> array, Buffer reads) {}

    private final ConcurrentHashMap<String, WeakReference<NDArray>> arrays = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, Release> releases = new ConcurrentHashMap<>();
    private final ConcurrentLinkedQueue<Release> unreachable = new ConcurrentLinkedQueue<>();
    private final ThreadLocal<Made> lastMade = new ThreadLocal<>();
    private final AtomicLong liveBytes = new AtomicLong();
    private final AtomicLong peakBytes = new AtomicLong();
    private final long minCollectBytes;
    private volatile long collectAtBytes;

    ReclaimingResources(long minCollectBytes) {
        this.minCollectBytes = minCollectBytes;
        this.collectAtBytes = minCollectBytes;
    }

    long liveBytes() {
        return liveBytes.get();
    }

    /** The most bytes live at once since the last {@link #resetPeak()}. */
    long peakBytes() {
        return peakBytes.get();
    }

    /** Starts a new high-water mark at what is live now. */
    void resetPeak() {
        peakBytes.set(liveBytes.get());
    }

    int liveArrays() {
        return arrays.size();
    }

    @Override
    public AutoCloseable put(String id, AutoCloseable resource) {
        if (!(resource instanceof NDArray array)) {
            return super.put(id, resource);
        }
        Buffer reads = bufferReadBy(array);
        long bytes = array.getShape().size() * array.getDataType().getNumOfBytes();
        WeakReference<NDArray> ref = new WeakReference<>(array);
        arrays.put(id, ref);
        lastMade.set(new Made(ref, reads));
        Release release = new Release(handleOf(array), bytes, id, reads);
        releases.put(id, release);
        release.cleanable = CLEANER.register(array, release);
        long live = liveBytes.addAndGet(bytes);
        peakBytes.accumulateAndGet(live, Math::max);
        drain();
        if (liveBytes.get() > collectAtBytes) {
            collect();
        }
        return null;
    }

    @Override
    public AutoCloseable remove(Object id) {
        // Called when an array is closed or moved to another manager: it is no longer ours to free.
        Release release = releases.get(id);
        if (release == null) {
            return super.remove(id);
        }
        release.disowned = true;
        release.cleanable.clean();
        return null;
    }

    @Override
    public Collection<AutoCloseable> values() {
        Collection<AutoCloseable> all = new ArrayList<>(super.values());
        for (WeakReference<NDArray> ref : arrays.values()) {
            NDArray array = ref.get();
            if (array != null) {
                all.add(array);
            }
        }
        return all;
    }

    @Override
    public int size() {
        return super.size() + arrays.size();
    }

    @Override
    public void clear() {
        super.clear();
        arrays.clear();
    }

    /** Collects now, whatever the threshold, and frees what this thread (or ended threads) made and dropped. */
    synchronized void collectNow() {
        collectAtBytes = -1;
        collect();
    }

    /**
     * Runs the collector and waits for the cleaner to free what it found (until the count stops falling, at most
     * a second): the next threshold is set from what survived, and a lagging cleaner must not inflate that.
     */
    private synchronized void collect() {
        if (liveBytes.get() <= collectAtBytes) {
            return;
        }
        System.gc();
        long previous = liveBytes.get();
        for (int i = 0; i < 200; i++) {
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
            drain();
            long now = liveBytes.get();
            if (now == previous && i >= 2) {
                break;
            }
            previous = now;
        }
        // A quarter more than survived, not twice: with GPT-2's caches of 60 prompts alive (3.5 GB), garbage up to their
        // size again took the kernel to 9 GB. A collection costs little beside the forward passes that make the garbage.
        long survived = liveBytes.get();
        collectAtBytes = survived + Math.max(minCollectBytes, survived / 4);
    }

    /**
     * The Java buffer {@code next} reads, if any: the one the array this thread made last wraps (that array then moves
     * to libtorch's storage) or reads, when {@code next}'s data lies in it.
     */
    private Buffer bufferReadBy(NDArray next) {
        Made made = lastMade.get();
        NDArray last = made == null ? null : made.array().get();
        Buffer wrapped = last == null ? null : javaBuffer(last);
        Buffer buffer = wrapped != null ? wrapped : made == null ? null : made.reads();
        if (buffer == null) {
            return null;
        }
        Release release = wrapped == null ? null : releases.get(last.getUid());
        if (release != null && !last.isReleased()) {
            // Another thread may be reading it through the old tensor: that and the buffer go when the array does.
            release.wrapping = copyIntoOwnStorage(last);
        }
        long start = UNSAFE.getLong(buffer, ADDRESS);
        Long data = dataAddress(next);
        return data == null || (data >= start && data < start + buffer.capacity()) ? buffer : null;
    }

    /** Where the array's first element is in memory; null if libtorch does not say (a strided view). */
    private static Long dataAddress(NDArray array) {
        try {
            Buffer data = (Buffer) DATA.invoke(LIBTORCH, (long) handleOf(array).get());
            return data == null ? null : UNSAFE.getLong(data, ADDRESS);
        } catch (EngineException notContiguous) {
            return null;
        } catch (Throwable e) {
            throw new IllegalStateException("Could not find where an array's data is", e);
        }
    }

    /** Gives an array this thread has just made from a Java buffer storage of libtorch's own, now. */
    void ownStorageNow(NDArray made) {
        JniUtils.deleteNDArray(copyIntoOwnStorage(made));
        try {
            JAVA_BUFFER.set(made, null); // nothing reads the buffer any more
        } catch (IllegalAccessException e) {
            throw new IllegalStateException(e);
        }
        lastMade.remove();
    }

    /** Points the array at a copy of its tensor in libtorch's storage; returns the old tensor, for the caller to free. */
    private static long copyIntoOwnStorage(NDArray array) {
        AtomicReference<Long> handle = handleOf(array);
        long wrapping = handle.get();
        try {
            handle.set((long) CLONE.invoke(LIBTORCH, wrapping));
        } catch (Throwable e) {
            throw new IllegalStateException("Could not copy an array into libtorch's storage", e);
        }
        return wrapping;
    }

    private static Buffer javaBuffer(NDArray array) {
        try {
            return array instanceof PtNDArray ? (Buffer) JAVA_BUFFER.get(array) : null;
        } catch (IllegalAccessException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Frees the unreachable arrays this thread made, and those of threads that have ended. */
    private void drain() {
        if (unreachable.isEmpty()) {
            return;
        }
        Thread me = Thread.currentThread();
        for (int n = unreachable.size(); n > 0; n--) {
            Release r = unreachable.poll();
            if (r == null) {
                break;
            }
            if (r.owner == me || !r.owner.isAlive()) {
                r.free();
            } else {
                unreachable.add(r);
            }
        }
    }

    private static Field field(Class<?> owner, String name) {
        try {
            return owner.getDeclaredField(name);
        } catch (NoSuchFieldException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private static Object staticField(Class<?> owner, String name) {
        try {
            Field f = field(owner, name);
            f.setAccessible(true);
            return f.get(null);
        } catch (IllegalAccessException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    @SuppressWarnings("unchecked")
    private static AtomicReference<Long> handleOf(NDArray array) {
        try {
            return (AtomicReference<Long>) HANDLE.get(array);
        } catch (IllegalAccessException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Frees one native tensor once its array is unreachable; holds no reference to the array itself, or it would
     * never be collected.
     */
    private final class Release implements Runnable {
        private final AtomicReference<Long> handle;
        private final long bytes;
        private final String id;
        private final Thread owner = Thread.currentThread();
        @SuppressWarnings("unused") // held so that the Java buffer the array reads lives as long as the array
        private final Buffer reads;
        volatile boolean disowned;
        /** The tensor over the Java buffer this array wrapped before it was copied into libtorch's storage. */
        volatile Long wrapping;
        Cleaner.Cleanable cleanable;

        Release(AtomicReference<Long> handle, long bytes, String id, Buffer reads) {
            this.handle = handle;
            this.bytes = bytes;
            this.id = id;
            this.reads = reads;
        }

        /** Run by the cleaner (the array is unreachable) or by close/detach (it is no longer ours). */
        @Override
        public void run() {
            if (disowned) {
                freeWrapping();
                settle();
            } else {
                unreachable.add(this);
            }
        }

        void free() {
            Long pointer = handle.getAndSet(null);
            if (pointer != null && pointer != -1) {
                JniUtils.deleteNDArray(pointer);
            }
            freeWrapping();
            settle();
        }

        private void freeWrapping() {
            Long old = wrapping;
            wrapping = null;
            if (old != null) {
                JniUtils.deleteNDArray(old);
            }
        }

        private void settle() {
            liveBytes.addAndGet(-bytes);
            arrays.remove(id);
            releases.remove(id);
        }
    }
}
