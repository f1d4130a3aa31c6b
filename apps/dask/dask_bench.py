#!/usr/bin/python3
"""The Dask versions of darray-bench's workloads, to compare in the same run on the same
machine: /usr/bin/python3 apps/dask/dask_bench.py [stencil|histogram|percentile|matmul|dot_seed|
hdf5|zarr ...].
Dask's threaded scheduler on 2 workers, the best of a few repeats, seconds on stdout."""
import os, shutil, sys, tempfile, time

import dask
import dask.array as da

dask.config.set(scheduler="threads", num_workers=int(os.environ.get("DASK_WORKERS", "2")))


def best(f, n=3):
    t = []
    for _ in range(n):
        t0 = time.perf_counter()
        f()
        t.append(time.perf_counter() - t0)
    return min(t)


def stencil():
    def four(b):
        return b[:-2, 1:-1] + b[2:, 1:-1] + b[1:-1, :-2] + b[1:-1, 2:]
    x = da.random.uniform(0, 1, size=(8000, 8000), chunks=(1000, 1000))
    x.map_overlap(four, depth=1, boundary="reflect", trim=False).sum().compute()


def histogram():
    x = da.random.uniform(0, 1, size=(8000, 8000), chunks=(1000, 1000))
    h, _ = da.histogram(x, bins=100, range=[0, 1])
    h.compute()


def percentile():
    # Dask's percentile is approximate and 1-D only: the ravelled array's 50th.
    x = da.random.uniform(0, 1, size=(8000, 8000), chunks=(1000, 1000))
    da.percentile(x.ravel(), 50).compute()


def dot_seed():
    a = da.random.random((5000, 5000), chunks=(1000, 1000))
    da.dot(a, a + a.T).persist()


def matmul():
    a = da.random.random((8000, 8000), chunks=(1000, 1000)).persist()
    return best(lambda: (a @ a).persist(), 2)


def io(kind):
    import h5py
    from numcodecs import Blosc
    d = tempfile.mkdtemp(dir=os.environ.get("TMPDIR", "/tmp"))
    n, c = 16384, 2048
    try:
        def write():
            x = da.random.uniform(0, 1, size=(n, n), chunks=(c, c))
            if kind == "hdf5":
                x.to_hdf5(d + "/x.h5", "/x", chunks=(c, c))
            else:
                shutil.rmtree(d + "/x.zarr", ignore_errors=True)
                x.to_zarr(d + "/x.zarr",
                          compressor=Blosc(cname="lz4", clevel=5, shuffle=Blosc.SHUFFLE))

        def read():
            if kind == "hdf5":
                with h5py.File(d + "/x.h5", "r") as f:
                    da.from_array(f["/x"], chunks=(c, c)).sum().compute()
            else:
                da.from_zarr(d + "/x.zarr").sum().compute()
        return best(write, 2), best(read, 2)
    finally:
        shutil.rmtree(d, ignore_errors=True)


for name in sys.argv[1:] or ["stencil", "histogram", "percentile", "dot_seed", "matmul", "hdf5",
                              "zarr"]:
    if name in ("hdf5", "zarr"):
        w, r = io(name)
        print(f"{name}: write {w:.3f} s, read+sum {r:.3f} s")
    elif name == "matmul":
        print(f"matmul: {matmul():.3f} s (persisted input)")
    else:
        print(f"{name}: {best(globals()[name]):.3f} s")
