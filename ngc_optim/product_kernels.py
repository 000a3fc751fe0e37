"""Dense products without BLAS for the small weight matrices of a circuit's steps, each element summed in order.

``rows_product_into(a, w, out)`` is out = a @ w and ``columns_product_into(a, w, out)`` is out = a.T @ w
(a Hebbian update's summed outer products), for C-ordered float arrays. Each element is

    out[i, j] = (...((a_i0 * w[0, j] + a_i1 * w[1, j]) + a_i2 * w[2, j]) ... + a_i(K-1) * w[K-1, j])

(a_ik = a[i, k], or a[k, i] for the columns product): the products in order of k, each rounded, then added,
each sum rounded, in the arrays' dtype, as NumPy computes ``out = a[:, :1] * w[:1]`` followed by ``out +=
a[:, k:k + 1] * w[k:k + 1]`` for k = 1, 2, ... (K = 0: zeros). So an element does not depend on the other
rows of ``a``: a block of rows gives the whole batch's bits, on any machine and any number of threads.

Why not BLAS: for a batch of tens of rows and weights of about 128 x 128, the OpenBLAS that Numba's np.dot
calls (SciPy's, which picks its Haswell kernels on this AVX-512 machine) spends most of a call packing the
weights into its buffers, again at every call (measured, 2026-12-02, one thread: 4 x 128 x 128 float32
7.6 us, of which the weights' packing (``sgemm_itcopy``) 58%; 50 x 128 x 128 15-24 us, ~70 GFLOP/s). Here
the weights are read in place: four rows of ``a`` times four SIMD registers of a row of ``w`` per step of k,
sixteen accumulators kept in registers (an LLVM vector type, :class:`Vector`; 16 float32 or 8 float64 lanes
with AVX-512, half that without), the columns past a multiple of the register width through masked loads
and stores. 4 x 128 x 128: 0.9 us; 50 x 128 x 128: 11-12 us (~140 GFLOP/s). Large weights are BLAS's
(its packing then pays): :func:`own_product` decides, from the weights' size alone, so every caller of a
product gets the same bits for the same shapes. The arrays of one product share one float dtype (as Numba's
np.dot requires); registers of two dtypes are a typing error.
"""

from llvmlite import binding as llvm_binding
from llvmlite import ir
from numba import njit, types
from numba.core import config as numba_config
from numba.extending import intrinsic, models, register_model

from . import config

__all__ = ["OWN_PRODUCT_ELEMENTS", "VECTOR_BYTES", "columns_product_into", "own_product", "rows_product_into"]

VECTOR_BYTES = 64 if numba_config.CPU_NAME is None and llvm_binding.get_host_cpu_features().get("avx512f") else 32
"""Bytes of a SIMD register: 64 where the host has AVX-512 (and Numba compiles for the host), else 32 (on a
machine with narrower registers LLVM splits each vector: the same results, more instructions)."""

OWN_PRODUCT_ELEMENTS = 2**20
"""Weights of at most this many elements (1024 x 1024) are multiplied here, larger ones by BLAS. Measured
(2026-12-02, float32, one thread, us, ours against BLAS in the same run): 4 x 128 x 128 1.1 against 7.9,
50 x 128 x 128 12.8 against 23.3, 50 x 64 x 128 4.0 against 10.6, 50 x 784 x 100 70 against 103, 250 x 512 x
512 905 against 1256, 500 x 784 x 360 2080 against 2591, 250 x 1024 x 1024 5740 against 5662; one row (1 x
128 x 128) 0.87 against 0.70, 250 x 360 x 10 (one masked register a row) 30 against 30, 50 x 128 x 40 6.8
against 8.4. Compiled for AVX2 alone (``NUMBA_CPU_NAME=haswell``, on this AMD machine, whose AVX2 masked
loads are slow): 50 x 128 x 128 24.8 against 24.3, 250 x 360 x 10 56 against 33, 50 x 128 x 10 4.2 against
3.0."""


class Vector(types.Type):
    """A SIMD register of ``lanes`` values of ``dtype``: an LLVM vector, which a function's locals keep in
    registers."""

    def __init__(self, dtype, lanes):
        self.dtype, self.lanes = dtype, lanes
        super().__init__(name=f"Vector({dtype}, {lanes})")


@register_model(Vector)
class _VectorModel(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, ir.VectorType(dmm.lookup(fe_type.dtype).get_value_type(), fe_type.lanes))


def _vector(dtype):
    return Vector(dtype, VECTOR_BYTES * 8 // dtype.bitwidth)


def _address(context, builder, array_type, array, index, vector):
    data = context.make_array(array_type)(context, builder, array).data
    return builder.bitcast(builder.gep(data, [index]), context.get_value_type(vector).as_pointer())


def _mask(builder, lanes, count):
    """<lanes x i1>: lane l set where l < count."""
    steps = ir.Constant(ir.VectorType(ir.IntType(64), lanes), list(range(lanes)))
    bound = builder.insert_element(ir.Constant(ir.VectorType(ir.IntType(64), lanes), ir.Undefined),
                                   builder.sext(count, ir.IntType(64)) if count.type.width < 64 else count,
                                   ir.Constant(ir.IntType(32), 0))
    bound = builder.shuffle_vector(bound, bound, ir.Constant(ir.VectorType(ir.IntType(32), lanes), [0] * lanes))
    return builder.icmp_signed("<", steps, bound)


def _masked_intrinsic(builder, name, vector_type, arguments):
    element = "f32" if isinstance(vector_type.element, ir.FloatType) else "f64"
    suffix = f"v{vector_type.count}{element}"
    pointer = vector_type.as_pointer()
    mask = ir.VectorType(ir.IntType(1), vector_type.count)
    if name == "load":
        signature = ir.FunctionType(vector_type, [pointer, ir.IntType(32), mask, vector_type])
    else:
        signature = ir.FunctionType(ir.VoidType(), [vector_type, pointer, ir.IntType(32), mask])
    module = builder.module
    full = f"llvm.masked.{name}.{suffix}.p0{suffix}"
    function = module.globals.get(full) or ir.Function(module, signature, full)
    return builder.call(function, arguments)


@intrinsic
def vector_lanes(typingctx, array):
    """The lanes of a register of ``array``'s dtype (a constant)."""
    lanes = _vector(array.dtype).lanes

    def codegen(context, builder, signature, arguments):
        return context.get_constant(types.intp, lanes)

    return types.intp(array), codegen


@intrinsic
def load(typingctx, array, index):
    """The register array[index:index + lanes] (``array`` 1-D, contiguous)."""
    vector = _vector(array.dtype)

    def codegen(context, builder, signature, arguments):
        address = _address(context, builder, signature.args[0], arguments[0], arguments[1], vector)
        return builder.load(address, align=array.dtype.bitwidth // 8)

    return vector(array, types.intp), codegen


@intrinsic
def load_first(typingctx, array, index, count):
    """array[index:index + count] in the first ``count`` lanes, zeros after (nothing read past them)."""
    vector = _vector(array.dtype)

    def codegen(context, builder, signature, arguments):
        address = _address(context, builder, signature.args[0], arguments[0], arguments[1], vector)
        vector_type = context.get_value_type(vector)
        return _masked_intrinsic(builder, "load", vector_type, [
            address, ir.Constant(ir.IntType(32), array.dtype.bitwidth // 8),
            _mask(builder, vector.lanes, arguments[2]), ir.Constant(vector_type, None)])

    return vector(array, types.intp, types.intp), codegen


@intrinsic
def store(typingctx, array, index, value):
    """array[index:index + lanes] = value."""

    def codegen(context, builder, signature, arguments):
        address = _address(context, builder, signature.args[0], arguments[0], arguments[1], signature.args[2])
        builder.store(arguments[2], address, align=array.dtype.bitwidth // 8)
        return context.get_dummy_value()

    return types.none(array, types.intp, value), codegen


@intrinsic
def store_first(typingctx, array, index, value, count):
    """array[index:index + count] = the first ``count`` lanes of value (nothing written past them)."""

    def codegen(context, builder, signature, arguments):
        address = _address(context, builder, signature.args[0], arguments[0], arguments[1], signature.args[2])
        _masked_intrinsic(builder, "store", context.get_value_type(signature.args[2]), [
            arguments[2], address, ir.Constant(ir.IntType(32), array.dtype.bitwidth // 8),
            _mask(builder, signature.args[2].lanes, arguments[3])])
        return context.get_dummy_value()

    return types.none(array, types.intp, value, types.intp), codegen


@intrinsic
def splat(typingctx, value):
    """A register of ``value`` in every lane."""
    vector = _vector(value)

    def codegen(context, builder, signature, arguments):
        vector_type = context.get_value_type(vector)
        single = builder.insert_element(ir.Constant(vector_type, ir.Undefined), arguments[0],
                                        ir.Constant(ir.IntType(32), 0))
        return builder.shuffle_vector(single, single,
                                      ir.Constant(ir.VectorType(ir.IntType(32), vector.lanes), [0] * vector.lanes))

    return vector(value), codegen


@intrinsic
def multiply(typingctx, left, right):
    """left * right, lane by lane."""
    if left != right:
        return None

    def codegen(context, builder, signature, arguments):
        return builder.fmul(arguments[0], arguments[1])

    return left(left, right), codegen


@intrinsic
def multiply_add(typingctx, total, left, right):
    """total + left * right, lane by lane: the product rounded, then the sum (two roundings, not a fused
    multiply-add)."""
    if not total == left == right:
        return None

    def codegen(context, builder, signature, arguments):
        return builder.fadd(arguments[0], builder.fmul(arguments[1], arguments[2]))

    return total(total, left, right), codegen


@njit(inline="always")
def _first(x, w0, w1, w2, w3):
    """x times four registers of a weight row: a row's four accumulators at k = 0."""
    return multiply(x, w0), multiply(x, w1), multiply(x, w2), multiply(x, w3)


@njit(inline="always")
def _added(c0, c1, c2, c3, x, w0, w1, w2, w3):
    """A row's four accumulators plus x times four registers of a weight row."""
    return multiply_add(c0, x, w0), multiply_add(c1, x, w1), multiply_add(c2, x, w2), multiply_add(c3, x, w3)


@njit(inline="always")
def _store_four(out, at, lanes, c0, c1, c2, c3):
    store(out, at, c0), store(out, at + lanes, c1), store(out, at + 2 * lanes, c2), store(out, at + 3 * lanes, c3)


@njit(inline="always")
def _four_rows_wide(a, row, step, i, w, n, out, j, depth):
    """out rows i..i+3, columns j..j+4*lanes-1 (all inside out): sixteen accumulators, each a local (a
    register)."""
    lanes = vector_lanes(w)
    r0, r1, r2, r3 = i * row, (i + 1) * row, (i + 2) * row, (i + 3) * row
    w0, w1, w2, w3 = load(w, j), load(w, j + lanes), load(w, j + 2 * lanes), load(w, j + 3 * lanes)
    c00, c01, c02, c03 = _first(splat(a[r0]), w0, w1, w2, w3)
    c10, c11, c12, c13 = _first(splat(a[r1]), w0, w1, w2, w3)
    c20, c21, c22, c23 = _first(splat(a[r2]), w0, w1, w2, w3)
    c30, c31, c32, c33 = _first(splat(a[r3]), w0, w1, w2, w3)
    for k in range(1, depth):
        at, offset = k * n + j, k * step
        w0, w1, w2, w3 = load(w, at), load(w, at + lanes), load(w, at + 2 * lanes), load(w, at + 3 * lanes)
        c00, c01, c02, c03 = _added(c00, c01, c02, c03, splat(a[r0 + offset]), w0, w1, w2, w3)
        c10, c11, c12, c13 = _added(c10, c11, c12, c13, splat(a[r1 + offset]), w0, w1, w2, w3)
        c20, c21, c22, c23 = _added(c20, c21, c22, c23, splat(a[r2 + offset]), w0, w1, w2, w3)
        c30, c31, c32, c33 = _added(c30, c31, c32, c33, splat(a[r3 + offset]), w0, w1, w2, w3)
    at = i * n + j
    _store_four(out, at, lanes, c00, c01, c02, c03)
    _store_four(out, at + n, lanes, c10, c11, c12, c13)
    _store_four(out, at + 2 * n, lanes, c20, c21, c22, c23)
    _store_four(out, at + 3 * n, lanes, c30, c31, c32, c33)


@njit(inline="always")
def _one_row_wide(a, row, step, i, w, n, out, j, depth):
    """out row i, columns j..j+4*lanes-1 (all inside out)."""
    lanes = vector_lanes(w)
    r0 = i * row
    c0, c1, c2, c3 = _first(splat(a[r0]), load(w, j), load(w, j + lanes), load(w, j + 2 * lanes),
                            load(w, j + 3 * lanes))
    for k in range(1, depth):
        at = k * n + j
        c0, c1, c2, c3 = _added(c0, c1, c2, c3, splat(a[r0 + k * step]), load(w, at), load(w, at + lanes),
                                load(w, at + 2 * lanes), load(w, at + 3 * lanes))
    _store_four(out, i * n + j, lanes, c0, c1, c2, c3)


@njit(inline="always")
def _four_rows_narrow(a, row, step, i, w, n, out, j, depth, count):
    """out rows i..i+3, columns j..j+count-1 (count <= lanes)."""
    r0, r1, r2, r3 = i * row, (i + 1) * row, (i + 2) * row, (i + 3) * row
    w0 = load_first(w, j, count)
    c0, c1 = multiply(splat(a[r0]), w0), multiply(splat(a[r1]), w0)
    c2, c3 = multiply(splat(a[r2]), w0), multiply(splat(a[r3]), w0)
    for k in range(1, depth):
        w0, offset = load_first(w, k * n + j, count), k * step
        c0, c1 = multiply_add(c0, splat(a[r0 + offset]), w0), multiply_add(c1, splat(a[r1 + offset]), w0)
        c2, c3 = multiply_add(c2, splat(a[r2 + offset]), w0), multiply_add(c3, splat(a[r3 + offset]), w0)
    at = i * n + j
    store_first(out, at, c0, count), store_first(out, at + n, c1, count)
    store_first(out, at + 2 * n, c2, count), store_first(out, at + 3 * n, c3, count)


@njit(inline="always")
def _one_row_narrow(a, row, step, i, w, n, out, j, depth, count):
    """out row i, columns j..j+count-1 (count <= lanes)."""
    r0 = i * row
    c0 = multiply(splat(a[r0]), load_first(w, j, count))
    for k in range(1, depth):
        c0 = multiply_add(c0, splat(a[r0 + k * step]), load_first(w, k * n + j, count))
    store_first(out, i * n + j, c0, count)


@njit(inline="always")
def _four_rows_pair(a, row, step, i, w, n, out, j, depth, count):
    """out rows i..i+3, columns j..j+count-1 (lanes < count <= 2 * lanes): two registers a row, in one pass
    over k (each value of a broadcast once, where two narrow passes would broadcast it twice)."""
    lanes, second = vector_lanes(w), count - vector_lanes(w)
    r0, r1, r2, r3 = i * row, (i + 1) * row, (i + 2) * row, (i + 3) * row
    w0, w1 = load(w, j), load_first(w, j + lanes, second)
    x = splat(a[r0])
    c00, c01 = multiply(x, w0), multiply(x, w1)
    x = splat(a[r1])
    c10, c11 = multiply(x, w0), multiply(x, w1)
    x = splat(a[r2])
    c20, c21 = multiply(x, w0), multiply(x, w1)
    x = splat(a[r3])
    c30, c31 = multiply(x, w0), multiply(x, w1)
    for k in range(1, depth):
        at, offset = k * n + j, k * step
        w0, w1 = load(w, at), load_first(w, at + lanes, second)
        x = splat(a[r0 + offset])
        c00, c01 = multiply_add(c00, x, w0), multiply_add(c01, x, w1)
        x = splat(a[r1 + offset])
        c10, c11 = multiply_add(c10, x, w0), multiply_add(c11, x, w1)
        x = splat(a[r2 + offset])
        c20, c21 = multiply_add(c20, x, w0), multiply_add(c21, x, w1)
        x = splat(a[r3 + offset])
        c30, c31 = multiply_add(c30, x, w0), multiply_add(c31, x, w1)
    at = i * n + j
    store(out, at, c00), store_first(out, at + lanes, c01, second)
    store(out, at + n, c10), store_first(out, at + n + lanes, c11, second)
    store(out, at + 2 * n, c20), store_first(out, at + 2 * n + lanes, c21, second)
    store(out, at + 3 * n, c30), store_first(out, at + 3 * n + lanes, c31, second)


@njit(inline="always")
def _one_row_pair(a, row, step, i, w, n, out, j, depth, count):
    """out row i, columns j..j+count-1 (lanes < count <= 2 * lanes)."""
    lanes, second = vector_lanes(w), count - vector_lanes(w)
    r0 = i * row
    x = splat(a[r0])
    c0, c1 = multiply(x, load(w, j)), multiply(x, load_first(w, j + lanes, second))
    for k in range(1, depth):
        at = k * n + j
        x = splat(a[r0 + k * step])
        c0, c1 = multiply_add(c0, x, load(w, at)), multiply_add(c1, x, load_first(w, at + lanes, second))
    store(out, i * n + j, c0), store_first(out, i * n + j + lanes, c1, second)


@njit(inline="always")
def _product(a, row, step, rows, depth, w, out):
    """out (rows x n, flat) = the products of a's rows (row i's k-th value at a[i * row + k * step]) by w
    (depth x n, flat), each element summed in order of k (see the module)."""
    n = out.size // rows if rows else 0
    if depth == 0:
        for index in range(out.size):
            out[index] = 0
        return
    lanes = vector_lanes(w)
    wide = 4 * lanes
    j = 0
    while j + wide <= n:
        i = 0
        while i + 4 <= rows:
            _four_rows_wide(a, row, step, i, w, n, out, j, depth)
            i += 4
        for rest in range(i, rows):
            _one_row_wide(a, row, step, rest, w, n, out, j, depth)
        j += wide
    while j < n:
        count = min(2 * lanes, n - j)
        i = 0
        if count > lanes:
            while i + 4 <= rows:
                _four_rows_pair(a, row, step, i, w, n, out, j, depth, count)
                i += 4
            for rest in range(i, rows):
                _one_row_pair(a, row, step, rest, w, n, out, j, depth, count)
        else:
            while i + 4 <= rows:
                _four_rows_narrow(a, row, step, i, w, n, out, j, depth, count)
                i += 4
            for rest in range(i, rows):
                _one_row_narrow(a, row, step, rest, w, n, out, j, depth, count)
        j += count


@njit(**config.jit_options(False))
def rows_product_into(a, w, out):
    """out = a @ w for C-ordered 2-D a (M x K), w (K x N) and out (M x N) of one float dtype, each element
    summed in order of k (see the module)."""
    _product(a.reshape(a.size), a.shape[1], 1, a.shape[0], a.shape[1], w.reshape(w.size), out.reshape(out.size))


@njit(**config.jit_options(False))
def columns_product_into(a, w, out, first):
    """out = a[:, first:first + M].T @ w for C-ordered 2-D a (K x columns), w (K x N) and out (M x N) of one
    float dtype, each element summed in order of k (see the module): a block of rows of a.T @ w."""
    if out.shape[0]:
        _product(a.reshape(a.size)[first:], 1, a.shape[1], out.shape[0], a.shape[0], w.reshape(w.size),
                 out.reshape(out.size))


@njit(inline="always")
def own_product(w):
    """Whether products by ``w`` are computed here rather than by BLAS (see OWN_PRODUCT_ELEMENTS): from w's
    size alone."""
    return w.size <= OWN_PRODUCT_ELEMENTS
