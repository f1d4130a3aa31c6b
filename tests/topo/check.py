"""Serial NumPy reference for darray-topo: recomputes every number the app reports (from the
same input) and compares it with the report, the HDF5/Zarr outputs and the PNG pictures."""
import argparse
import math
import re
import struct
import sys
import zlib

import h5py
import numpy as np

EARTH_RADIUS_M = 6371008.8
failures = []


def expect(ok, what):
    if not ok:
        failures.append(what)
        print("MISMATCH:", what)


def close(a, b, rtol=1e-9, atol=1e-12):
    return abs(a - b) <= atol + rtol * max(abs(a), abs(b))


def load(args):
    """The elevation map as darray decodes it, its unit scale to metres and the spacing."""
    if args.mode == "dem":
        d = np.load(args.npz)
        z = d["elevation"].astype(np.float64)
        dx, dy = float(d["dx"]), float(d["dy"])
        north = max(float(d["ymin"]), float(d["ymax"]))
        lat_mid = north - 0.5 * z.shape[0] * dy
        rad = math.pi / 180.0
        sy = dy * rad * EARTH_RADIUS_M
        sx = dx * rad * EARTH_RADIUS_M * math.cos(lat_mid * rad)
        return z, 1.0, sx, sy, "m"
    with h5py.File(args.h5, "r") as f:
        rgba = f["/land"][...]
    assert rgba.dtype == np.uint8 and rgba.ndim == 3 and rgba.shape[2] == 4
    a = rgba[:, :, 3]
    expect(a.min() == a.max(), "synthetic alpha channel is constant")
    r, g, b = (rgba[:, :, k].astype(np.float64) for k in range(3))
    lum = r * 0.21 + g * 0.72 + b * 0.07
    z = lum * (1100.0 - 30.0) / 255.0 + 30.0
    return z, 0.3048, args.spacing, args.spacing, "ft"


def blocks(n, c):
    return [(s, min(c, n - s)) for s in range(0, n, c)]


def png_pixels(path):
    """(height, width, rgb array) of an 8-bit RGB PNG, checking its structure on the way."""
    data = open(path, "rb").read()
    expect(data[:8] == b"\x89PNG\r\n\x1a\n", f"{path}: PNG signature")
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        (crc,) = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])
        expect(zlib.crc32(kind + body) == crc, f"{path}: CRC of chunk {kind}")
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    w, h, depth, ctype = ihdr[0], ihdr[1], ihdr[2], ihdr[3]
    expect(depth == 8 and ctype == 2, f"{path}: 8-bit RGB")
    raw = zlib.decompress(idat)
    stride = 3 * w
    expect(len(raw) == h * (stride + 1), f"{path}: IDAT holds {h} rows of {w} pixels")
    out = np.zeros((h, stride), dtype=np.int64)
    prev = np.zeros(stride, dtype=np.int64)
    for i in range(h):
        ft = raw[i * (stride + 1)]
        row = np.frombuffer(raw, np.uint8, stride, i * (stride + 1) + 1).astype(np.int64)
        cur = np.zeros(stride, dtype=np.int64)
        for j in range(stride):
            a = cur[j - 3] if j >= 3 else 0
            b, c = prev[j], prev[j - 3] if j >= 3 else 0
            if ft == 0:
                p = 0
            elif ft == 1:
                p = a
            elif ft == 2:
                p = b
            elif ft == 3:
                p = (a + b) // 2
            else:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                p = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            cur[j] = (row[j] + p) & 255
        out[i], prev = cur, cur
    return h, w, out.reshape(h, w, 3)


def parse_report(text):
    nums = lambda s: [float(x) for x in re.findall(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?", s)]
    rep = {}
    for line in text.splitlines():
        if "min elevation:" in line:
            rep["min"] = nums(line.split(":", 1)[1])[0]
        elif "max elevation:" in line:
            rep["max"] = nums(line.split(":", 1)[1])[0]
        elif line.startswith("step 4"):
            m = re.search(r"block \((\d+), (\d+)\)", line)
            rep["best"] = (int(m.group(1)), int(m.group(2)))
        elif "largest change of area" in line:
            m = re.search(r"area (minimum|maximum) between neighbouring (rows|columns): "
                          r"([\d.]+) \S+, areas \((\d+), (\d+)\)", line)
            rep[(m.group(1), m.group(2))] = (float(m.group(3)), int(m.group(4)), int(m.group(5)))
        elif "slope min" in line:
            rep["slope"] = nums(line)
        elif "flat land (slope <" in line:
            rep["flat_all"] = nums(line.split(":", 1)[1])[0]
        elif re.match(r"\s+site \d+: block", line):
            m = re.search(r"block \((\d+), (\d+)\), flat ([\d.]+)", line)
            rep.setdefault("sites", []).append((int(m.group(1)), int(m.group(2)),
                                                float(m.group(3))))
        elif line.startswith("check: OK"):
            rep["check"] = True
    return rep


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=["dem", "rgba"], required=True)
    ap.add_argument("--npz")
    ap.add_argument("--h5")
    ap.add_argument("--out", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--chunks", type=int, required=True)
    ap.add_argument("--flat", type=float, default=5.0)
    ap.add_argument("--spacing", type=float, default=30.0)
    ap.add_argument("--zarr", action="store_true")
    args = ap.parse_args()

    z, zscale, sx, sy, unit = load(args)
    H, W = z.shape
    c = args.chunks
    log = open(args.log).read()
    report = open(f"{args.out}/report.txt").read()
    expect(report.strip() in log, "report.txt is what rank 0 printed")
    rep = parse_report(report)
    expect(rep.get("check", False), "--check printed check: OK")

    f = h5py.File(f"{args.out}/topo.h5", "r")
    name = "/elevation_m" if unit == "m" else "/elevation_ft"
    expect(np.array_equal(f[name][...], z), f"{name} equals the decoded input")
    expect(f[name].attrs["units"] in (unit, unit.encode()), f"{name} units")
    expect(close(f.attrs["spacing_x_m"], sx) and close(f.attrs["spacing_y_m"], sy),
           f"spacing {f.attrs['spacing_x_m']} x {f.attrs['spacing_y_m']} m, expected {sx} x {sy}")

    # Steps 2-4: min/max, per-block std (np.std), the least-rugged block.
    expect(abs(rep["min"] - z.min()) < 6e-5 and abs(rep["max"] - z.max()) < 6e-5,
           f"min/max {rep['min']}/{rep['max']} vs {z.min()}/{z.max()}")
    rb, cb = blocks(H, c), blocks(W, c)
    std = np.array([[z[r0:r0 + h, c0:c0 + w].std() for c0, w in cb] for r0, h in rb])
    mean = np.array([[z[r0:r0 + h, c0:c0 + w].mean() for c0, w in cb] for r0, h in rb])
    expect(np.allclose(f["/block_std"][...], std, rtol=1e-9, atol=1e-12), "/block_std")
    expect(np.allclose(f["/block_mean"][...], mean, rtol=1e-9, atol=1e-12), "/block_mean")
    best = np.unravel_index(np.argmin(f["/block_std"][...]), std.shape)
    best_ref = np.unravel_index(np.argmin(std), std.shape)
    expect(tuple(map(int, best_ref)) == rep["best"] == tuple(map(int, best)),
           f"least-rugged block {rep['best']} vs {best_ref}")
    expect(int(f.attrs["least_rugged_block_row"]) == best_ref[0], "attribute of the best block")

    # Step 5: 10 x 10 areas of that block (np.array_split), stds, min/max changes by diff.
    (r0, h), (c0, w) = rb[best_ref[0]], cb[best_ref[1]]
    blk = z[r0:r0 + h, c0:c0 + w]
    areas = [np.array_split(rows, min(10, w), axis=1)
             for rows in np.array_split(blk, min(10, h), axis=0)]
    zstd = np.array([[a.std() for a in row] for row in areas])
    expect(np.allclose(f["/zoom_std"][...], zstd, rtol=1e-9, atol=1e-12), "/zoom_std")
    for kind, fn in (("minimum", np.min), ("maximum", np.max)):
        vals = np.array([[fn(a) for a in row] for row in areas])
        for axis, along in ((0, "rows"), (1, "columns")):
            if vals.shape[axis] < 2:
                continue
            d = np.abs(np.diff(vals, axis=axis))
            i, j = np.unravel_index(np.argmax(d), d.shape)
            got = rep[(kind, along)]
            expect(abs(got[0] - d.max()) < 6e-5 and got[1:] == (i, j),
                   f"largest change of area {kind} along {along}: {got} vs {d.max()} at {(i, j)}")

    # Steps 6-7: slope from np.gradient, flat fractions, ranked sites.
    gy, gx = np.gradient(z, axis=0), np.gradient(z, axis=1)
    slope = np.arctan(np.hypot(gx * zscale / sx, gy * zscale / sy)) * (180.0 / np.pi)
    expect(np.allclose(f["/slope_deg"][...], slope, rtol=1e-9, atol=1e-12), "/slope_deg")
    ambig = np.abs(slope - args.flat) <= 1e-9 * max(1.0, args.flat)
    flat = np.array([[(slope[r0:r0 + h, c0:c0 + w] < args.flat).mean() for c0, w in cb]
                     for r0, h in rb])
    amb = np.array([[ambig[r0:r0 + h, c0:c0 + w].sum() for c0, w in cb] for r0, h in rb])
    sizes = np.array([[h * w for c0, w in cb] for r0, h in rb])
    got_flat = f["/flat_fraction"][...]
    expect(np.all(np.abs(got_flat - flat) * sizes <= amb + 0.5), "/flat_fraction")
    s = rep["slope"]
    expect(abs(s[0] - slope.min()) < 1e-6 and abs(s[1] - slope.mean()) < 1e-6
           and abs(s[2] - slope.max()) < 1e-6, f"slope min/mean/max {s}")
    expect(abs(rep["flat_all"] - (slope < args.flat).mean()) < 1e-6, "flat fraction of the map")
    order = sorted(range(std.size), key=lambda b: (-flat.flat[b], std.flat[b], b))[:5]
    sites = [(b // std.shape[1], b % std.shape[1]) for b in order]
    expect([x[:2] for x in rep["sites"]] == sites, f"sites {rep['sites']} vs {sites}")
    for (i, j, fr), (ri, rj) in zip(rep["sites"], sites):
        expect(abs(fr - flat[ri, rj]) < 1e-6, f"flat fraction of site ({i}, {j})")

    # Pictures: valid PNGs of the expected sizes and colours.
    st = -(-max(H, W) // 2000)
    eh, ew = -(-H // st), -(-W // st)
    ph, pw, px = png_pixels(f"{args.out}/elevation.png")
    expect((ph, pw) == (eh, ew), f"elevation.png is {pw} x {ph}, expected {ew} x {eh}")
    i, j = np.unravel_index(np.argmin(z[::st, ::st]), (eh, ew))
    expect(list(px[i, j]) == [51, 51, 153], f"lowest point drawn in terrain's first colour")
    i, j = np.unravel_index(np.argmax(z[::st, ::st]), (eh, ew))
    expect(list(px[i, j]) == [255, 255, 255], f"highest point drawn white")
    ph, pw, _ = png_pixels(f"{args.out}/slope.png")
    expect((ph, pw) == (eh, ew), f"slope.png is {pw} x {ph}")
    nb = max(std.shape)
    k = 1 if nb >= 512 else min(64, 512 // nb)
    ph, pw, px = png_pixels(f"{args.out}/block_std.png")
    expect((ph, pw) == (std.shape[0] * k, std.shape[1] * k), f"block_std.png is {pw} x {ph}")
    fr = max(1, k // 16) if k >= 16 else 1
    y0, x0 = best_ref[0] * k, best_ref[1] * k
    expect(list(px[y0, x0]) == [0, 0, 0], "the chosen block's frame is black")
    if k > 2 * fr:
        expect(list(px[y0 + fr, x0 + fr]) == [253, 231, 37], "inside it, viridis's top colour")

    if args.zarr:
        import zarr
        g = zarr.open_group(f"{args.out}/topo.zarr", mode="r")
        for key in ("block_std", "flat_fraction", "zoom_std", "slope_deg", name.strip("/")):
            expect(np.array_equal(g[key][...], f["/" + key][...]), f"zarr {key} equals HDF5's")
    f.close()
    if failures:
        print(f"{len(failures)} mismatches")
        sys.exit(1)
    print(f"topo reference ({args.mode}, {H} x {W}, chunks {c}): every number agrees")


main()
