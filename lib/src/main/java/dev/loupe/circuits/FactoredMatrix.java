package dev.loupe.circuits;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import dev.loupe.tensor.Tensors;

import java.util.Arrays;
import java.util.Comparator;
import java.util.stream.IntStream;

/**
 * A matrix kept as the product of two factors, {@code A @ B} with A [..., m, k] and B [..., k, n], TransformerLens's
 * {@code FactoredMatrix}. Leading dimensions broadcast (one matrix per head, per layer and head, ...). Attention
 * weights are naturally low rank (k = d_head, m = n = d_model or d_vocab), so the product is rarely worth forming:
 * the spectral methods here work on the factors only.
 *
 * <ul>
 *   <li>{@link #svd()} returns (U [..., m, r], S [..., r], Vh [..., n, r]) with {@code AB = U diag(S) Vh^T} and
 *       r = min(m, k, n). As in TransformerLens, "Vh" is V itself (its columns are the right singular vectors),
 *       not V^T. It is computed from thin QR factorisations A = Qa Ra and B^T = Qb Rb (libtorch products for the
 *       tall side, see {@link ThinQr}) and a Jacobi SVD of the small Ra Rb^T = Um S Vm^T in Java: U = Qa Um,
 *       V = Qb Vm. All in float64, and the m x n product is never formed.</li>
 *   <li>{@link #norm()} is ‖Ra B‖, equal to sqrt(Σ S²) without the SVD.</li>
 *   <li>{@link #eigenvalues()} are those of BA (k x k): if BA v = λ v then AB (A v) = λ (A v), so the nonzero
 *       eigenvalues of AB are among them and the rest of AB's are zero.</li>
 * </ul>
 * Results come back in the factors' data type (computed in float64 internally). Instances are immutable; the SVD
 * is computed once, on first use.
 */
public final class FactoredMatrix {

    private final NDArray a;
    private final NDArray b;
    private final Shape leading;
    private final long ldim;
    private final long mdim;
    private final long rdim;
    private volatile Svd64 svd64;
    private volatile ThinQr[] qrs;

    /** A [..., m, k] and B [..., k, n]; their leading dimensions must broadcast together. */
    public FactoredMatrix(NDArray a, NDArray b) {
        Shape sa = a.getShape();
        Shape sb = b.getShape();
        if (sa.dimension() < 2 || sb.dimension() < 2) {
            throw new IllegalArgumentException("A factored matrix needs factors with at least 2 dimensions, A [..., m, k] and"
                    + " B [..., k, n]; got A " + sa + " and B " + sb + ". Reshape a vector v to a matrix with v.reshape(-1, 1).");
        }
        if (sa.get(sa.dimension() - 1) != sb.get(sb.dimension() - 2)) {
            throw new IllegalArgumentException("The factors must match on the inner dimension: A " + sa + " ends in "
                    + sa.get(sa.dimension() - 1) + " but B " + sb + " has " + sb.get(sb.dimension() - 2)
                    + " rows. (For QK pass W_K transposed: new FactoredMatrix(W_Q, W_K.transpose(0, 2, 1)).)");
        }
        if (a.getDataType() != b.getDataType()) {
            b = b.toType(a.getDataType(), false);
        }
        this.leading = broadcastShapes(sa.slice(0, sa.dimension() - 2), sb.slice(0, sb.dimension() - 2), sa, sb);
        this.ldim = sa.get(sa.dimension() - 2);
        this.mdim = sa.get(sa.dimension() - 1);
        this.rdim = sb.get(sb.dimension() - 1);
        Shape wantA = leading.addAll(new Shape(ldim, mdim));
        Shape wantB = leading.addAll(new Shape(mdim, rdim));
        this.a = sa.equals(wantA) ? a : a.broadcast(wantA);
        this.b = sb.equals(wantB) ? b : b.broadcast(wantB);
    }

    private static Shape broadcastShapes(Shape x, Shape y, Shape fullA, Shape fullB) {
        int n = Math.max(x.dimension(), y.dimension());
        long[] out = new long[n];
        for (int i = 0; i < n; i++) {
            long dx = i < n - x.dimension() ? 1 : x.get(i - (n - x.dimension()));
            long dy = i < n - y.dimension() ? 1 : y.get(i - (n - y.dimension()));
            if (dx != dy && dx != 1 && dy != 1) {
                throw new IllegalArgumentException("The leading dimensions of the factors do not broadcast: A " + fullA
                        + " has leading " + x + ", B " + fullB + " has leading " + y
                        + "; each leading dimension must be equal or 1 in one of them.");
            }
            out[i] = dx == 1 ? dy : dx;
        }
        return new Shape(out);
    }

    // ---------------------------------------------------------------- shape

    /** The left factor [..., m, k], broadcast to the full leading shape. */
    public NDArray A() { return a; }

    /** The right factor [..., k, n], broadcast to the full leading shape. */
    public NDArray B() { return b; }

    /** The shape of the product, [..., m, n]. */
    public Shape shape() {
        return leading.addAll(new Shape(ldim, rdim));
    }

    public int ndim() {
        return leading.dimension() + 2;
    }

    /** The leading (batch) dimensions, e.g. [head]. */
    public Shape leadingShape() {
        return leading;
    }

    /** Rows of the product (m). */
    public long ldim() { return ldim; }

    /** The inner dimension (k): the product's rank is at most this. */
    public long mdim() { return mdim; }

    /** Columns of the product (n). */
    public long rdim() { return rdim; }

    public DataType dataType() {
        return a.getDataType();
    }

    /** The same matrix with factors of another data type, e.g. float64 for precise downstream work. */
    public FactoredMatrix toType(DataType type) {
        return type == dataType() ? this : new FactoredMatrix(a.toType(type, false), b.toType(type, false));
    }

    // ---------------------------------------------------------------- products

    /** The product A @ B [..., m, n], formed in full (m x n per leading index: mind the memory for d_vocab). */
    public NDArray AB() {
        return a.matMul(b);
    }

    /** The reverse product B @ A [..., k, k]; only defined when the product is square (m == n). */
    public NDArray BA() {
        requireSquare("BA");
        return b.matMul(a);
    }

    /** The transpose, B^T A^T, still factored. */
    public FactoredMatrix T() {
        return new FactoredMatrix(mT(b), mT(a));
    }

    /** {@code this @ other} for a matrix other [..., n, p]: a factored matrix [..., m, p]. */
    public FactoredMatrix matMul(NDArray other) {
        Shape s = other.getShape();
        if (s.dimension() < 2) {
            throw new IllegalArgumentException("matMul takes a matrix [..., " + rdim + ", p]; for a vector use matVec. Got " + s);
        }
        if (s.get(s.dimension() - 2) != rdim) {
            throw new IllegalArgumentException("Cannot multiply " + this + " by a matrix of shape " + s + ": its second-last"
                    + " dimension must be " + rdim + " (the factored matrix's columns).");
        }
        checkLeading(s, "matMul");
        // TransformerLens's rule: keep the inner dimension as small as possible.
        return rdim > mdim ? new FactoredMatrix(a, b.matMul(other)) : new FactoredMatrix(AB(), other);
    }

    private void checkLeading(Shape other, String what) {
        Shape otherLeading = other.slice(0, other.dimension() - 2);
        try {
            broadcastShapes(leading, otherLeading, shape(), other);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(what + ": the leading dimensions of " + this + " and of the matrix " + other
                    + " do not broadcast (" + leading + " vs " + otherLeading + ").");
        }
    }

    /** {@code this @ other} for another factored matrix: (this @ other.A) @ other.B. */
    public FactoredMatrix matMul(FactoredMatrix other) {
        return matMul(other.a).matMul(other.b);
    }

    /** {@code other @ this} for a matrix other [..., p, m]: a factored matrix [..., p, n]. */
    public FactoredMatrix leftMatMul(NDArray other) {
        Shape s = other.getShape();
        if (s.dimension() < 2) {
            throw new IllegalArgumentException("leftMatMul takes a matrix [..., p, " + ldim + "]; for a vector use vecMat. Got " + s);
        }
        if (s.get(s.dimension() - 1) != ldim) {
            throw new IllegalArgumentException("Cannot multiply a matrix of shape " + s + " by " + this + ": its last"
                    + " dimension must be " + ldim + " (the factored matrix's rows).");
        }
        checkLeading(s, "leftMatMul");
        return ldim > mdim ? new FactoredMatrix(other.matMul(a), b) : new FactoredMatrix(other, AB());
    }

    /** A (B v) for a vector v [n]: [..., m]. */
    public NDArray matVec(NDArray v) {
        if (v.getShape().dimension() != 1 || v.getShape().get(0) != rdim) {
            throw new IllegalArgumentException("matVec takes a vector [" + rdim + "], got " + v.getShape());
        }
        return a.matMul(b.matMul(v.reshape(rdim, 1))).squeeze(-1);
    }

    /** (v A) B for a vector v [m]: [..., n]. */
    public NDArray vecMat(NDArray v) {
        if (v.getShape().dimension() != 1 || v.getShape().get(0) != ldim) {
            throw new IllegalArgumentException("vecMat takes a vector [" + ldim + "], got " + v.getShape());
        }
        return v.reshape(1, ldim).matMul(a).matMul(b).squeeze(-2);
    }

    /** The matrix times a scalar (the left factor is scaled). */
    public FactoredMatrix times(double scalar) {
        return new FactoredMatrix(a.mul(scalar), b);
    }

    /** The top-left k x k corner of the product [..., k, k], computed from k rows of A and k columns of B only. */
    public NDArray getCorner(int k) {
        if (k < 1) {
            throw new IllegalArgumentException("The corner size must be positive, got " + k);
        }
        long rows = Math.min(k, ldim);
        long cols = Math.min(k, rdim);
        return a.get(new NDIndex("..., :" + rows + ", :")).matMul(b.get(new NDIndex("..., :, :" + cols)));
    }

    /** The top-left 3 x 3 corner, as TransformerLens's default. */
    public NDArray getCorner() {
        return getCorner(3);
    }

    // ---------------------------------------------------------------- indexing leading dimensions

    /** The matrix at these leading indices, e.g. {@code qk.get(3)} for head 3 of a per-head matrix. */
    public FactoredMatrix get(long... leadingIndices) {
        if (leadingIndices.length > leading.dimension()) {
            throw new IllegalArgumentException(leadingIndices.length + " indices for a factored matrix with "
                    + leading.dimension() + " leading dimension(s) " + leading + "; index rows and columns through AB() or A()/B().");
        }
        for (int i = 0; i < leadingIndices.length; i++) {
            if (leadingIndices[i] < 0 || leadingIndices[i] >= leading.get(i)) {
                throw new IndexOutOfBoundsException("Index " + leadingIndices[i] + " is out of range for leading dimension "
                        + i + " of size " + leading.get(i) + " (leading shape " + leading + ")");
            }
        }
        NDIndex index = new NDIndex(leadingIndices);
        return new FactoredMatrix(a.get(index), b.get(index));
    }

    /** A new leading dimension of size 1 at position {@code dim} (0 ≤ dim ≤ number of leading dimensions). */
    public FactoredMatrix unsqueeze(int dim) {
        if (dim < 0 || dim > leading.dimension()) {
            throw new IllegalArgumentException("unsqueeze position " + dim + " must be within the leading dimensions, 0.."
                    + leading.dimension());
        }
        return new FactoredMatrix(a.expandDims(dim), b.expandDims(dim));
    }

    // ---------------------------------------------------------------- spectral methods

    /** U [..., m, r], S [..., r] (descending), Vh [..., n, r] with AB = U diag(S) Vh^T ("Vh" is V, as in TransformerLens). */
    public record Svd(NDArray U, NDArray S, NDArray Vh) {}

    /** The singular value decomposition of the product, without forming it (see the class notes). */
    public Svd svd() {
        Svd64 s = svd64();
        DataType t = dataType();
        return new Svd(cast(s.u, t), cast(s.s, t), cast(s.v, t));
    }

    public NDArray U() { return svd().U(); }

    public NDArray S() { return svd().S(); }

    public NDArray Vh() { return svd().Vh(); }

    /**
     * The Frobenius norm of the product [...]: sqrt of the sum of squared singular values, computed as ‖Ra B‖ with
     * A = Qa Ra, which needs no SVD.
     */
    public NDArray norm() {
        return cast(norm64(), dataType());
    }

    /** S[..., :, None] * Vh^T [..., r, n]: the product with its left orthogonal factor U removed. */
    public NDArray collapseL() {
        return cast(collapseL64(), dataType());
    }

    /** U * S[..., None, :] [..., m, r]: the product with its right orthogonal factor removed. */
    public NDArray collapseR() {
        return cast(collapseR64(), dataType());
    }

    /** The same matrix as U sqrt(S) times sqrt(S) Vh^T: each factor carries half of each singular value. */
    public FactoredMatrix makeEven() {
        Svd64 s = svd64();
        NDArray root = s.s.sqrt();
        DataType t = dataType();
        return new FactoredMatrix(cast(s.u.mul(root.expandDims(-2)), t), cast(root.expandDims(-1).mul(mT(s.v)), t));
    }

    /** ‖AB‖ = ‖Ra B‖ (A = Qa Ra): no SVD needed. */
    NDArray norm64() {
        return leftReduced64().square().sum(new int[] {-2, -1}).sqrt();
    }

    NDArray collapseL64() {
        Svd64 s = svd64();
        return s.s.expandDims(-1).mul(mT(s.v));
    }

    NDArray collapseR64() {
        Svd64 s = svd64();
        return s.u.mul(s.s.expandDims(-2));
    }

    /** Eigenvalues as real and imaginary parts [..., k], each row sorted by descending modulus. */
    public record Eigenvalues(NDArray real, NDArray imag) {
        /** The moduli |λ| [..., k]. */
        public NDArray abs() {
            return real.square().add(imag.square()).sqrt();
        }

        @Override
        public String toString() {
            return "Eigenvalues(real " + real.getShape() + ", imag " + imag.getShape() + ")";
        }
    }

    /**
     * The eigenvalues of the product (square products only), from those of BA [..., k, k]. The product's other
     * m − k eigenvalues are zero. Each row is sorted by descending modulus (ties: larger real part, then positive
     * imaginary part first); TransformerLens returns torch.linalg.eig's unspecified order.
     */
    public Eigenvalues eigenvalues() {
        requireSquare("eigenvalues");
        NDArray ba = b.toType(DataType.FLOAT64, false).matMul(a.toType(DataType.FLOAT64, false));
        int k = (int) mdim;
        int count = (int) leading.size();
        double[] flat = ba.reshape(count, k, k).toDoubleArray();
        double[] re = new double[count * k];
        double[] im = new double[count * k];
        IntStream.range(0, count).parallel().forEach(i -> {
            double[][] m = new double[k][k];
            for (int r = 0; r < k; r++) {
                System.arraycopy(flat, i * k * k + r * k, m[r], 0, k);
            }
            double[] wr = new double[k];
            double[] wi = new double[k];
            DenseLinalg.eigenvalues(m, wr, wi);
            Integer[] order = new Integer[k];
            for (int j = 0; j < k; j++) {
                order[j] = j;
            }
            Arrays.sort(order, Comparator.<Integer>comparingDouble(j -> -Math.hypot(wr[j], wi[j]))
                    .thenComparingDouble(j -> -wr[j]).thenComparingDouble(j -> -wi[j]));
            for (int j = 0; j < k; j++) {
                re[i * k + j] = wr[order[j]];
                im[i * k + j] = wi[order[j]];
            }
        });
        Shape shape = leading.addAll(new Shape(k));
        DataType t = dataType();
        return new Eigenvalues(cast(Tensors.ofDoubles(re, shape), t), cast(Tensors.ofDoubles(im, shape), t));
    }

    private void requireSquare(String what) {
        if (ldim != rdim) {
            throw new IllegalStateException(what + " needs a square product, but " + this + " is " + ldim + " x " + rdim + ".");
        }
    }

    /** The SVD in float64, computed once. */
    private Svd64 svd64() {
        Svd64 s = svd64;
        if (s == null) {
            synchronized (this) {
                s = svd64;
                if (s == null) {
                    s = computeSvd();
                    svd64 = s;
                }
            }
        }
        return s;
    }

    private record Svd64(NDArray u, NDArray s, NDArray v) {}

    /** Thin QR of A and of B^T, each batched over the flattened leading dimensions; computed once. */
    private ThinQr[] qrs() {
        ThinQr[] q = qrs;
        if (q == null) {
            synchronized (this) {
                q = qrs;
                if (q == null) {
                    int count = (int) leading.size();
                    q = new ThinQr[] {ThinQr.of(a64(count)), ThinQr.of(mT(b64(count)))};
                    qrs = q;
                }
            }
        }
        return q;
    }

    private NDArray a64(int count) {
        return a.toType(DataType.FLOAT64, false).reshape(count, ldim, mdim);
    }

    private NDArray b64(int count) {
        return b.toType(DataType.FLOAT64, false).reshape(count, mdim, rdim);
    }

    /**
     * Ra B [..., p, n] in float64, where A = Qa Ra: the product with an orthonormal left factor removed, so
     * ‖X · (this)‖ = ‖X' · Ra B‖ whenever only norms of products on the right matter (‖AB Y‖ = ‖Ra B Y‖).
     */
    NDArray leftReduced64() {
        int count = (int) leading.size();
        NDArray out = qrs()[0].r.matMul(b64(count));
        return out.reshape(leading.addAll(new Shape(out.getShape().get(1), rdim)));
    }

    /** A Rb^T [..., m, q] in float64, where B^T = Qb Rb: ‖Y AB‖ = ‖Y A Rb^T‖. */
    NDArray rightReduced64() {
        int count = (int) leading.size();
        NDArray out = a64(count).matMul(mT(qrs()[1].r));
        return out.reshape(leading.addAll(new Shape(ldim, out.getShape().get(2))));
    }

    private Svd64 computeSvd() {
        int count = (int) leading.size();
        ThinQr qa = qrs()[0];
        ThinQr qb = qrs()[1];
        // AB = Qa Ra (Qb Rb)^T = Qa (Ra Rb^T) Qb^T, and the middle Ra Rb^T is only p x q.
        NDArray middle = qa.r.matMul(mT(qb.r));
        int p = (int) middle.getShape().get(1);
        int q = (int) middle.getShape().get(2);
        int r = Math.min(p, q);
        double[] mid = middle.toDoubleArray();
        double[] um = new double[count * p * r];
        double[] s = new double[count * r];
        double[] vm = new double[count * q * r];
        IntStream.range(0, count).parallel().forEach(i -> {
            double[][] m = new double[p][q];
            for (int x = 0; x < p; x++) {
                System.arraycopy(mid, (i * p + x) * q, m[x], 0, q);
            }
            DenseLinalg.SVD small = DenseLinalg.svd(m);
            for (int c = 0; c < r; c++) {
                s[i * r + c] = small.s()[c];
                for (int x = 0; x < p; x++) {
                    um[(i * p + x) * r + c] = small.u()[c][x];
                }
                for (int y = 0; y < q; y++) {
                    vm[(i * q + y) * r + c] = small.v()[c][y];
                }
            }
        });
        NDArray u = qa.q.matMul(Tensors.ofDoubles(um, new Shape(count, p, r)));
        NDArray v = qb.q.matMul(Tensors.ofDoubles(vm, new Shape(count, q, r)));
        return new Svd64(u.reshape(leading.addAll(new Shape(ldim, r))),
                Tensors.ofDoubles(s, leading.addAll(new Shape(r))),
                v.reshape(leading.addAll(new Shape(rdim, r))));
    }

    // ---------------------------------------------------------------- helpers

    /** The last two dimensions swapped. */
    static NDArray mT(NDArray x) {
        int nd = x.getShape().dimension();
        return x.swapAxes(nd - 2, nd - 1);
    }

    private static NDArray cast(NDArray x, DataType t) {
        return x.getDataType() == t ? x : x.toType(t, false);
    }

    @Override
    public String toString() {
        return "FactoredMatrix(shape " + shape() + ", inner dim " + mdim + ", " + dataType() + ")";
    }
}
