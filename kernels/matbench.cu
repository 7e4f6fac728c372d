// matbench's own CUDA kernels, compiled at run time with NVRTC for the device's architecture
// (see src/backend/cuda/kernels.rs). Everything that is not the GEMM itself lives here:
//   - philox_uniform_*: the seeded input matrix, bit-identical to src/philox.rs on the CPU;
//   - sum_*_partial + sum_finish: s = sum(C), accumulated in f64, in a fixed order (deterministic);
//   - colsum_*_partial + colsum_finish: column sums of A in f64, for the O(n^2) reference
//     sum(A*A^T) = sum_k (sum_i A_ik)^2;
//   - rowcheck_*: f64 dot products A[r,:].A[j,:] for a few sample rows r and every j, beside
//     C[r,j], to check whole rows of C element by element;
//   - linesum_*_partial + linesum_finish: every row and column sum of C in one pass, f64, fixed
//     order (the checksums of every repetition), and lineref_*: their exact reference A.c;
//   - inject_*: the test-only fault (MATBENCH_INJECT_FAULT) put into C.
// fp8 runs store A in E4M3 and C in bf16: their A-side kernels (philox, colsum, rowcheck,
// lineref) are the *_e4m3 ones, their C-side kernels (sum, linesum, inject) the bf16 ones.
// No headers are included so NVRTC needs no include path; indices are 64-bit throughout because
// n*n exceeds 2^32 for n > 65535.

typedef unsigned int u32;
typedef unsigned long long u64;

struct alignas(16) f32x4 { float x, y, z, w; };
struct alignas(16) f64x2 { double x, y; };
typedef unsigned short u16;

// Half-precision storage as raw bits, converted by hand so that no header is needed and the
// rounding is exactly IEEE round-to-nearest-even, as the `half` crate does on the CPU.
struct bf16s { u16 bits; };
struct f16s { u16 bits; };
// FP8 E4M3 (OCP "E4M3FN": bias 7, no infinities, 448 the largest finite), as raw bits too.
struct e4m3s { unsigned char bits; };

__device__ __forceinline__ double to_double(float x) { return (double)x; }
__device__ __forceinline__ double to_double(double x) { return x; }
__device__ __forceinline__ double to_double(bf16s x) { return (double)__uint_as_float(((u32)x.bits) << 16); }
__device__ __forceinline__ double to_double(f16s x) {
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(x.bits));
    return (double)f;
}
// Every E4M3 value is exact in f32: subnormals m·2⁻⁹, normals 2^(e−7)·(1 + m/8).
__device__ __forceinline__ double to_double(e4m3s x) {
    u32 e = (x.bits >> 3) & 15u, m = x.bits & 7u;
    float v = e == 0 ? (float)m * (1.0f / 512.0f) : __uint_as_float(((e + 120u) << 23) | (m << 20));
    if (e == 15u && m == 7u) v = __uint_as_float(0x7FC00000u);  // the one NaN pattern
    return (double)((x.bits & 0x80u) ? -v : v);
}
// Finite inputs only (ours are in [0, 1)).
__device__ __forceinline__ bf16s to_bf16(float x) {
    u32 u = __float_as_uint(x);
    u += 0x7FFFu + ((u >> 16) & 1u);
    bf16s r;
    r.bits = (u16)(u >> 16);
    return r;
}
__device__ __forceinline__ f16s to_f16(float x) {
    f16s r;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(r.bits) : "f"(x));
    return r;
}
// Round to nearest even, for x in [0, 1] (ours): what the hardware's cvt.rn.satfinite.e4m3x2
// does there, written out because that instruction exists only from sm_89 and the same source
// builds for every architecture. Below 2⁻⁶ the E4M3 steps are 2⁻⁹ (subnormals; 8 steps carry
// into the smallest normal, whose pattern is 8); above, the f32 significand is rounded to 3
// bits (a carry moves into the exponent, as in to_bf16).
__device__ __forceinline__ e4m3s to_e4m3(float x) {
    e4m3s r;
    if (x < 0.015625f) {
        r.bits = (unsigned char)__float2uint_rn(x * 512.0f);
    } else {
        u32 u = __float_as_uint(x);
        u += 0x7FFFFu + ((u >> 20) & 1u);
        r.bits = (unsigned char)((((u >> 23) - 120u) << 3) | ((u >> 20) & 7u));
    }
    return r;
}

// ---------------------------------------------------------------------------------------------
// Philox4x32-10 (Salmon et al., SC'11; constants and round structure of Random123).
// ---------------------------------------------------------------------------------------------
struct philox_out { u32 v[4]; };

__device__ __forceinline__ philox_out philox4x32_10(u32 c0, u32 c1, u32 c2, u32 c3, u32 k0, u32 k1) {
#pragma unroll
    for (int round = 0; round < 10; ++round) {
        if (round > 0) {
            k0 += 0x9E3779B9u;
            k1 += 0xBB67AE85u;
        }
        // One 32x32->64 multiply gives both halves (IMAD.WIDE), cheaper than mulhi + mullo.
        u64 p0 = (u64)0xD2511F53u * c0;
        u64 p1 = (u64)0xCD9E8D57u * c2;
        u32 hi0 = (u32)(p0 >> 32), lo0 = (u32)p0;
        u32 hi1 = (u32)(p1 >> 32), lo1 = (u32)p1;
        u32 n0 = hi1 ^ c1 ^ k0;
        u32 n2 = hi0 ^ c3 ^ k1;
        c0 = n0;
        c1 = lo1;
        c2 = n2;
        c3 = lo0;
    }
    philox_out out;
    out.v[0] = c0;
    out.v[1] = c1;
    out.v[2] = c2;
    out.v[3] = c3;
    return out;
}

// The block counter is the element index divided by the elements one call yields; the seed is
// the key. Both mappings below are exact, so CPU and GPU agree bit for bit.
__device__ __forceinline__ philox_out philox_block(u64 block, u64 seed) {
    return philox4x32_10((u32)block, (u32)(block >> 32), 0u, 0u, (u32)seed, (u32)(seed >> 32));
}

__device__ __forceinline__ float u32_to_unit_f32(u32 x) {
    return (float)(x >> 8) * (1.0f / 16777216.0f);
}

__device__ __forceinline__ double u32x2_to_unit_f64(u32 hi, u32 lo) {
    u64 bits = ((u64)hi << 21) | (u64)(lo >> 11);
    return (double)bits * (1.0 / 9007199254740992.0);
}

// A[e] for e in [0, len): four f32 per Philox call.
extern "C" __global__ void philox_uniform_f32(float* __restrict__ out, u64 len, u64 seed) {
    u64 blocks = (len + 3) / 4;
    u64 stride = (u64)gridDim.x * blockDim.x;
    for (u64 b = (u64)blockIdx.x * blockDim.x + threadIdx.x; b < blocks; b += stride) {
        philox_out r = philox_block(b, seed);
        u64 e = b * 4;
        if (e + 4 <= len) {
            f32x4 v;
            v.x = u32_to_unit_f32(r.v[0]);
            v.y = u32_to_unit_f32(r.v[1]);
            v.z = u32_to_unit_f32(r.v[2]);
            v.w = u32_to_unit_f32(r.v[3]);
            reinterpret_cast<f32x4*>(out)[b] = v;
        } else {
            for (u64 i = 0; e + i < len; ++i) out[e + i] = u32_to_unit_f32(r.v[i]);
        }
    }
}

// A[e] for e in [0, len): two f64 per Philox call, 53 random bits each.
extern "C" __global__ void philox_uniform_f64(double* __restrict__ out, u64 len, u64 seed) {
    u64 blocks = (len + 1) / 2;
    u64 stride = (u64)gridDim.x * blockDim.x;
    for (u64 b = (u64)blockIdx.x * blockDim.x + threadIdx.x; b < blocks; b += stride) {
        philox_out r = philox_block(b, seed);
        u64 e = b * 2;
        double v0 = u32x2_to_unit_f64(r.v[0], r.v[1]);
        double v1 = u32x2_to_unit_f64(r.v[2], r.v[3]);
        if (e + 2 <= len) {
            f64x2 v;
            v.x = v0;
            v.y = v1;
            reinterpret_cast<f64x2*>(out)[b] = v;
        } else {
            out[e] = v0;
        }
    }
}

// A[e] for half-precision storage: the f32 value of element e, rounded to nearest even.
template <typename H, H (*convert)(float)>
__device__ void philox_uniform_h16(H* __restrict__ out, u64 len, u64 seed) {
    u64 blocks = (len + 3) / 4;
    u64 stride = (u64)gridDim.x * blockDim.x;
    for (u64 b = (u64)blockIdx.x * blockDim.x + threadIdx.x; b < blocks; b += stride) {
        philox_out r = philox_block(b, seed);
        u64 e = b * 4;
        for (u64 i = 0; i < 4 && e + i < len; ++i) out[e + i] = convert(u32_to_unit_f32(r.v[i]));
    }
}

extern "C" __global__ void philox_uniform_bf16(bf16s* out, u64 len, u64 seed) {
    philox_uniform_h16<bf16s, to_bf16>(out, len, seed);
}

extern "C" __global__ void philox_uniform_f16(f16s* out, u64 len, u64 seed) {
    philox_uniform_h16<f16s, to_f16>(out, len, seed);
}

// A[e] in E4M3: the f32 value of element e rounded to nearest even; four bytes per Philox
// call, stored as one 32-bit word (e = 4·b is 4-byte aligned).
extern "C" __global__ void philox_uniform_e4m3(e4m3s* __restrict__ out, u64 len, u64 seed) {
    u64 blocks = (len + 3) / 4;
    u64 stride = (u64)gridDim.x * blockDim.x;
    for (u64 b = (u64)blockIdx.x * blockDim.x + threadIdx.x; b < blocks; b += stride) {
        philox_out r = philox_block(b, seed);
        u64 e = b * 4;
        if (e + 4 <= len) {
            u32 w = 0;
#pragma unroll
            for (int i = 0; i < 4; ++i) w |= (u32)to_e4m3(u32_to_unit_f32(r.v[i])).bits << (8 * i);
            reinterpret_cast<u32*>(out)[b] = w;
        } else {
            for (u64 i = 0; e + i < len; ++i) out[e + i] = to_e4m3(u32_to_unit_f32(r.v[i]));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Block-wide f64 sum (result valid in thread 0). blockDim.x must be a multiple of 32, <= 1024.
// ---------------------------------------------------------------------------------------------
__device__ __forceinline__ double warp_sum(double v) {
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_down_sync(0xffffffffu, v, offset);
    return v;
}

__device__ double block_sum(double v) {
    __shared__ double warp_totals[32];
    u32 lane = threadIdx.x & 31u;
    u32 warp = threadIdx.x >> 5;
    __syncthreads();  // the shared array may still be read by a previous call
    v = warp_sum(v);
    if (lane == 0) warp_totals[warp] = v;
    __syncthreads();
    v = (threadIdx.x < (blockDim.x >> 5)) ? warp_totals[lane] : 0.0;
    if (warp == 0) v = warp_sum(v);
    return v;
}

// ---------------------------------------------------------------------------------------------
// s = sum(x) in f64. Pass 1: each block writes one partial (fixed grid => fixed order).
// Four independent 16-byte loads in flight per thread keep HBM busy.
// ---------------------------------------------------------------------------------------------
extern "C" __global__ void sum_f32_partial(const float* __restrict__ x, u64 len, double* __restrict__ partial) {
    const f32x4* x4 = reinterpret_cast<const f32x4*>(x);
    u64 n4 = len / 4;
    u64 stride = (u64)gridDim.x * blockDim.x;
    u64 i = (u64)blockIdx.x * blockDim.x + threadIdx.x;
    double a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0;
    for (; i + 3 * stride < n4; i += 4 * stride) {
        f32x4 v0 = x4[i], v1 = x4[i + stride], v2 = x4[i + 2 * stride], v3 = x4[i + 3 * stride];
        a0 += ((double)v0.x + (double)v0.y) + ((double)v0.z + (double)v0.w);
        a1 += ((double)v1.x + (double)v1.y) + ((double)v1.z + (double)v1.w);
        a2 += ((double)v2.x + (double)v2.y) + ((double)v2.z + (double)v2.w);
        a3 += ((double)v3.x + (double)v3.y) + ((double)v3.z + (double)v3.w);
    }
    for (; i < n4; i += stride) {
        f32x4 v = x4[i];
        a0 += ((double)v.x + (double)v.y) + ((double)v.z + (double)v.w);
    }
    u64 t = (u64)blockIdx.x * blockDim.x + threadIdx.x;
    if (t < len - n4 * 4) a1 += (double)x[n4 * 4 + t];
    double total = block_sum((a0 + a1) + (a2 + a3));
    if (threadIdx.x == 0) partial[blockIdx.x] = total;
}

extern "C" __global__ void sum_f64_partial(const double* __restrict__ x, u64 len, double* __restrict__ partial) {
    const f64x2* x2 = reinterpret_cast<const f64x2*>(x);
    u64 n2 = len / 2;
    u64 stride = (u64)gridDim.x * blockDim.x;
    u64 i = (u64)blockIdx.x * blockDim.x + threadIdx.x;
    double a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0;
    for (; i + 3 * stride < n2; i += 4 * stride) {
        f64x2 v0 = x2[i], v1 = x2[i + stride], v2 = x2[i + 2 * stride], v3 = x2[i + 3 * stride];
        a0 += v0.x + v0.y;
        a1 += v1.x + v1.y;
        a2 += v2.x + v2.y;
        a3 += v3.x + v3.y;
    }
    for (; i < n2; i += stride) {
        f64x2 v = x2[i];
        a0 += v.x + v.y;
    }
    u64 t = (u64)blockIdx.x * blockDim.x + threadIdx.x;
    if (t < len - n2 * 2) a1 += x[n2 * 2 + t];
    double total = block_sum((a0 + a1) + (a2 + a3));
    if (threadIdx.x == 0) partial[blockIdx.x] = total;
}

template <typename H>
__device__ void sum_h16_partial(const H* __restrict__ x, u64 len, double* __restrict__ partial) {
    // Eight halves (16 bytes) per load.
    const uint4* x8 = reinterpret_cast<const uint4*>(x);
    u64 n8 = len / 8;
    u64 stride = (u64)gridDim.x * blockDim.x;
    double acc = 0.0;
    for (u64 i = (u64)blockIdx.x * blockDim.x + threadIdx.x; i < n8; i += stride) {
        uint4 v = x8[i];
        u32 w[4] = {v.x, v.y, v.z, v.w};
        double local = 0.0;
#pragma unroll
        for (int k = 0; k < 4; ++k) {
            H lo, hi;
            lo.bits = (u16)(w[k] & 0xFFFFu);
            hi.bits = (u16)(w[k] >> 16);
            local += to_double(lo) + to_double(hi);
        }
        acc += local;
    }
    u64 t = (u64)blockIdx.x * blockDim.x + threadIdx.x;
    if (t < len - n8 * 8) acc += to_double(x[n8 * 8 + t]);
    double total = block_sum(acc);
    if (threadIdx.x == 0) partial[blockIdx.x] = total;
}

extern "C" __global__ void sum_bf16_partial(const bf16s* x, u64 len, double* partial) {
    sum_h16_partial<bf16s>(x, len, partial);
}

extern "C" __global__ void sum_f16_partial(const f16s* x, u64 len, double* partial) {
    sum_h16_partial<f16s>(x, len, partial);
}

// --op syrk: only the row-major upper triangle of C (j >= r) is computed. s = 2·(strictly
// above the diagonal) + diagonal. One block per row r writes partial[r]; sum_finish adds them.
template <typename T>
__device__ void sum_upper_partial(const T* __restrict__ c, u32 n, double* __restrict__ partial) {
    u64 r = blockIdx.x;
    const T* row = c + r * n;
    double acc = 0.0;
    for (u64 j = r + 1 + threadIdx.x; j < n; j += blockDim.x) acc += to_double(row[j]);
    double total = block_sum(2.0 * acc);
    if (threadIdx.x == 0) partial[r] = total + to_double(row[r]);
}

extern "C" __global__ void sum_upper_f32_partial(const float* c, u32 n, double* partial) {
    sum_upper_partial<float>(c, n, partial);
}

extern "C" __global__ void sum_upper_f64_partial(const double* c, u32 n, double* partial) {
    sum_upper_partial<double>(c, n, partial);
}

// Pass 2: one block adds the partials in index order.
extern "C" __global__ void sum_finish(const double* __restrict__ partial, u32 count, double* __restrict__ out) {
    double acc = 0.0;
    for (u32 i = threadIdx.x; i < count; i += blockDim.x) acc += partial[i];
    double total = block_sum(acc);
    if (threadIdx.x == 0) out[0] = total;
}

// ---------------------------------------------------------------------------------------------
// Column sums of row-major A (n x n) in f64. Grid: x over columns, y over chunks of rows;
// neighbouring threads read neighbouring columns, so every row read is coalesced.
// ---------------------------------------------------------------------------------------------
template <typename T>
__device__ void colsum_partial(const T* __restrict__ a, u32 n, u32 rows_per_chunk, double* __restrict__ partial) {
    u32 col = blockIdx.x * blockDim.x + threadIdx.x;
    if (col >= n) return;
    u64 r0 = (u64)blockIdx.y * rows_per_chunk;
    u64 r1 = r0 + rows_per_chunk;
    if (r1 > n) r1 = n;
    double acc = 0.0;
#pragma unroll 8
    for (u64 r = r0; r < r1; ++r) acc += to_double(a[r * n + col]);
    partial[(u64)blockIdx.y * n + col] = acc;
}

extern "C" __global__ void colsum_f32_partial(const float* a, u32 n, u32 rows_per_chunk, double* partial) {
    colsum_partial<float>(a, n, rows_per_chunk, partial);
}

extern "C" __global__ void colsum_f64_partial(const double* a, u32 n, u32 rows_per_chunk, double* partial) {
    colsum_partial<double>(a, n, rows_per_chunk, partial);
}

extern "C" __global__ void colsum_bf16_partial(const bf16s* a, u32 n, u32 rows_per_chunk, double* partial) {
    colsum_partial<bf16s>(a, n, rows_per_chunk, partial);
}

extern "C" __global__ void colsum_f16_partial(const f16s* a, u32 n, u32 rows_per_chunk, double* partial) {
    colsum_partial<f16s>(a, n, rows_per_chunk, partial);
}

extern "C" __global__ void colsum_e4m3_partial(const e4m3s* a, u32 n, u32 rows_per_chunk, double* partial) {
    colsum_partial<e4m3s>(a, n, rows_per_chunk, partial);
}

// Adds the chunks' partials per column: a block is 32 columns x 8 groups of chunks, so a warp
// reads 32 neighbouring doubles and each thread adds only chunks/8 partials (fixed order).
__device__ void finish_columns(const double* __restrict__ partial, u32 n, u32 chunks, double* __restrict__ colsum) {
    __shared__ double group_totals[8][33];
    u32 col = blockIdx.x * 32 + threadIdx.x;
    double acc = 0.0;
    if (col < n)
        for (u32 c = threadIdx.y; c < chunks; c += 8) acc += partial[(u64)c * n + col];
    group_totals[threadIdx.y][threadIdx.x] = acc;
    __syncthreads();
    if (threadIdx.y == 0 && col < n) {
        double total = 0.0;
#pragma unroll
        for (int g = 0; g < 8; ++g) total += group_totals[g][threadIdx.x];
        colsum[col] = total;
    }
}

extern "C" __global__ void colsum_finish(const double* __restrict__ partial, u32 n, u32 chunks, double* __restrict__ colsum) {
    finish_columns(partial, n, chunks, colsum);
}

// ---------------------------------------------------------------------------------------------
// Sampled rows. Each block takes ROWCHECK_J consecutive columns j of C and writes
//   out[s*n + j]            = sum_k A[r_s, k] * A[j, k] in f64 (the reference),
//   out[(nrows + s)*n + j]  = C[r_s, j] widened to f64 (what cuBLAS computed),
// so one copy brings back everything verification needs. A is read once from memory; the
// sample rows (<= MAX_SAMPLE_ROWS, L2-resident) are read once per block, not once per j.
// Row indices travel by value.
// ---------------------------------------------------------------------------------------------
#define MAX_SAMPLE_ROWS 4
#define ROWCHECK_J 8

struct SampleRows { u32 r[MAX_SAMPLE_ROWS]; };

template <typename T, typename TC = T>
__device__ void rowcheck(const T* __restrict__ a, const TC* __restrict__ c, u32 n, SampleRows rows, u32 nrows, u32 upper, double* __restrict__ out) {
    __shared__ double totals[32][ROWCHECK_J * MAX_SAMPLE_ROWS];
    u64 j0 = (u64)blockIdx.x * ROWCHECK_J;
    u32 jcount = (u32)((n - j0) < ROWCHECK_J ? (n - j0) : ROWCHECK_J);
    double acc[ROWCHECK_J][MAX_SAMPLE_ROWS];
#pragma unroll
    for (int jj = 0; jj < ROWCHECK_J; ++jj)
#pragma unroll
        for (int s = 0; s < MAX_SAMPLE_ROWS; ++s) acc[jj][s] = 0.0;
    for (u32 k = threadIdx.x; k < n; k += blockDim.x) {
        double sv[MAX_SAMPLE_ROWS];
#pragma unroll
        for (int s = 0; s < MAX_SAMPLE_ROWS; ++s)
            sv[s] = ((u32)s < nrows) ? to_double(a[(u64)rows.r[s] * n + k]) : 0.0;
#pragma unroll
        for (int jj = 0; jj < ROWCHECK_J; ++jj) {
            double v = ((u32)jj < jcount) ? to_double(a[(j0 + jj) * n + k]) : 0.0;
#pragma unroll
            for (int s = 0; s < MAX_SAMPLE_ROWS; ++s) acc[jj][s] += v * sv[s];
        }
    }
    u32 lane = threadIdx.x & 31u;
    u32 warp = threadIdx.x >> 5;
#pragma unroll
    for (int jj = 0; jj < ROWCHECK_J; ++jj)
#pragma unroll
        for (int s = 0; s < MAX_SAMPLE_ROWS; ++s) {
            double v = warp_sum(acc[jj][s]);
            if (lane == 0) totals[warp][jj * MAX_SAMPLE_ROWS + s] = v;
        }
    __syncthreads();
    if (threadIdx.x < ROWCHECK_J * MAX_SAMPLE_ROWS) {
        u32 jj = threadIdx.x / MAX_SAMPLE_ROWS, s = threadIdx.x % MAX_SAMPLE_ROWS;
        double total = 0.0;
        for (u32 w = 0; w < (blockDim.x >> 5); ++w) total += totals[w][threadIdx.x];
        if (jj < jcount && s < nrows) {
            u64 j = j0 + jj;
            out[(u64)s * n + j] = total;
            // upper: only j >= r of row r exists; C is symmetric, so C[r, j] = C[j, r] otherwise.
            u64 r = rows.r[s];
            u64 at = (upper && j < r) ? j * n + r : r * n + j;
            out[(u64)(nrows + s) * n + j] = to_double(c[at]);
        }
    }
}

extern "C" __global__ void rowcheck_f32(const float* a, const float* c, u32 n, SampleRows rows, u32 nrows, u32 upper, double* out) {
    rowcheck<float>(a, c, n, rows, nrows, upper, out);
}

extern "C" __global__ void rowcheck_f64(const double* a, const double* c, u32 n, SampleRows rows, u32 nrows, u32 upper, double* out) {
    rowcheck<double>(a, c, n, rows, nrows, upper, out);
}

extern "C" __global__ void rowcheck_bf16(const bf16s* a, const bf16s* c, u32 n, SampleRows rows, u32 nrows, u32 upper, double* out) {
    rowcheck<bf16s>(a, c, n, rows, nrows, upper, out);
}

extern "C" __global__ void rowcheck_f16(const f16s* a, const f16s* c, u32 n, SampleRows rows, u32 nrows, u32 upper, double* out) {
    rowcheck<f16s>(a, c, n, rows, nrows, upper, out);
}

// fp8: A in E4M3, C in bf16.
extern "C" __global__ void rowcheck_e4m3(const e4m3s* a, const bf16s* c, u32 n, SampleRows rows, u32 nrows, u32 upper, double* out) {
    rowcheck<e4m3s, bf16s>(a, c, n, rows, nrows, upper, out);
}

// ---------------------------------------------------------------------------------------------
// Checksums of every element of C: every row sum and every column sum, f64, in one pass.
// A block of LINE_THREADS threads takes a tile of LINE_TILE_ROWS rows by LINE_THREADS * V
// columns, V = 16 / sizeof(T): each thread owns V neighbouring columns (one 16-byte load per
// row where every row starts 16-byte aligned, n a multiple of V; V element loads otherwise),
// so a warp reads 512 contiguous bytes of a row and LINE_UNROLL rows are in flight at once.
// A thread adds its columns down the tile's rows (one partial per column and tile row); each
// row's V values are added, then across the warp (one partial per row, tile column and warp).
// linesum_finish adds the partials per row and per column in index order: no atomics, so the
// sums of an unchanged C are the same bits in every repetition.
// ---------------------------------------------------------------------------------------------
#define LINE_THREADS 128
#define LINE_WARPS (LINE_THREADS / 32)
#define LINE_TILE_ROWS 128
#define LINE_UNROLL 4

// 16 bytes of T from a 16-byte aligned address, widened to f64.
__device__ __forceinline__ void load16(const float* p, double* out) {
    f32x4 v = *reinterpret_cast<const f32x4*>(p);
    out[0] = v.x; out[1] = v.y; out[2] = v.z; out[3] = v.w;
}
__device__ __forceinline__ void load16(const double* p, double* out) {
    f64x2 v = *reinterpret_cast<const f64x2*>(p);
    out[0] = v.x; out[1] = v.y;
}
template <typename H>
__device__ __forceinline__ void load16_h(const H* p, double* out) {
    uint4 v = *reinterpret_cast<const uint4*>(p);
    u32 w[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
    for (int k = 0; k < 4; ++k) {
        H lo, hi;
        lo.bits = (u16)(w[k] & 0xFFFFu);
        hi.bits = (u16)(w[k] >> 16);
        out[2 * k] = to_double(lo);
        out[2 * k + 1] = to_double(hi);
    }
}
__device__ __forceinline__ void load16(const bf16s* p, double* out) { load16_h<bf16s>(p, out); }
__device__ __forceinline__ void load16(const f16s* p, double* out) { load16_h<f16s>(p, out); }

template <typename T>
__device__ void linesum_partial(const T* __restrict__ c, u32 n, double* __restrict__ row_part, double* __restrict__ col_part) {
    const int V = 16 / sizeof(T);
    const bool vec = (n % V) == 0;
    u32 lane = threadIdx.x & 31u, warp = threadIdx.x >> 5;
    u64 j0 = ((u64)blockIdx.x * LINE_THREADS + threadIdx.x) * V;  // this thread's first column
    u64 r0 = (u64)blockIdx.y * LINE_TILE_ROWS;
    u64 r_end = r0 + LINE_TILE_ROWS < n ? r0 + LINE_TILE_ROWS : n;
    // a chunk of row partials per (tile column, warp)
    double* rows_out = row_part + ((u64)blockIdx.x * LINE_WARPS + warp) * n;
    double cols[V];
#pragma unroll
    for (int e = 0; e < V; ++e) cols[e] = 0.0;
    for (u64 r = r0; r < r_end; r += LINE_UNROLL) {
        double v[LINE_UNROLL][V];
#pragma unroll
        for (int u = 0; u < LINE_UNROLL; ++u) {
            const T* at = c + (r + u) * n + j0;
            if (r + u < r_end && j0 < n) {
                if (vec) {
                    load16(at, v[u]);
                } else {
#pragma unroll
                    for (int e = 0; e < V; ++e) v[u][e] = (j0 + e < n) ? to_double(at[e]) : 0.0;
                }
            } else {
#pragma unroll
                for (int e = 0; e < V; ++e) v[u][e] = 0.0;
            }
        }
        double acc[LINE_UNROLL];
#pragma unroll
        for (int u = 0; u < LINE_UNROLL; ++u) {
            acc[u] = 0.0;
#pragma unroll
            for (int e = 0; e < V; ++e) {
                acc[u] += v[u][e];
                cols[e] += v[u][e];
            }
        }
#pragma unroll
        for (int u = 0; u < LINE_UNROLL; ++u) acc[u] = warp_sum(acc[u]);
        if (lane == 0) {
#pragma unroll
            for (int u = 0; u < LINE_UNROLL; ++u)
                if (r + u < r_end) rows_out[r + u] = acc[u];
        }
    }
#pragma unroll
    for (int e = 0; e < V; ++e)
        if (j0 + e < n) col_part[(u64)blockIdx.y * n + j0 + e] = cols[e];
}

extern "C" __global__ void linesum_f32_partial(const float* c, u32 n, double* row_part, double* col_part) {
    linesum_partial<float>(c, n, row_part, col_part);
}

extern "C" __global__ void linesum_f64_partial(const double* c, u32 n, double* row_part, double* col_part) {
    linesum_partial<double>(c, n, row_part, col_part);
}

extern "C" __global__ void linesum_bf16_partial(const bf16s* c, u32 n, double* row_part, double* col_part) {
    linesum_partial<bf16s>(c, n, row_part, col_part);
}

extern "C" __global__ void linesum_f16_partial(const f16s* c, u32 n, double* row_part, double* col_part) {
    linesum_partial<f16s>(c, n, row_part, col_part);
}

// lines[0..n) = row sums (adding the tile columns' partials), lines[n..2n) = column sums
// (adding the tile rows'): blockIdx.y picks which, each block 32 x 8 as in colsum_finish.
extern "C" __global__ void linesum_finish(const double* __restrict__ row_part, u32 row_chunks, const double* __restrict__ col_part, u32 col_chunks, u32 n, double* __restrict__ lines) {
    if (blockIdx.y == 0)
        finish_columns(row_part, n, row_chunks, lines);
    else
        finish_columns(col_part, n, col_chunks, lines + n);
}

// The exact reference of every row (and column) sum of C = A.A^T: out[i] = sum_k A[i,k] c[k],
// c = the column sums of A, in f64. One warp per row, lanes on neighbouring k.
template <typename T>
__device__ void lineref(const T* __restrict__ a, u32 n, const double* __restrict__ colsum, double* __restrict__ out) {
    u64 r = (u64)blockIdx.x * 8 + threadIdx.y;
    if (r >= n) return;
    const T* row = a + r * n;
    double acc = 0.0;
    for (u32 k = threadIdx.x; k < n; k += 32) acc += to_double(row[k]) * colsum[k];
    acc = warp_sum(acc);
    if (threadIdx.x == 0) out[r] = acc;
}

extern "C" __global__ void lineref_f32(const float* a, u32 n, const double* colsum, double* out) {
    lineref<float>(a, n, colsum, out);
}

extern "C" __global__ void lineref_f64(const double* a, u32 n, const double* colsum, double* out) {
    lineref<double>(a, n, colsum, out);
}

extern "C" __global__ void lineref_bf16(const bf16s* a, u32 n, const double* colsum, double* out) {
    lineref<bf16s>(a, n, colsum, out);
}

extern "C" __global__ void lineref_f16(const f16s* a, u32 n, const double* colsum, double* out) {
    lineref<f16s>(a, n, colsum, out);
}

extern "C" __global__ void lineref_e4m3(const e4m3s* a, u32 n, const double* colsum, double* out) {
    lineref<e4m3s>(a, n, colsum, out);
}

// ---------------------------------------------------------------------------------------------
// The test-only fault: C[r, j] for r in [row, row + rows), j in [col, col + cols) becomes 0, or
// (twice != 0) twice its value. The caller clips the block to C.
// ---------------------------------------------------------------------------------------------
__device__ __forceinline__ void set_scaled(float* p, float k) { *p = *p * k; }
__device__ __forceinline__ void set_scaled(double* p, float k) { *p = *p * (double)k; }
__device__ __forceinline__ void set_scaled(bf16s* p, float k) { *p = to_bf16((float)to_double(*p) * k); }
__device__ __forceinline__ void set_scaled(f16s* p, float k) { *p = to_f16((float)to_double(*p) * k); }

template <typename T>
__device__ void inject(T* c, u32 n, u32 row, u32 col, u32 rows, u32 cols, u32 twice) {
    u32 t = blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= rows * cols) return;
    u64 r = row + t / cols, j = col + t % cols;
    set_scaled(c + r * n + j, twice ? 2.0f : 0.0f);
}

extern "C" __global__ void inject_f32(float* c, u32 n, u32 row, u32 col, u32 rows, u32 cols, u32 twice) {
    inject<float>(c, n, row, col, rows, cols, twice);
}

extern "C" __global__ void inject_f64(double* c, u32 n, u32 row, u32 col, u32 rows, u32 cols, u32 twice) {
    inject<double>(c, n, row, col, rows, cols, twice);
}

extern "C" __global__ void inject_bf16(bf16s* c, u32 n, u32 row, u32 col, u32 rows, u32 cols, u32 twice) {
    inject<bf16s>(c, n, row, col, rows, cols, twice);
}

extern "C" __global__ void inject_f16(f16s* c, u32 n, u32 row, u32 col, u32 rows, u32 cols, u32 twice) {
    inject<f16s>(c, n, row, col, rows, cols, twice);
}
