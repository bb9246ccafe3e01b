// Matrix products on OpenBLAS, oneDNN and libxsmm; see gemm.h.
#include "core/gemm.h"

#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#ifdef DAPA_HAVE_ONEDNN
#include <oneapi/dnnl/dnnl.h>
#endif
#ifdef DAPA_HAVE_LIBXSMM
#include <libxsmm.h>

#include <array>
#include <cstring>
#include <vector>

#include "core/fast_math.h"
#endif

#include "core/kernels.h"
#include "core/parallel.h"

namespace dapa {

// Products of at least this many multiply-adds are large: they go to oneDNN where it is
// built in. Below, OpenBLAS's small-matrix kernels and libxsmm's win (the attention's
// per-head products, 40k-500k).
constexpr int64_t kLargeProductWork = int64_t{1} << 20;
// From this K on, and 4 times the output's longer side, a product splits along K.
constexpr int64_t kLongK = 1024;

namespace {
#ifdef DAPA_HAVE_LIBXSMM
// libxsmm's JIT kernels for the small products, cached per thread by everything that
// selects one (a dispatch costs ~40 ns, a 50 x 50 x 16 product ~1 us).
struct SmallKernelKey {
  libxsmm_blasint m, n, k, lda, ldb, ldc;
  int flags;
  float beta;
  bool operator==(const SmallKernelKey& o) const {
    return m == o.m && n == o.n && k == o.k && lda == o.lda && ldb == o.ldb && ldc == o.ldc &&
           flags == o.flags && beta == o.beta;
  }
};

// A hash table of the keys seen, open addressing with linear probing: a causal
// attention's backward alone uses about 30 shapes per thread (each row block's products
// have their own), which thrashed the 16 entries of a round-robin list (libxsmm's
// dispatch took 0.55% of a gpt-nano step), and a direct-mapped table of 256 entries
// still had two pairs of them evicting each other every head.
libxsmm_smmfunction small_kernel(const SmallKernelKey& key) {
  struct Entry {
    SmallKernelKey key;
    libxsmm_smmfunction kernel;  // null: libxsmm has none for the key (remembered too)
    bool used;
  };
  constexpr size_t kSlots = 256;
  thread_local std::array<Entry, kSlots> table{};
  thread_local size_t filled = 0;
  uint64_t h = 0;
  for (int64_t v :
       {int64_t{key.m}, int64_t{key.n}, int64_t{key.k}, int64_t{key.lda}, int64_t{key.ldb},
        int64_t{key.ldc}, int64_t{key.flags}, int64_t{key.beta != 0.0f}})
    h = (h ^ static_cast<uint64_t>(v)) * 0x100000001b3ull;  // FNV-1a over the fields,
  h = (h ^ (h >> 31)) * 0xbf58476d1ce4e5b9ull;              // then splitmix64's finaliser
  const size_t home = (h ^ (h >> 32)) % kSlots;
  size_t slot = home;
  for (; table[slot].used; slot = (slot + 1) % kSlots)
    if (table[slot].key == key) return table[slot].kernel;
  if (filled == kSlots / 2) {  // half full: start again rather than probe long runs
    table = {};
    filled = 0;
    slot = home;
  }
  const float one = 1.0f;
  table[slot] = {key,
                 libxsmm_smmdispatch(key.m, key.n, key.k, &key.lda, &key.ldb, &key.ldc, &one,
                                     &key.beta, &key.flags, nullptr),
                 true};
  ++filled;
  return table[slot].kernel;
}

// The transpose of an 8 x 8 block of B (row stride ldb) times alpha, to out (row stride
// ldo): rows as Lanes8 (one register on AVX2 and AVX-512, two on SSE2 and NEON), three
// rounds of two-register shuffles (pairs of rows interleaved, then pairs of pairs, then
// halves exchanged), 24 shuffles for 64 floats with nothing spilled. (A 16 x 16 block in
// the same way needs 32 registers for its rows alone, and spilled: bench_gemm's vit-nano
// QK^T row, which packs the keys, took 45-54 us per 64 heads with it and 41-51 with this,
// on an AVX-512 Zen 5, old and new binaries alternating.)
__attribute__((always_inline)) inline void transpose_block(const float* B, int64_t ldb, float alpha,
                                                           float* out, int64_t ldo) {
  Lanes8 r[8], t[8];
  for (int i = 0; i < 8; ++i) std::memcpy(&r[i], B + i * ldb, sizeof r[i]);
  for (int i = 0; i < 8; i += 2) {  // t[i] = r[i][0] r[i+1][0] r[i][1] r[i+1][1] (and 4, 5)
    t[i] = __builtin_shufflevector(r[i], r[i + 1], 0, 8, 1, 9, 4, 12, 5, 13);
    t[i + 1] = __builtin_shufflevector(r[i], r[i + 1], 2, 10, 3, 11, 6, 14, 7, 15);
  }
  for (int i = 0; i < 8; i += 4)  // r[i + c] = columns c and c + 4 of rows i..i+3 (c < 4)
    for (int c = 0; c < 2; ++c) {
      r[i + 2 * c] = __builtin_shufflevector(t[i + c], t[i + c + 2], 0, 1, 8, 9, 4, 5, 12, 13);
      r[i + 2 * c + 1] =
          __builtin_shufflevector(t[i + c], t[i + c + 2], 2, 3, 10, 11, 6, 7, 14, 15);
    }
  for (int c = 0; c < 4; ++c) {  // columns c and c + 4: rows 0-3 from r[c], rows 4-7 from r[c + 4]
    const Lanes8 lo = __builtin_shufflevector(r[c], r[c + 4], 0, 1, 2, 3, 8, 9, 10, 11) * alpha;
    const Lanes8 hi = __builtin_shufflevector(r[c], r[c + 4], 4, 5, 6, 7, 12, 13, 14, 15) * alpha;
    std::memcpy(out + c * ldo, &lo, sizeof lo);
    std::memcpy(out + (c + 4) * ldo, &hi, sizeof hi);
  }
}

// packed (K, N) = alpha op(B): B (N, K) transposed, in 8 x 8 blocks and the edges
// element by element, or B (K, N) scaled.
DAPA_VECTOR_CLONES void pack_scaled(bool tb, const float* B, int64_t ldb, int64_t N, int64_t K,
                                    float alpha, float* packed) {
  if (!tb) {
    for (int64_t k = 0; k < K; ++k)
      for (int64_t j = 0; j < N; ++j) packed[k * N + j] = alpha * B[k * ldb + j];
    return;
  }
  const int64_t N8 = N / 8 * 8, K8 = K / 8 * 8;
  for (int64_t j = 0; j < N8; j += 8)
    for (int64_t k = 0; k < K8; k += 8)
      transpose_block(B + j * ldb + k, ldb, alpha, packed + k * N + j, N);
  for (int64_t k = 0; k < K; ++k)  // the edges: columns K8.. of every row, rows N8.. of B
    for (int64_t j = k < K8 ? N8 : 0; j < N; ++j) packed[k * N + j] = alpha * B[j * ldb + k];
}

// One small product on libxsmm; false when it has no kernel for it (then OpenBLAS runs
// it). libxsmm is column-major: our row-major C = op(A) op(B) is its C^T = op(B)^T op(A)^T,
// so B comes first. Its JIT takes alpha = 1 and beta 0 or 1 only, and no transposed
// first operand: when B is transposed or alpha is not 1, alpha op(B) is packed (K x N)
// first, K N copies against M N K multiply-adds.
bool sgemm_libxsmm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                   int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (K == 0 || (beta != 0.0f && beta != 1.0f)) return false;
  thread_local std::vector<float> packed;
  if (tb || alpha != 1.0f) {
    packed.resize(static_cast<size_t>(K * N));  // packed: (K, N)
    pack_scaled(tb, B, ldb, N, K, alpha, packed.data());
    B = packed.data();
    ldb = N;
  }
  auto i = [](int64_t v) { return static_cast<libxsmm_blasint>(v); };
  libxsmm_smmfunction kernel = small_kernel(
      {i(N), i(M), i(K), i(ldb), i(lda), i(ldc), ta ? LIBXSMM_GEMM_FLAG_TRANS_B : 0, beta});
  if (!kernel) return false;
  kernel(B, A, C);
  // libxsmm's JIT kernels return with the upper halves of the vector registers dirty; the
  // code around them is compiled for SSE2, and on Intel cores every legacy SSE instruction
  // after that waits on a merge with those halves (bench_gemm's vit-nano PV row on a
  // Sapphire Rapids-class Xeon: 133 GFLOP/s through sgemm against 194 calling the kernel
  // directly). vzeroupper clears them; it exists only where AVX does, as do the kernels
  // that dirty them.
  static const bool avx = __builtin_cpu_supports("avx");
  if (avx) asm volatile("vzeroupper" ::: "memory");
  return true;
}
#endif
// One product on one thread, by the backend that suits its size.
void sgemm_serial(bool onednn, bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                  const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
                  int64_t ldc) {
#ifdef DAPA_HAVE_ONEDNN
  if (onednn) {
    dnnl_status_t status =
        dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    if (status != dnnl_success)
      throw std::runtime_error("oneDNN sgemm failed (status " + std::to_string(status) + ")");
    return;
  }
#else
  (void)onednn;
#endif
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              static_cast<blasint>(M), static_cast<blasint>(N), static_cast<blasint>(K), alpha, A,
              static_cast<blasint>(lda), B, static_cast<blasint>(ldb), beta, C,
              static_cast<blasint>(ldc));
}
}  // namespace

void sgemm_square_openblas_threaded(int64_t n, const float* a, const float* b, float* c) {
  const auto bn = static_cast<blasint>(n);
  openblas_set_num_threads(num_threads());
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, bn, bn, bn, 1.0f, a, bn, b, bn, 0.0f, c,
              bn);
  openblas_set_num_threads(1);  // back to what sgemm() expects
}

namespace {
// piece(i) for i < count, spread over the threads; the first exception a piece throws is
// rethrown after the region, not inside it.
template <class Piece>
void run_pieces(int64_t count, Piece piece) {
  std::atomic<bool> failed{false};
  std::string error;
  parallel_items(count, [&](const auto& next) {
    for (int64_t i; (i = next()) >= 0;) {
      try {
        piece(i);
      } catch (const std::exception& e) {
        if (!failed.exchange(true)) error = e.what();
      }
    }
  });
  if (failed) throw std::runtime_error(error);
}

// A product whose K is long against its output (a weight gradient: 192 x 64 outputs, each
// summed over 6,400 token rows) in up to 8 chunks of K, each a whole-output product: tiles
// of the output would each read all of the other operand again (8 times 1.6 MB on
// vit-nano), where a chunk reads its rows once. Chunk 0 goes to C with the caller's beta,
// the others to scratch, then C adds them in chunk order. With ta and a_sums (M), also
// the sums of A's K rows (a linear layer's bias gradient, next to its weight gradient):
// each chunk's rows summed in order right behind its product, while they are in cache,
// then the chunks' sums added in chunk order.
void sgemm_split_k(bool onednn, bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                   const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
                   int64_t ldc, float* a_sums = nullptr) {
  const int64_t chunks = std::clamp<int64_t>(K / (kLongK / 2), 2, 8);
  Tensor partial = Tensor::empty({chunks - 1, M, N});  // chunks 1.. (M, N) each
  float* P = partial.data();
  Tensor sums = a_sums ? Tensor::zeros({chunks, M}) : Tensor();  // each chunk's row sums
  run_pieces(chunks, [&](int64_t c) {
    const int64_t k0 = K * c / chunks, kn = K * (c + 1) / chunks - k0;
    const float* a = A + (ta ? k0 * lda : k0);  // op(A) (M, K): its columns k0..
    const float* b = B + (tb ? k0 : k0 * ldb);  // op(B) (K, N): its rows k0..
    if (c == 0)
      sgemm_serial(onednn, ta, tb, M, N, kn, alpha, a, lda, b, ldb, beta, C, ldc);
    else
      sgemm_serial(onednn, ta, tb, M, N, kn, alpha, a, lda, b, ldb, 0.0f, P + (c - 1) * M * N, N);
    if (a_sums) accumulate_rows(sums.data() + c * M, a, lda, kn, M);
  });
  if (a_sums) {
    std::fill_n(a_sums, M, 0.0f);
    for (int64_t c = 0; c < chunks; ++c) accumulate(a_sums, sums.data() + c * M, M);
  }
  parallel_for(M, std::max<int64_t>(1, (int64_t{1} << 15) / (N * chunks)),
               [&](int64_t r0, int64_t r1) {
                 for (int64_t r = r0; r < r1; ++r)
                   for (int64_t c = 1; c < chunks; ++c)
                     accumulate(C + r * ldc, P + ((c - 1) * M + r) * N, N);
               });
}

// work's before and after over all M rows, outside the product: threaded by rows.
void all_rows(const std::function<void(int64_t, int64_t)>& f, int64_t M) {
  if (f) parallel_for(M, 16, [&](int64_t r0, int64_t r1) { f(r0, r1 - r0); });
}

// Whether a product that is not small enough for libxsmm runs on oneDNN (else OpenBLAS).
bool onednn_product(int64_t M, int64_t N, int64_t K) {
#ifdef DAPA_HAVE_ONEDNN
  return M * N * K >= kLargeProductWork;
#else
  (void)M, (void)N, (void)K;
  return false;
#endif
}

// Whether sgemm_tiled runs a product on oneDNN or OpenBLAS split along K (and not on
// libxsmm, which takes the small ones whole).
bool splits_k(int64_t M, int64_t N, int64_t K) {
#ifdef DAPA_HAVE_LIBXSMM
  if (M * N * K < kLargeProductWork) return false;
#endif
  return K >= kLongK && K >= 4 * std::max(M, N);
}

// Where the tiles of a product's longer side (side rows or columns) start, and side at
// the end; by the shape alone, so every thread count computes the same tiles, and the
// same bits. One tile for a small product; else the side's two halves, each cut into
// tiles that halve toward the half's end (1/2, 1/4, 1/8, 1/16 and 1/16 of it; none under
// 16; one tile below 32). run_pieces gives each thread its share of tiles front to back, and the
// faster thread takes over the other's last, smallest tiles: this VM's two vCPUs differ by 10-20%
// in speed, and with 8 equal tiles the faster one idled for about 10% of the products' time (an
// LD_PRELOAD shim timing each thread's part of every region). Equal tiles handed to whichever
// thread is free instead balance as well but move rows away from the thread whose L2 holds them
// (docs/results.md).
std::vector<int64_t> tile_starts(int64_t side, bool small) {
  constexpr int kTilesPerHalf = 5;
  std::vector<int64_t> starts{0};
  if (!small && side >= 32)
    for (int64_t half = 0; half < 2; ++half) {
      const int64_t end = side * (half + 1) / 2;
      int64_t at = side * half / 2;
      for (int t = 1; t < kTilesPerHalf && (end - at) / 2 >= 16; ++t) {
        at += (end - at) / 2;
        starts.push_back(at);
      }
      if (half == 0) starts.push_back(end);
    }
  starts.push_back(side);
  return starts;
}

// sgemm with work on C's rows around it (gemm.h, RowWork; null: none).
void sgemm_tiled(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                 int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc,
                 const RowWork* work) {
  if (M == 0 || N == 0) return;
  num_threads();  // OpenBLAS is set to one thread before its first call
  static const RowWork kNone;
  const RowWork& w = work ? *work : kNone;
  // A small product on libxsmm is one call: inside the attention's region over (batch,
  // head) pairs tiles would only shrink it.
  bool before_done = false;
#ifdef DAPA_HAVE_LIBXSMM
  if (M * N * K < kLargeProductWork) {
    all_rows(w.before, M);
    before_done = true;
    if (sgemm_libxsmm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc))
      return all_rows(w.after, M);
  }
#endif
  // Both libraries thread a product themselves, and how they split it depends on the
  // thread count: oneDNN on AVX2 splits a small output next to a long K (weight
  // gradients) along K, and OpenBLAS's kernels for the split edges differ in the last bit
  // (a 31 x 256 x 128 product: 1 and 2 threads disagree). So each runs single-threaded
  // on pieces that depend on the shape alone, spread over our threads: every product
  // gives the same bits for any thread count, so a run may change its thread count and
  // stay reproducible.
  const bool onednn = onednn_product(M, N, K);
  // Otherwise tiles of the output's longer side (tile_starts; one below 2^16
  // multiply-adds). Row tiles do their rows' work around them.
  const bool split_k = splits_k(M, N, K), by_rows = M >= N && !split_k;
  if (!by_rows && !before_done) all_rows(w.before, M);
  if (split_k) {
    sgemm_split_k(onednn, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return all_rows(w.after, M);
  }
  const int64_t side = by_rows ? M : N;
  const std::vector<int64_t> starts = tile_starts(side, M * N * K < (int64_t{1} << 16));
  run_pieces(static_cast<int64_t>(starts.size()) - 1, [&](int64_t t) {
    const int64_t b = starts[t], n = starts[t + 1] - b;
    const float* a = by_rows ? A + (ta ? b : b * lda) : A;
    const float* bm = by_rows ? B : B + (tb ? b * ldb : b);
    float* c = by_rows ? C + b * ldc : C + b;
    if (by_rows && !before_done && w.before) w.before(b, n);
    sgemm_serial(onednn, ta, tb, by_rows ? n : M, by_rows ? N : n, K, alpha, a, lda, bm, ldb, beta,
                 c, ldc);
    if (by_rows && w.after) w.after(b, n);
  });
  if (!by_rows) all_rows(w.after, M);
}
}  // namespace

void sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
           int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  sgemm_tiled(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, nullptr);
}

namespace {
struct Dims {
  int64_t M, N, K;
};

Dims check_dims(const Shape& a, const Shape& b, bool ta, bool tb, const char* op) {
  size_t r = a.size();
  int64_t M = ta ? a[r - 1] : a[r - 2], Ka = ta ? a[r - 2] : a[r - 1];
  int64_t Kb = tb ? b[r - 1] : b[r - 2], N = tb ? b[r - 2] : b[r - 1];
  if (Ka != Kb)
    shape_error(op, a, b,
                std::string("inner dimensions differ") + (ta ? ", a transposed" : "") +
                    (tb ? ", b transposed" : ""));
  return {M, N, Ka};
}
}  // namespace

void matmul_into(const Tensor& a, const Tensor& b, bool ta, bool tb, float beta, Tensor& c,
                 const RowWork* work) {
  if (a.ndim() != 2 || b.ndim() != 2) shape_error("matmul", a.shape(), b.shape(), "needs 2-D");
  Dims d = check_dims(a.shape(), b.shape(), ta, tb, "matmul");
  if (c.shape() != Shape{d.M, d.N} || !c.is_contiguous())
    shape_error("matmul", c.shape(), Shape{d.M, d.N}, "output shape differs from the product's");
  Tensor ac = a.contiguous(), bc = b.contiguous();
  sgemm_tiled(ta, tb, d.M, d.N, d.K, 1.0f, ac.data(), ac.shape()[1], bc.data(), bc.shape()[1], beta,
              c.data(), d.N, work);
}

Tensor matmul(const Tensor& a, const Tensor& b, bool ta, bool tb) {
  if (a.ndim() != 2 || b.ndim() != 2) shape_error("matmul", a.shape(), b.shape(), "needs 2-D");
  Dims d = check_dims(a.shape(), b.shape(), ta, tb, "matmul");
  Tensor c = Tensor::empty({d.M, d.N});
  matmul_into(a, b, ta, tb, 0.0f, c);
  return c;
}

Tensor bmm(const Tensor& a, const Tensor& b, bool ta, bool tb) {
  if (a.ndim() != 3 || b.ndim() != 3 || a.shape()[0] != b.shape()[0])
    shape_error("bmm", a.shape(), b.shape(), "needs 3-D tensors with equal batch");
  Dims d = check_dims(a.shape(), b.shape(), ta, tb, "bmm");
  Tensor ac = a.contiguous(), bc = b.contiguous();
  int64_t batch = a.shape()[0];
  Tensor c = Tensor::empty({batch, d.M, d.N});
  int64_t sa = ac.shape()[1] * ac.shape()[2], sb = bc.shape()[1] * bc.shape()[2];
  int64_t sc = d.M * d.N, lda = ac.shape()[2], ldb = bc.shape()[2];
  const float *A = ac.data(), *B = bc.data();
  float* C = c.data();
  parallel_for(batch, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      sgemm(ta, tb, d.M, d.N, d.K, 1.0f, A + i * sa, lda, B + i * sb, ldb, 0.0f, C + i * sc, d.N);
  });
  return c;
}

void check_linear_shapes(const char* op, const Shape& x, const Shape& weight, const Shape* bias) {
  if (weight.size() != 2 || x.empty() || x.back() != weight[1])
    shape_error(op, x, weight, "needs x (..., in) and weight (out, in)");
  if (bias && *bias != Shape{weight[0]}) shape_error(op, weight, *bias, "bias must be (out,)");
}

Tensor linear_forward(const Tensor& x, const Tensor& weight, const Tensor& bias,
                      const RowWork& work, const Tensor& residual) {
  check_linear_shapes("linear", x.shape(), weight.shape(),
                      bias.defined() ? &bias.shape() : nullptr);
  if (x.ndim() != 2) shape_error("linear", x.shape(), weight.shape(), "x must be (R, in)");
  int64_t out = weight.shape()[0];
  if (residual.defined() &&
      (residual.shape() != Shape{x.shape()[0], out} || !residual.is_contiguous()))
    shape_error("linear", residual.shape(), Shape{x.shape()[0], out},
                "the residual must be contiguous and of the output's shape");
  Tensor y = Tensor::empty({x.shape()[0], out});             // y: (R, out)
  Tensor b = bias.defined() ? bias.contiguous() : Tensor();  // b: (out)
  // Each tile of y gets its bias and then the residual just behind its product, while it
  // is in cache: the same bits as adding each over all of y afterwards. (Writing the bias
  // into the tile ahead of a beta = 1 product instead costs a pass over the fresh,
  // uncached tile: 1-4% of a vit-nano step, docs/results.md.)
  const float* pb = b.defined() ? b.data() : nullptr;
  const float* pr = residual.defined() ? residual.data() : nullptr;
  float* py = y.data();
  const RowWork with_bias{work.before, [&](int64_t r0, int64_t rows) {
                            float* y0 = py + r0 * out;
                            const float* r = pr ? pr + r0 * out : nullptr;
                            // Bias and residual in one pass unless `after` goes between.
                            const bool together = pb && !work.after;
                            if (pb) add_bias_rows(y0, pb, together ? r : nullptr, rows, out);
                            if (work.after) work.after(r0, rows);
                            if (r && !together)
                              accumulate(y0, r, rows * out);  // residual + y, as add()
                          }};
  matmul_into(x, weight, false, true, 0.0f, y, &with_bias);
  return y;
}

LinearGrads linear_backward(const Tensor& gy, const Tensor& x, const Tensor& weight, bool need_x,
                            bool need_weight, bool need_bias) {
  LinearGrads g;                         // gy: (R, out), x: (R, in)
  if (need_x) g.x = matmul(gy, weight);  // (R, in)
  const int64_t out = weight.shape()[0];
  // (Shapes that do not fit take the checked path below, which names them.)
  if (need_weight && need_bias && gy.ndim() == 2 && x.ndim() == 2 && gy.shape()[1] == out &&
      gy.shape()[0] == x.shape()[0] && splits_k(out, x.shape()[1], gy.shape()[0])) {
    // The weight gradient's product runs in chunks of gy's rows: the bias gradient, gy's
    // column sums, is summed chunk by chunk behind it (sgemm_split_k).
    const Tensor a = gy.contiguous(), b = x.contiguous();
    g.weight = Tensor::empty({out, b.shape()[1]});  // (out, in)
    g.bias = Tensor::empty({out});
    sgemm_split_k(onednn_product(out, b.shape()[1], a.shape()[0]), true, false, out, b.shape()[1],
                  a.shape()[0], 1.0f, a.data(), out, b.data(), b.shape()[1], 0.0f, g.weight.data(),
                  b.shape()[1], g.bias.data());
    return g;
  }
  if (need_weight) g.weight = matmul(gy, x, true, false);  // (out, in)
  if (need_bias) g.bias = sum_to(gy, {out});
  return g;
}

}  // namespace dapa
