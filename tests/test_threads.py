"""The thread decision (ngc_optim.threads): a pure function of (threads, size, level), the cores a process
may use, the user's override, and the rule it enforces: Numba threads x BLAS threads within the cores, the
same bits whatever the threads."""

import itertools
import json
import os
import subprocess
import sys
import textwrap

import numba
import numpy as np
import pytest
from ngc_optim.components import HebbianSynapse, TraceSTDPSynapse
from ngc_optim.models import PCN
from threadpoolctl import threadpool_limits

from ngc_optim import Context, MethodProcess, cell_kernels, config, hebbian_kernels, threads
from ngc_optim.datasets import one_hot
from ngc_optim.threads import LEVELS, Decision, Level, decide

_names = itertools.count()


@pytest.mark.parametrize(("threads_", "size", "level", "expected"), [
    (2, 250, "rows", 2),
    (2, 50, "rows", 2),
    (2, 48, "rows", 2),
    (2, 47, "rows", 1),
    (2, 7, "rows", 1),
    (2, 0, "rows", 1),
    (1, 10**6, "rows", 1),
    (4, 72, "rows", 3),
    (64, 250, "rows", 10),
    (8, 250, "rows", 8),
    (2, 2**23, "product", 2),
    (2, 2**23 - 1, "product", 1),
    (2, 250 * 128 * 128, "product", 1),
    (2, 250 * 256 * 256, "product", 2),
    (16, 250 * 512 * 512, "product", 15),
    (2, 2**26, "settling", 2),
    (2, 2**26 - 1, "settling", 1),
    (4, 250 * 20 * 2 * 512 * 512, "settling", 4),
])
def test_the_decision_gives_each_thread_its_minimum_and_blas_one_thread(threads_, size, level, expected):
    decision = decide(threads_, size, level)
    assert decision == Decision(expected, 1)
    assert decision.numba * decision.blas <= threads_
    assert decide(threads_, size, LEVELS[level]) == decision


def test_a_level_of_ones_own_and_bad_thread_counts():
    assert decide(3, 100, Level("tiles", "tiles", 10)) == Decision(3, 1)
    assert decide(3, 25, Level("tiles", "tiles", 10)) == Decision(2, 1)
    with pytest.raises(ValueError, match="threads must be at least 1, got 0"):
        decide(0, 100, "rows")
    with pytest.raises(KeyError):
        decide(2, 100, "columns")


@pytest.mark.parametrize(("text", "cores"), [("max 100000\n", None), ("200000 100000", 2),
                                             ("150000 100000", 2), ("50000 100000", 1), ("100000 100000", 1),
                                             ("400000 50000", 8)])
def test_a_cgroup_v2_quota_is_read_as_whole_cores(text, cores):
    assert threads._quota_cores(text) == cores


def test_the_tightest_cgroup_quota_of_the_process_counts(tmp_path):
    proc = tmp_path / "cgroup"
    proc.write_text("0::/user.slice/job\nnot a cgroup line\n")
    (tmp_path / "user.slice" / "job").mkdir(parents=True)
    (tmp_path / "user.slice" / "job" / "cpu.max").write_text("max 100000\n")
    assert threads._cgroup_cores(proc, tmp_path) is None
    (tmp_path / "user.slice" / "cpu.max").write_text("300000 100000\n")
    assert threads._cgroup_cores(proc, tmp_path) == 3
    (tmp_path / "cpu.max").write_text("100000 100000\n")
    assert threads._cgroup_cores(proc, tmp_path) == 1
    v1 = tmp_path / "v1"
    proc.write_text("4:cpu,cpuacct:/docker/abc\n3:memory:/docker/abc\n")
    (v1 / "cpu,cpuacct" / "docker" / "abc").mkdir(parents=True)
    (v1 / "cpu,cpuacct" / "docker" / "abc" / "cpu.cfs_quota_us").write_text("250000\n")
    (v1 / "cpu,cpuacct" / "docker" / "abc" / "cpu.cfs_period_us").write_text("100000\n")
    assert threads._cgroup_cores(proc, v1) == 3
    (v1 / "cpu,cpuacct" / "docker" / "abc" / "cpu.cfs_quota_us").write_text("-1\n")
    assert threads._cgroup_cores(proc, v1) is None
    assert threads._cgroup_cores(tmp_path / "missing", tmp_path) is None


def test_the_cores_allowed_follow_the_affinity():
    assert threads.cores_allowed() == min(len(os.sched_getaffinity(0)), numba.config.NUMBA_NUM_THREADS,
                                          threads._cgroup_cores() or 10**6)


@pytest.mark.parametrize("value", [0, -1, 1.5, "2", True, None])
def test_set_threads_refuses_anything_but_a_positive_integer(value):
    before = threads.get_threads()
    if value is None:
        assert threads.set_threads(None) == threads.cores_allowed()
        return
    with pytest.raises(ValueError, match="threads must be a positive integer"):
        threads.set_threads(value)
    assert threads.get_threads() == before


def test_set_threads_sets_numba_and_is_capped_by_its_pool():
    try:
        assert threads.set_threads(np.int64(1)) == 1 and numba.get_num_threads() == 1
        assert threads.numba_threads(10**6, "rows") == 1
        assert threads.set_threads(10**4) == numba.config.NUMBA_NUM_THREADS == numba.get_num_threads()
    finally:
        threads.set_threads()


def numba_blas():
    """num_threads of the BLAS libraries that Numba's compiled code calls."""
    return [lib.get_num_threads() for lib in threads._BLAS]


def test_numba_blas_runs_one_thread_and_prepare_limits_it_again():
    assert threads._BLAS and numba_blas() == [1] * len(threads._BLAS)
    with threadpool_limits(2, user_api="blas"):
        threads.prepare()
        assert numba_blas() == [1] * len(threads._BLAS)


@pytest.mark.skipif(threads.get_threads() < 2, reason="a parallel product needs two threads")
def test_a_parallel_product_runs_blas_on_one_thread_when_other_code_raised_it():
    rng = np.random.default_rng(0)
    x, y = rng.random((100, 300), dtype=np.float32), rng.random((100, 300), dtype=np.float32)
    assert threads.numba_threads(300 * 100 * 300, "product") == 2
    with threadpool_limits(2, user_api="blas"):
        assert max(numba_blas()) == 2
        np.testing.assert_allclose(cell_kernels.summed_outer(x, y), x.T @ y, rtol=1e-5)
        assert numba_blas() == [1] * len(threads._BLAS)


SHAPES = [(2, 3, 4), (50, 64, 128), (250, 512, 512), (7, 1000, 3), (300, 50, 300), (64, 250, 128)]


@pytest.mark.parametrize(("blocks", "rows"),
                         [(1, 50), (2, 50), (2, 250), (3, 250), (4, 100), (2, 48), (7, 170)])
def test_blocks_start_at_multiples_of_the_row_tile_and_cover_the_rows(blocks, rows):
    starts = [cell_kernels.block_start(block, blocks, rows) for block in range(blocks + 1)]
    assert starts[0] == 0 and starts[-1] == rows
    assert all(start % threads.ROW_TILE == 0 for start in starts[:-1])
    sizes = [later - earlier for earlier, later in itertools.pairwise(starts)]
    assert all(size >= threads.ROW_TILE and abs(size - rows / blocks) < threads.ROW_TILE for size in sizes)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("rows", "m", "n"), SHAPES)
def test_a_summed_outer_product_has_the_same_bits_in_any_number_of_blocks(rows, m, n, dtype):
    rng = np.random.default_rng(rows + m + n)
    x, y = rng.standard_normal((rows, m)).astype(dtype), rng.standard_normal((rows, n)).astype(dtype)
    serial, parallel = cell_kernels.SUMMED_OUTER
    expected = np.empty((m, n), dtype)
    serial(1, x, y, expected)
    np.testing.assert_allclose(expected, x.astype(np.float64).T @ y.astype(np.float64),
                               rtol=1e-4 if dtype == np.float32 else 1e-12, atol=1e-4)
    for blocks in range(2, min(m // threads.ROW_TILE, 6) + 1):
        got = np.full((m, n), np.nan, dtype)
        parallel(blocks, x, y, got)
        np.testing.assert_array_equal(got, expected)
    strided = np.asarray(rng.standard_normal((rows, 2 * m)), dtype)[:, ::2]
    got = cell_kernels.summed_outer(strided, y)
    np.testing.assert_array_equal(got, cell_kernels.summed_outer(np.ascontiguousarray(strided), y))


def test_a_one_row_summed_outer_product_is_the_outer_product():
    x, y = np.arange(3, dtype=np.float32)[None], np.arange(4, dtype=np.float32)[None]
    np.testing.assert_array_equal(cell_kernels.summed_outer(x, y), np.outer(x, y))


@pytest.mark.parametrize(("rows", "columns", "batch", "kind"), [
    (784, 100, 1, "one_row"), (784, 1000, 1, "one_row"), (128, 128, 50, "serial"), (300, 200, 120, "serial"),
    (16, 4096, 4096, "serial"), (784, 1000, 200, "split"), (256, 256, 128, "split")])
def test_the_kind_of_outer_product_follows_whether_outer_blocks_can_split_it(rows, columns, batch, kind):
    assert cell_kernels.outer_kind(rows, columns, batch) == kind
    size = rows * columns * batch
    most = max(min(decide(threads_, size, "product").numba, rows // threads.ROW_TILE) for threads_ in (2, 8, 64))
    assert (most > 1) == (kind == "split") or kind == "one_row"


def test_with_the_parallel_kernels_off_no_outer_product_is_split(monkeypatch):
    monkeypatch.setattr(config, "PARALLEL", False)
    assert cell_kernels.outer_kind(784, 1000, 200) == "serial"
    assert cell_kernels.outer_kind(784, 1000, 1) == "one_row"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_kind_of_outer_product_gives_outer_intos_bits(dtype):
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((40, 64)).astype(dtype), rng.standard_normal((40, 24)).astype(dtype)
    expected = np.empty((64, 24), dtype)
    cell_kernels.outer_into(1, x, y, expected)
    for kind, blocks in (("serial", 1), ("serial", 3), ("split", 1), ("split", 2), ("split", 4)):
        got = np.full((64, 24), np.nan, dtype)
        cell_kernels.OUTERS[kind](blocks, x, y, got)
        np.testing.assert_array_equal(got, expected)
    one_row = np.empty((64, 24), dtype)
    cell_kernels.OUTERS["one_row"](1, x[:1], y[:1], one_row)
    np.testing.assert_array_equal(one_row, np.outer(x[0], y[0]))
    with pytest.raises(ValueError, match="one row"):
        cell_kernels.OUTERS["one_row"](1, x, y, one_row)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_kind_of_calc_update_gives_the_same_bits(dtype):
    rng = np.random.default_rng(7)
    pre, post = rng.standard_normal((40, 64)).astype(dtype), rng.standard_normal((40, 24)).astype(dtype)
    weights, mask = rng.uniform(-0.5, 0.5, (64, 24)).astype(dtype), (rng.random((64, 24)) < 0.7).astype(dtype)
    settings = (False, hebbian_kernels.PRIOR_CODES["l2"], (1.0, 0.01, 0.0, -1.0, -1.0), 0.9, 1.1, True)
    for adjustments, arguments in ((hebbian_kernels.HEBBIAN_ADJUSTMENTS, (pre, post, weights)),
                                   (hebbian_kernels.PATCHED_ADJUSTMENTS, (pre, post, weights, mask))):
        expected = adjustments["split"](*arguments, settings, 1)
        for kind, blocks in (("serial", 1), ("split", 2)):
            for got, want in zip(adjustments[kind](*arguments, settings, blocks), expected):
                np.testing.assert_array_equal(got, want)
        one_row = adjustments["one_row"](pre[:1], post[:1], *arguments[2:], settings, 1)
        for got, want in zip(one_row, adjustments["split"](pre[:1], post[:1], *arguments[2:], settings, 1)):
            np.testing.assert_array_equal(got, want)


def evolved_weights(make, steps=5):
    """The weights of the synapse ``make(name)`` returns (with the names of its compartments of pre- and
    postsynaptic values) after ``steps`` evolves on random rows of 32 (values in [0, 1), spikes at rate 0.3): the
    first two per call, the rest through the process's compiled circuit."""
    rng = np.random.default_rng(6)
    with Context(f"kinds{next(_names)}"):
        synapse, pre, post = make("W")
        evolve = MethodProcess("evolve") >> synapse.evolve
    for _ in range(steps):
        for names, size in ((pre, synapse.shape[0]), (post, synapse.shape[1])):
            for name in names:
                values = rng.random((32, size))
                getattr(synapse, name).set((values < 0.3 if "Spike" in name else values).astype(np.float32))
        evolve.run(t=0.0, dt=1.0)
    assert evolve.circuit() is not None
    return synapse.weights.get()


SYNAPSES = {
    "hebbian": lambda name: (HebbianSynapse(name, (96, 40), eta=0.01, optim_type="adam", w_bound=1.0,
                                            batch_size=32, seed=1), ("pre",), ("post",)),
    "stdp": lambda name: (TraceSTDPSynapse(name, (96, 40), A_plus=0.01, A_minus=0.005, eta=1.0, w_bound=1.0,
                                           batch_size=32, seed=1), ("preSpike", "preTrace"), ("postSpike", "postTrace")),
}


@pytest.mark.parametrize("synapse", SYNAPSES)
def test_a_synapse_whose_products_split_gives_the_bits_of_one_whose_do_not(synapse, monkeypatch):
    expected = evolved_weights(SYNAPSES[synapse])
    monkeypatch.setattr(threads.LEVELS["product"], "minimum", 64)
    monkeypatch.setattr(threads, "numba_threads", lambda size, level: 2)
    assert cell_kernels.outer_kind(96, 40, 32) == "split" and cell_kernels.outer_blocks(96, 40, 32) == 2
    np.testing.assert_array_equal(evolved_weights(SYNAPSES[synapse]), expected)


def train_weights(sizes, batch, steps):
    model = PCN(sizes, T=4, batch_size=batch, seed=3)
    rng = np.random.default_rng(4)
    x = rng.random((batch, sizes[0])).astype(np.float32)
    y = one_hot(rng.integers(0, sizes[-1], batch), sizes[-1])
    for _ in range(steps):
        model.train_batch(x, y)
    return [synapse.weights.get().copy() for synapse in model.W[1:]]


def test_training_gives_the_same_bits_whatever_the_threads(monkeypatch):
    sizes, batch = (64, 300, 200, 10), 120
    monkeypatch.setitem(config.PARALLEL_THRESHOLDS, "adam", 1000)
    expected = train_weights(sizes, batch, 3)
    try:
        threads.set_threads(1)
        serial = train_weights(sizes, batch, 3)
    finally:
        threads.set_threads()
    for got, want in zip(serial, expected):
        np.testing.assert_array_equal(got, want)


ONE_CORE = textwrap.dedent("""
    import json, os, sys
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    import numba
    import numpy as np
    import ngc_optim
    from ngc_optim import cell_kernels, threads
    from ngc_optim.datasets import one_hot
    from ngc_optim.models import PCN

    seen = []
    model = PCN((64, 256, 256, 10), T=3, batch_size=200, seed=0)
    rng = np.random.default_rng(0)
    x = rng.random((200, 64)).astype(np.float32)
    model.train_batch(x, one_hot(rng.integers(0, 10, 200), 10))
    seen.append(numba.get_num_threads())
    cell_kernels.summed_outer(x, rng.random((200, 4096)).astype(np.float32))
    params = {"W": np.zeros(2**20, np.float32)}
    optimizer = ngc_optim.adam()
    optimizer.step(params, {"W": np.ones(2**20, np.float32)}, optimizer.init(params))
    seen.append(numba.get_num_threads())
    blas = [lib.get_num_threads() for lib in threads._BLAS]
    print(json.dumps({"threads": ngc_optim.get_threads(), "numba": seen, "blas": blas,
                      "tasks": len(os.listdir("/proc/self/task")),
                      "layer": numba.threading_layer() if numba.get_num_threads() > 1 else None}))
""")


def run_child(code, **environment):
    env = {key: value for key, value in os.environ.items()
           if key not in ("NUMBA_NUM_THREADS", "NGC_OPTIM_THREADS")}
    env.update(environment)
    result = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True,
                            env=env, timeout=600)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two cores to limit the affinity to one")
def test_with_the_affinity_limited_to_one_core_no_kernel_runs_a_second_thread():
    report = run_child(ONE_CORE)
    assert report["threads"] == 1
    assert report["numba"] == [1, 1]
    assert report["blas"] and set(report["blas"]) == {1}
    baseline = run_child("import json, os; print(json.dumps({'tasks': len(os.listdir('/proc/self/task'))}))")
    assert report["tasks"] == baseline["tasks"], "the process runs threads besides its main one"


def test_the_environment_variable_sets_the_threads_and_a_bad_one_is_an_error():
    code = ("import json, numba, ngc_optim; "
            "print(json.dumps([ngc_optim.get_threads(), numba.get_num_threads()]))")
    assert run_child(code, NGC_OPTIM_THREADS="1") == [1, 1]
    result = subprocess.run([sys.executable, "-c", "import ngc_optim"], check=False, capture_output=True,
                            text=True, env={**os.environ, "NGC_OPTIM_THREADS": "two"}, timeout=600)
    assert result.returncode != 0
    assert "NGC_OPTIM_THREADS='two': expected a positive integer" in result.stderr
