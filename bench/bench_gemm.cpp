// GEMM at the ViT training shapes, ours next to OpenBLAS cblas_sgemm (and Eigen's own
// GEMM, the alternative we did not take) on the same shapes and threads, in GFLOP/s; then
// the attention's per-head products on one thread, ours next to each candidate library
// for them (OpenBLAS, oneDNN, libxsmm, and BLIS when installed). Prints ratio tables after Google
// Benchmark's own output.
//   build/bin/bench_gemm [--threads N] [google benchmark flags, e.g. --benchmark_repetitions=5
//                        --benchmark_enable_random_interleaving=true]
#include <benchmark/benchmark.h>
#include <cblas.h>
#ifdef DAPA_HAVE_ONEDNN
#include <oneapi/dnnl/dnnl.h>
#endif
#ifdef DAPA_HAVE_LIBXSMM
#include <libxsmm.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

#ifdef DAPA_BENCH_BLIS
#include "bench/blis_candidate.h"
#endif
#include "core/gemm.h"
#include "core/parallel.h"
#include "core/rng.h"

namespace dapa {
namespace {

struct GemmShape {
  const char* name;
  int64_t batch, M, N, K;
  bool ta, tb;
};

// vit-nano (dim 64, MLP 256) and vit-micro (dim 128, MLP 512), batch 128: 6400 tokens.
const GemmShape kShapes[] = {
    {"nano_fc1_fwd 6400x64 * (256x64)^T", 1, 6400, 256, 64, false, true},
    {"nano_fc2_fwd 6400x256 * (64x256)^T", 1, 6400, 64, 256, false, true},
    {"nano_fc1_dW (6400x256)^T * 6400x64", 1, 256, 64, 6400, true, false},
    {"nano_fc2_dX 6400x64 * 64x256", 1, 6400, 256, 64, false, false},
    {"nano_attn_scores 512 x 50x16 * (50x16)^T", 512, 50, 50, 16, false, true},
    {"nano_attn_values 512 x 50x50 * 50x16", 512, 50, 16, 50, false, false},
    {"micro_fc1_fwd 6400x128 * (512x128)^T", 1, 6400, 512, 128, false, true},
    {"micro_fc1_dW (6400x512)^T * 6400x128", 1, 512, 128, 6400, true, false},
    {"micro_attn_scores 512 x 50x32 * (50x32)^T", 512, 50, 50, 32, false, true},
    {"peak 2048x2048 * 2048x2048", 1, 2048, 2048, 2048, false, false},  // the machine's peak
};

// The attention's per-head products, as the fused op calls them (core/attention.cpp): the
// scores Q K^T and dP = dOut V^T (T x T x d, B transposed), the values P V and dQ = dS K
// (T x d x T), and dV = P^T dOut and dK = dS^T Q (T x d x T, A transposed). gpt-micro's
// (256 x 256 x 32) are large products, oneDNN's.
const GemmShape kSmallShapes[] = {
    {"vit-nano QK^T 50x50x16", 64, 50, 50, 16, false, true},
    {"vit-nano PV 50x16x50", 64, 50, 16, 50, false, false},
    {"vit-nano P^TdO 50x16x50", 64, 50, 16, 50, true, false},
    {"vit-micro QK^T 50x50x32", 64, 50, 50, 32, false, true},
    {"vit-micro PV 50x32x50", 64, 50, 32, 50, false, false},
    {"vit-micro P^TdO 50x32x50", 64, 50, 32, 50, true, false},
    {"gpt-nano QK^T 128x128x32", 64, 128, 128, 32, false, true},
    {"gpt-nano PV 128x32x128", 64, 128, 32, 128, false, false},
    {"gpt-nano P^TdO 128x32x128", 64, 128, 32, 128, true, false},
};

struct Operands {
  Tensor a, b;
  explicit Operands(const GemmShape& s) {
    Rng rng(1);
    a = Tensor::empty(s.ta ? Shape{s.batch, s.K, s.M} : Shape{s.batch, s.M, s.K});
    b = Tensor::empty(s.tb ? Shape{s.batch, s.N, s.K} : Shape{s.batch, s.K, s.N});
    rng.fill_normal(a, 0, 1);
    rng.fill_normal(b, 0, 1);
  }
};

void set_flops(benchmark::State& st, const GemmShape& s) {
  st.counters["GFLOP/s"] = benchmark::Counter(2.0 * s.batch * s.M * s.N * s.K * 1e-9,
                                              benchmark::Counter::kIsIterationInvariantRate);
}

void bench_ours(benchmark::State& st, GemmShape s) {
  Operands op(s);
  for (auto _ : st) {
    Tensor c = s.batch == 1 ? matmul(op.a.reshape({op.a.shape()[1], op.a.shape()[2]}),
                                     op.b.reshape({op.b.shape()[1], op.b.shape()[2]}), s.ta, s.tb)
                            : bmm(op.a, op.b, s.ta, s.tb);
    benchmark::DoNotOptimize(c.data());
  }
  set_flops(st, s);
}

// One of shape s's products on OpenBLAS, C (M, N) row-major.
void openblas_product(const GemmShape& s, const float* a, int64_t lda, const float* b, int64_t ldb,
                      float* c) {
  cblas_sgemm(CblasRowMajor, s.ta ? CblasTrans : CblasNoTrans, s.tb ? CblasTrans : CblasNoTrans,
              s.M, s.N, s.K, 1.0f, a, lda, b, ldb, 0.0f, c, s.N);
}

// The reference: plain cblas_sgemm, one call per matrix, OpenBLAS's own threading.
void bench_openblas(benchmark::State& st, GemmShape s) {
  Operands op(s);
  Tensor c = Tensor::empty({s.batch, s.M, s.N});
  int64_t lda = op.a.shape()[2], ldb = op.b.shape()[2];
  openblas_set_num_threads(num_threads());  // ours keeps OpenBLAS at one thread (gemm.cpp)
  for (auto _ : st) {
    for (int64_t i = 0; i < s.batch; ++i)
      openblas_product(s, op.a.data() + i * op.a.shape()[1] * lda, lda,
                       op.b.data() + i * op.b.shape()[1] * ldb, ldb, c.data() + i * s.M * s.N);
    benchmark::DoNotOptimize(c.data());
  }
  openblas_set_num_threads(1);
  set_flops(st, s);
}

// Eigen's built-in GEMM (what EIGEN_USE_BLAS would replace), for the record.
void bench_eigen(benchmark::State& st, GemmShape s) {
  Operands op(s);
  Tensor c = Tensor::empty({s.batch, s.M, s.N});
  Eigen::setNbThreads(num_threads());
  for (auto _ : st) {
    for (int64_t i = 0; i < s.batch; ++i) {
      Tensor ai = op.a.slice(0, i, i + 1).reshape({op.a.shape()[1], op.a.shape()[2]});
      Tensor bi = op.b.slice(0, i, i + 1).reshape({op.b.shape()[1], op.b.shape()[2]});
      MatrixMap ci(c.data() + i * s.M * s.N, s.M, s.N);
      if (s.ta && s.tb)
        ci.noalias() = ai.matrix().transpose() * bi.matrix().transpose();
      else if (s.ta)
        ci.noalias() = ai.matrix().transpose() * bi.matrix();
      else if (s.tb)
        ci.noalias() = ai.matrix() * bi.matrix().transpose();
      else
        ci.noalias() = ai.matrix() * bi.matrix();
    }
    benchmark::DoNotOptimize(c.data());
  }
  set_flops(st, s);
}

enum class Small { ours, openblas, onednn, libxsmm, blis };
const char* const kSmallNames[] = {"ours", "openblas", "onednn", "libxsmm", "blis"};
constexpr int kSmallBackends = 5;

std::string small_name(int backend, const GemmShape& s) {
  return std::string("small/") + kSmallNames[backend] + "/" + s.name;
}

// One thread runs the batch's products one after another, as each of the attention's
// threads does; each library is called directly (libxsmm: its kernel dispatched once).
void bench_small(benchmark::State& st, GemmShape s, Small backend) {
  Operands op(s);
  Tensor c = Tensor::empty({s.batch, s.M, s.N});
  const int64_t lda = op.a.shape()[2], ldb = op.b.shape()[2], sa = op.a.shape()[1] * lda,
                sb = op.b.shape()[1] * ldb;
  const int threads = num_threads();
  set_num_threads(1);
#ifdef DAPA_HAVE_LIBXSMM
  // Row-major C = op(A) op(B) is libxsmm's column-major C^T = op(B)^T op(A)^T.
  const libxsmm_blasint m = s.N, n = s.M, k = s.K, la = ldb, lb = lda, lc = s.N;
  const int flags = (s.tb ? LIBXSMM_GEMM_FLAG_TRANS_A : 0) | (s.ta ? LIBXSMM_GEMM_FLAG_TRANS_B : 0);
  const float one = 1.0f, zero = 0.0f;
  libxsmm_smmfunction kernel =
      backend == Small::libxsmm
          ? libxsmm_smmdispatch(m, n, k, &la, &lb, &lc, &one, &zero, &flags, nullptr)
          : nullptr;
  if (backend == Small::libxsmm && !kernel) st.SkipWithError("libxsmm has no kernel for this case");
#endif
  for (auto _ : st) {
    for (int64_t i = 0; i < s.batch; ++i) {
      const float *a = op.a.data() + i * sa, *b = op.b.data() + i * sb;
      float* ci = c.data() + i * s.M * s.N;
      switch (backend) {
        case Small::ours:
          sgemm(s.ta, s.tb, s.M, s.N, s.K, 1.0f, a, lda, b, ldb, 0.0f, ci, s.N);
          break;
        case Small::openblas:
          openblas_product(s, a, lda, b, ldb, ci);
          break;
        case Small::onednn:
#ifdef DAPA_HAVE_ONEDNN
          dnnl_sgemm(s.ta ? 'T' : 'N', s.tb ? 'T' : 'N', s.M, s.N, s.K, 1.0f, a, lda, b, ldb, 0.0f,
                     ci, s.N);
#endif
          break;
        case Small::libxsmm:
#ifdef DAPA_HAVE_LIBXSMM
          kernel(b, a, ci);
#endif
          break;
        case Small::blis:
#ifdef DAPA_BENCH_BLIS
          blis_sgemm(s.ta, s.tb, s.M, s.N, s.K, a, lda, b, ldb, ci, s.N);
#endif
          break;
      }
    }
    benchmark::DoNotOptimize(c.data());
  }
  // A fast wrong answer is no candidate: every product must match OpenBLAS's.
  std::vector<float> expected(static_cast<size_t>(s.M * s.N));
  bool same = true;
  for (int64_t i = 0; i < s.batch; ++i) {
    openblas_product(s, op.a.data() + i * sa, lda, op.b.data() + i * sb, ldb, expected.data());
    for (int64_t j = 0; j < s.M * s.N; ++j)
      same = same && std::fabs(expected[j] - c.data()[i * s.M * s.N + j]) <= 1e-4f * s.K;
  }
  if (!same) st.SkipWithError("the product differs from OpenBLAS's");
  set_num_threads(threads);
  set_flops(st, s);
}

// Collects GFLOP/s per benchmark so that the ratio table can be printed at the end: with
// --benchmark_repetitions, the median (and --benchmark_enable_random_interleaving spreads
// the machine's slow and fast phases over all candidates).
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  std::map<std::string, double> gflops;
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      auto it = r.counters.find("GFLOP/s");
      bool median = r.run_type == Run::RT_Aggregate && r.aggregate_name == "median";
      if (it != r.counters.end() && (median || r.run_type == Run::RT_Iteration))
        if (median || !medians.count(r.run_name.function_name))
          gflops[r.run_name.function_name] = it->second;
      if (median) medians.insert(r.run_name.function_name);
    }
  }

 private:
  std::set<std::string> medians;  // names whose median has been reported
};

// The candidates for the small products that this build has, each on every shape.
void register_small_products() {
  std::vector<Small> small = {Small::ours, Small::openblas};
#ifdef DAPA_HAVE_ONEDNN
  small.push_back(Small::onednn);
#endif
#ifdef DAPA_HAVE_LIBXSMM
  small.push_back(Small::libxsmm);
#endif
#ifdef DAPA_BENCH_BLIS
  if (blis_available()) small.push_back(Small::blis);
#endif
  for (const GemmShape& s : kSmallShapes)
    for (Small b : small)
      if (!(b == Small::libxsmm && s.tb))  // libxsmm's JIT: no transposed first operand
        benchmark::RegisterBenchmark(small_name(static_cast<int>(b), s).c_str(), bench_small, s, b)
            ->UseRealTime();
}

void print_small_table(RatioReporter& reporter) {
  std::printf(
      "\nThe attention's per-head products, one thread, 64 heads (GFLOP/s; - = not "
      "built in or no kernel; ratio = ours / the best library)\n");
  std::printf("%-28s %9s %9s %9s %9s %9s %7s\n", "shape", "ours", "openblas", "onednn", "libxsmm",
              "blis", "ratio");
  for (const GemmShape& s : kSmallShapes) {
    double g[kSmallBackends], best = 0;
    for (int b = 0; b < kSmallBackends; ++b) {
      auto it = reporter.gflops.find(small_name(b, s));
      g[b] = it == reporter.gflops.end() ? 0 : it->second;
      if (b > 0) best = std::max(best, g[b]);
    }
    if (g[0] <= 0 || best <= 0) continue;  // filtered out
    std::printf("%-28s", s.name);
    for (double v : g) v > 0 ? std::printf(" %9.1f", v) : std::printf(" %9s", "-");
    std::printf(" %7.2f\n", g[0] / best);
  }
}

}  // namespace
}  // namespace dapa

int main(int argc, char** argv) {
  using namespace dapa;
  int threads = 2;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "--threads") == 0) {
      threads = std::atoi(argv[i + 1]);
      std::memmove(argv + i, argv + i + 2, sizeof(char*) * (argc - i - 2));
      argc -= 2;
      break;
    }
  if (threads < 1) {
    std::fprintf(stderr, "bench_gemm: --threads expects a positive whole number\n");
    return 2;
  }
  set_num_threads(threads);
  for (const GemmShape& s : kShapes) {
    benchmark::RegisterBenchmark((std::string("ours/") + s.name).c_str(), bench_ours, s)
        ->UseRealTime();
    benchmark::RegisterBenchmark((std::string("openblas/") + s.name).c_str(), bench_openblas, s)
        ->UseRealTime();
    benchmark::RegisterBenchmark((std::string("eigen/") + s.name).c_str(), bench_eigen, s)
        ->UseRealTime();
  }
  register_small_products();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  std::printf("\nGEMM at ViT shapes, %d threads (GFLOP/s; ratio = ours / OpenBLAS)\n", threads);
  std::printf("%-44s %9s %9s %9s %7s %11s\n", "shape", "ours", "openblas", "eigen", "ratio",
              "eigen/oblas");
  for (const GemmShape& s : kShapes) {
    double o = reporter.gflops["ours/" + std::string(s.name)];
    double b = reporter.gflops["openblas/" + std::string(s.name)];
    double e = reporter.gflops["eigen/" + std::string(s.name)];
    if (b > 0) std::printf("%-44s %9.1f %9.1f %9.1f %7.2f %11.2f\n", s.name, o, b, e, o / b, e / b);
  }
  print_small_table(reporter);
  benchmark::Shutdown();
  return 0;
}
