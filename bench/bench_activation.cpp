// Activation forward + backward throughput on one tensor, as training runs it: forward
// y = f(x) (DAPA slope mode also writes the one-byte segment index), backward
// dx = dy * f'(x) (DAPA: from the index). Prints one JSON line per variant with the
// median time of --repeats passes; bench/compare_activation.py runs it beside PyTorch.
//   bench_activation [--elements 1638400] [--threads 2] [--segments 16] [--repeats 50]
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <nlohmann/json.hpp>

#include "core/kernels.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "dapa/fixed_point.h"
#include "dapa/kernel.h"

namespace dapa {
namespace {

double median_seconds(int repeats, const std::function<void()>& pass) {
  for (int i = 0; i < 3; ++i) pass();  // warm caches and the allocator
  std::vector<double> t;
  for (int i = 0; i < repeats; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    pass();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::nth_element(t.begin(), t.begin() + repeats / 2, t.end());
  return t[repeats / 2];
}

void report(const std::string& impl, int64_t n, double seconds) {
  std::printf("%s\n", nlohmann::json{{"impl", impl},
                                     {"elements", n},
                                     {"threads", num_threads()},
                                     {"isa", table_kernel_isa()},
                                     {"ms", 1e3 * seconds},
                                     {"elements_per_s", n / seconds}}
                          .dump()
                          .c_str());
}

}  // namespace
}  // namespace dapa

int main(int argc, char** argv) {
  int64_t elements = 128 * 50 * 256;  // vit-nano's MLP hidden at batch 128
  int threads = 2, segments = 16, repeats = 50;
  std::string isa;
  CLI::App app{"GELU vs DAPA activation forward+backward throughput."};
  app.add_option("--elements", elements, "tensor size")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 31));
  app.add_option("--threads", threads, "threads")->check(CLI::Range(1, 1024));
  app.add_option("--segments", segments, "DAPA segments")->check(CLI::Range(2, 256));
  app.add_option("--repeats", repeats, "timed passes")->check(CLI::Range(1, 100000));
  app.add_option("--isa", isa, "table kernel instruction set (default: the best available)");
  CLI11_PARSE(app, argc, argv);
  using namespace dapa;
  try {
    set_num_threads(threads);
    if (!isa.empty()) set_table_kernel_isa(isa);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_activation: %s\n", e.what());
    return 1;
  }
  Rng rng(1);
  Tensor x = Tensor::empty({elements}), gy = Tensor::empty({elements});
  rng.fill_normal(x, 0.0f, 1.0f);
  rng.fill_normal(gy, 0.0f, 1e-3f);
  Distribution d;
  d.add(x);
  PiecewiseLinear table = fit_dapa(d, segments, Target::GeluErf);
  TableKernel kernel(table);
  FixedKernel fixed(quantize_table(table, d));
  std::vector<uint8_t> index;

  report("ours-gelu", elements, median_seconds(repeats, [&] {
           Tensor y = gelu(x);
           Tensor gx = gelu_backward(x, gy);
         }));
  report("ours-dapa", elements, median_seconds(repeats, [&] {
           Tensor y = table_forward(kernel, x, &index);
           Tensor gx = table_backward_from_index(kernel, index, gy);
         }));
  report("ours-dapa-fixed", elements, median_seconds(repeats, [&] {
           Tensor y = fixed_forward(fixed, x, &index);
           Tensor gx = table_backward_from_index(kernel, index, gy);
         }));
  return 0;
}
