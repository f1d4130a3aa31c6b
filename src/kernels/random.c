/* Counter-based random numbers: element g of an array is a pure function of (key, g).
 * Normals use a 256-layer ziggurat; the rare extra draws of element g come from a second
 * key and a draw counter, so they too depend on nothing but the element. */
#include "kernels/kernels.h"

#include <math.h>

uint64_t da_rng_key(uint64_t seed, uint64_t stream) {
  return da_rng_bits(seed * 0xd1342543de82ef95ULL + 0x2545f4914f6cdd1dULL, stream);
}

/* Uniform in [0, 1) from the top 53 bits. */
static inline double unit(uint64_t z) {
  return (double)(z >> 11) * 0x1.0p-53;
}

/* Extra draw j of element g. */
static inline uint64_t extra(uint64_t key2, uint64_t g, uint64_t j) {
  return da_rng_bits(da_rng_bits(key2, g), j);
}

/* Writes doubles to out as dt, a tile at a time, clamping below high when given. */
#define DA_RNG_BUF 256
static void store(const double *v, int64_t n, da_dtype dt, void *out, int64_t at) {
  if (dt == DA_FLOAT64) {
    double *o = (double *)out + at;
    for (int64_t i = 0; i < n; i++)
      o[i] = v[i];
  } else {
    float *o = (float *)out + at;
    for (int64_t i = 0; i < n; i++)
      o[i] = (float)v[i];
  }
}

void da_rng_uniform(uint64_t key, uint64_t g, int64_t n, double low, double high, da_dtype dt,
                    void *out) {
  double span = high - low, buf[DA_RNG_BUF];
  float highf = (float)high, belowf = nextafterf(highf, -INFINITY);
  double below = nextafter(high, -INFINITY);
  for (int64_t s = 0; s < n; s += DA_RNG_BUF) {
    int64_t m = n - s < DA_RNG_BUF ? n - s : DA_RNG_BUF;
    for (int64_t i = 0; i < m; i++) {
      double v = low + span * unit(da_rng_bits(key, g + (uint64_t)(s + i)));
      buf[i] = v < high ? v : below; /* rounding may reach high; the interval is half-open */
    }
    store(buf, m, dt, out, s);
    if (dt == DA_FLOAT32) {
      float *o = (float *)out + s;
      for (int64_t i = 0; i < m; i++)
        if (o[i] >= highf && highf > (float)low)
          o[i] = belowf;
    }
  }
}

void da_ziggurat_init(da_ziggurat *z) {
  const double r = 3.6541528853610088, v = 0.00492867323399;
  double fr = exp(-0.5 * r * r);
  z->x[0] = v / fr;
  z->x[1] = r;
  for (int i = 2; i < DA_ZIG_N; i++) {
    double t = v / z->x[i - 1] + exp(-0.5 * z->x[i - 1] * z->x[i - 1]);
    z->x[i] = t < 1 ? sqrt(-2 * log(t)) : 0;
  }
  z->x[DA_ZIG_N] = 0;
  for (int i = 0; i <= DA_ZIG_N; i++)
    z->f[i] = exp(-0.5 * z->x[i] * z->x[i]);
  for (int i = 0; i < DA_ZIG_N; i++) {
    z->w[i] = z->x[i] * 0x1.0p-53;
    z->w[i + DA_ZIG_N] = -z->w[i];
    z->k[i] = (uint64_t)floor(z->x[i + 1] / z->x[i] * 0x1.0p53);
  }
}

/* The slow path: the tail beyond r, or a point near the curve, by further draws. */
static double normal_slow(const da_ziggurat *z, uint64_t key2, uint64_t g, uint64_t bits) {
  const double r = z->x[1];
  for (uint64_t j = 0;; j += 3) {
    int i = (int)(bits & 0xff);
    double sign = (bits >> 8) & 1 ? -1.0 : 1.0, x = unit(bits) * z->x[i];
    if (x < z->x[i + 1])
      return sign * x;
    if (i == 0) {
      for (;; j += 2) {
        double a = -log1p(-unit(extra(key2, g, j))) / r;
        double b = -log1p(-unit(extra(key2, g, j + 1)));
        if (b + b >= a * a)
          return sign * (r + a);
      }
    }
    double y = z->f[i] + unit(extra(key2, g, j)) * (z->f[i + 1] - z->f[i]);
    if (y < exp(-0.5 * x * x))
      return sign * x;
    bits = extra(key2, g, j + 1);
  }
}

/* The ziggurat's fast path without branches, then the rare points outside it, listed on
 * the way. */
void da_rng_normal(const da_ziggurat *z, uint64_t key, uint64_t key2, uint64_t g, int64_t n,
                   double loc, double scale, da_dtype dt, void *out) {
  double buf[DA_RNG_BUF];
  uint64_t slowbits[DA_RNG_BUF];
  int slow[DA_RNG_BUF];
  for (int64_t s = 0; s < n; s += DA_RNG_BUF) {
    int m = (int)(n - s < DA_RNG_BUF ? n - s : DA_RNG_BUF), nslow = 0;
    double *o = dt == DA_FLOAT64 ? (double *)out + s : buf;
    for (int i = 0; i < m; i++) {
      uint64_t b = da_rng_bits(key, g + (uint64_t)(s + i)), u = b >> 11;
      /* bits 0-7 pick the layer, bit 8 the sign, bits 11-63 the point; u < 2^53 converts
       * exactly through int64_t */
      double x = (double)(int64_t)u * z->w[b & 0x1ff];
      slow[nslow] = i;
      slowbits[nslow] = b;
      nslow += u >= z->k[b & 0xff];
      o[i] = loc + scale * x;
    }
    for (int k = 0; k < nslow; k++) {
      int i = slow[k];
      o[i] = loc + scale * normal_slow(z, key2, g + (uint64_t)(s + i), slowbits[k]);
    }
    if (dt != DA_FLOAT64)
      store(buf, m, dt, out, s);
  }
}

void da_rng_randint(uint64_t key, uint64_t key2, uint64_t g, int64_t n, int64_t low, uint64_t range,
                    da_dtype dt, void *out) {
  /* Lemire's multiply-shift with rejection: exactly uniform on [0, range). */
  uint64_t threshold = (0 - range) % range, buf[DA_RNG_BUF];
  for (int64_t s = 0; s < n; s += DA_RNG_BUF) {
    int64_t m = n - s < DA_RNG_BUF ? n - s : DA_RNG_BUF;
    for (int64_t i = 0; i < m; i++) {
      uint64_t gi = g + (uint64_t)(s + i), bits = da_rng_bits(key, gi);
      unsigned __int128 p = (unsigned __int128)bits * range;
      for (uint64_t j = 0; (uint64_t)p < threshold; j++)
        p = (unsigned __int128)extra(key2, gi, j) * range;
      buf[i] = (uint64_t)low + (uint64_t)(p >> 64);
    }
    switch (dt) {
#define DA_RANDINT_STORE_(E, T, S)                                                                 \
  case E:                                                                                          \
    for (int64_t i = 0; i < m; i++)                                                                \
      ((T *)out)[s + i] = (T)buf[i];                                                               \
    break;
      DA_FOR_EACH_DTYPE(DA_RANDINT_STORE_)
#undef DA_RANDINT_STORE_
    default:
      break;
    }
  }
}
