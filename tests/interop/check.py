#!/usr/bin/python3
"""The Python side of darray's interoperability tests (tests/interop/da_interop.c is the other).

    check.py write FMT PATH DTYPE SHAPE CHUNKS COMP [options]
    check.py read  FMT PATH DTYPE SHAPE CHUNKS COMP [options]

Same arguments as da_interop. write stores the deterministic array with h5py (chunked,
gzip) or zarr (v2, C order); read opens what darray wrote with h5py / zarr and with
dask (da.from_array over the h5py dataset, da.from_zarr), checks dtype, shape, chunks and
compressor, and compares every element with NumPy. Options: --seed S, --dataset D (h5),
--fill V (zarr: fill_value V, and write deletes the first chunk file, which must then read
as V), --sep S (zarr dimension_separator), --read-chunks C (dask chunks when reading).
Run with Debian's /usr/bin/python3 (python3-h5py, python3-zarr, python3-dask).
"""
import os
import sys

try:
    import numpy as np
    import h5py
    import zarr
    import numcodecs
    import dask.array as da
except ImportError as e:  # a clear failure, never a silent pass
    sys.exit(
        f"check.py: {sys.executable} cannot import {e.name}: install the Debian packages "
        "python3-h5py python3-zarr python3-dask (the interoperability tests need them)"
    )


def fail(msg):
    sys.exit(f"check.py: {msg}")


def expected(dtype, shape, seed):
    """The array da_interop's value() makes: element i is f(i + 1000003 * seed)."""
    n = int(np.prod(shape, dtype=np.int64))
    b = (np.arange(n, dtype=np.int64) + 1000003 * seed) * 37 + 11
    name = np.dtype(dtype).newbyteorder("=").name
    if name == "bool":
        v = b % 3 == 0
    elif name == "int8":
        v = b % 200 - 100
    elif name == "uint8":
        v = b % 250
    elif name == "int16":
        v = b % 60000 - 30000
    elif name == "uint16":
        v = b % 60000
    elif name == "int32":
        v = b % 2000000000 - 1000000000
    elif name == "uint32":
        v = b % 4000000000
    elif name == "int64":
        v = (b % 1000000007 - 500000000) * 4099
    elif name == "uint64":
        v = (b % 1000000007).astype(np.uint64) * np.uint64(17179869183)
    elif name == "float32":
        v = (b % 100000 - 50000).astype(np.float32) / np.float32(16)
    elif name == "float64":
        v = (b % 1000000007 - 500000000).astype(np.float64) / 64.0
    else:
        fail(f"unsupported dtype {dtype}")
    return v.astype(dtype).reshape(shape)


def compare(what, got, want):
    got = np.asarray(got)
    if got.shape != want.shape:
        fail(f"{what}: shape {got.shape}, want {want.shape}")
    if got.dtype.newbyteorder("=") != want.dtype.newbyteorder("="):
        fail(f"{what}: dtype {got.dtype}, want {want.dtype}")
    bad = np.argwhere(got != want)
    if len(bad):
        idx = tuple(int(i) for i in bad[0])
        fail(
            f"{what}: MISMATCH at {idx} ({len(bad)} elements differ): "
            f"got {got[idx]!r}, want {want[idx]!r}"
        )


def dims(s):
    return tuple(int(x) for x in s.split("x"))


def zarr_compressor(name):
    if name == "none":
        return None
    if name == "zlib":
        return numcodecs.Zlib(level=1)
    if name == "gzip":
        return numcodecs.GZip(level=1)
    if name == "zstd":
        return numcodecs.Zstd(level=1)
    if name.startswith("blosc-"):
        return numcodecs.Blosc(cname=name[6:], clevel=5, shuffle=numcodecs.Blosc.SHUFFLE)
    fail(f"unknown zarr compressor {name}")


def main(argv):
    if len(argv) < 8 or argv[1] not in ("read", "write") or argv[2] not in ("h5", "zarr"):
        fail(__doc__)
    cmd, fmt, path, dtype, shape, chunks, comp = argv[1:8]
    shape, chunks = dims(shape), dims(chunks)
    opts = dict(zip(argv[8::2], argv[9::2]))
    seed = int(opts.get("--seed", 0))
    dataset = opts.get("--dataset", "/data")
    fill = opts.get("--fill")
    dtype = np.dtype(dtype)
    want = expected(dtype, shape, seed)
    if fill is not None:
        fill = np.array(float(fill)).astype(dtype)[()]
        want[tuple(slice(0, c) for c in chunks)] = fill
    dchunks = dims(opts["--read-chunks"]) if "--read-chunks" in opts else None

    if cmd == "write" and fmt == "h5":
        with h5py.File(path, "w") as f:
            kw = {}
            if comp.startswith("gzip"):
                kw = dict(compression="gzip", compression_opts=int(comp[4:] or 4))
            elif comp != "none":
                fail(f"unknown h5 compression {comp}")
            f.create_dataset(dataset, data=want, chunks=chunks, **kw)
    elif cmd == "write":
        kw = {}
        if "--sep" in opts:
            kw["dimension_separator"] = opts["--sep"]
        z = zarr.open_array(
            path, mode="w", shape=shape, chunks=chunks, dtype=dtype, order="C",
            compressor=zarr_compressor(comp),
            fill_value=fill if fill is not None else 0, **kw)
        z[...] = want
        if fill is not None:  # the first chunk goes missing: it must read as fill_value
            sep = opts.get("--sep", ".")
            first = os.path.join(path, *(["0"] * len(shape))) if sep == "/" else \
                os.path.join(path, ".".join(["0"] * len(shape)))
            if os.path.exists(first):
                os.remove(first)
            compare(f"zarr {path} (after removing a chunk)", zarr.open_array(path, "r")[...], want)
    elif fmt == "h5":
        with h5py.File(path, "r") as f:
            ds = f[dataset]
            if ds.chunks != tuple(min(c, s) for c, s in zip(chunks, shape)):
                fail(f"h5 {path}{dataset}: chunks {ds.chunks}, want {chunks}")
            if comp.startswith("gzip") and ds.compression != "gzip":
                fail(f"h5 {path}{dataset}: compression {ds.compression}, want gzip")
            if comp == "none" and ds.compression is not None:
                fail(f"h5 {path}{dataset}: compression {ds.compression}, want none")
            compare(f"h5py {path}{dataset}", ds[...], want)
            compare(f"dask.from_array(h5py) {path}{dataset}",
                    da.from_array(ds, chunks=dchunks or ds.chunks).compute(scheduler="sync"),
                    want)
    else:
        z = zarr.open_array(path, mode="r")
        if z.chunks != tuple(min(c, s) for c, s in zip(chunks, shape)) and z.chunks != chunks:
            fail(f"zarr {path}: chunks {z.chunks}, want {chunks}")
        if z.order != "C":
            fail(f"zarr {path}: order {z.order}")
        c = z.compressor
        cname = "none" if c is None else c.codec_id
        if c is not None and c.codec_id == "blosc":
            cname = "blosc-" + c.cname
        if cname != comp:
            fail(f"zarr {path}: compressor {c}, want {comp}")
        compare(f"zarr {path}", z[...], want)
        compare(f"dask.from_zarr {path}",
                da.from_zarr(path, chunks=dchunks).compute(scheduler="sync")
                if dchunks else da.from_zarr(path).compute(scheduler="sync"), want)
    print(f"check.py: {cmd} {fmt} {path}: {want.size} {dtype.str} elements OK")


if __name__ == "__main__":
    main(sys.argv)
