// GEMM at the ViT training shapes, ours next to OpenBLAS cblas_sgemm (and Eigen's own
// GEMM, the alternative we did not take) on the same shapes and threads, in GFLOP/s.
// Prints a ratio table after Google Benchmark's own output.
//   build/bin/bench_gemm [--threads N] [google benchmark flags]
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <string>

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
    {"micro_attn_scores 512 x 50x32 * (50x32)^T", 512, 50, 50, 32, false, true},
    {"peak 2048x2048 * 2048x2048", 1, 2048, 2048, 2048, false, false},  // the machine's peak
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

// The reference: plain cblas_sgemm, one call per matrix, OpenBLAS's own threading.
void bench_openblas(benchmark::State& st, GemmShape s) {
  Operands op(s);
  Tensor c = Tensor::empty({s.batch, s.M, s.N});
  int64_t lda = op.a.shape()[2], ldb = op.b.shape()[2];
  openblas_set_num_threads(num_threads());  // ours keeps OpenBLAS at one thread (gemm.cpp)
  for (auto _ : st) {
    for (int64_t i = 0; i < s.batch; ++i)
      cblas_sgemm(CblasRowMajor, s.ta ? CblasTrans : CblasNoTrans, s.tb ? CblasTrans : CblasNoTrans,
                  s.M, s.N, s.K, 1.0f, op.a.data() + i * op.a.shape()[1] * lda, lda,
                  op.b.data() + i * op.b.shape()[1] * ldb, ldb, 0.0f, c.data() + i * s.M * s.N,
                  s.N);
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

// Collects GFLOP/s per benchmark so that the ratio table can be printed at the end.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  std::map<std::string, double> gflops;
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      auto it = r.counters.find("GFLOP/s");
      if (it != r.counters.end()) gflops[r.run_name.function_name] = it->second;
    }
  }
};

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
  benchmark::Shutdown();
  return 0;
}
