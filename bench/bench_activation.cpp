// Activation forward + backward throughput on one tensor, as training runs it: forward
// y = f(x) (DAPA slope mode also writes the one-byte segment index), backward
// dx = dy * f'(x) (DAPA: from the index). Prints one JSON line per variant with the
// median time of --repeats passes; bench/compare_activation.py runs it beside PyTorch.
//   bench_activation [--elements 1638400] [--threads 2] [--segments 16] [--repeats 50]
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
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

// bytes: what one element's forward + backward reads and writes in memory.
void report(const std::string& impl, int64_t n, int bytes, double seconds) {
  std::printf("%s\n", nlohmann::json{{"impl", impl},
                                     {"elements", n},
                                     {"threads", num_threads()},
                                     {"isa", table_kernel_isa()},
                                     {"ms", 1e3 * seconds},
                                     {"elements_per_s", n / seconds},
                                     {"bytes_per_element", bytes},
                                     {"gb_per_s", bytes * n / seconds / 1e9}}
                          .dump()
                          .c_str());
}

// dx = dy * index, restrict-qualified so that the byte loads (which may alias
// anything) do not keep the loop from vectorising.
void scale_by_index(const float* __restrict dy, const uint8_t* __restrict index, int64_t n,
                    float* __restrict dx) {
  for (int64_t i = 0; i < n; ++i) dx[i] = dy[i] * static_cast<float>(index[i]);
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
  PiecewiseLinear table = fit_dapa(d, segments, find_function("gelu"));
  TableKernel kernel(table);
  FixedKernel fixed(quantize_table(table, d));
  std::vector<uint8_t> index;

  // GELU as the tape's elementwise op runs it: x -> y, then x -> (y, f'), f', dy -> dx.
  // DAPA (slope mode): x -> y, index, then index, dy -> dx.
  const ElementwiseFunction& gelu = find_function("gelu");
  report("ours-gelu", elements, 32, median_seconds(repeats, [&] {
           Tensor y = apply(gelu, x);
           Tensor gx = mul(gy, apply_with_derivative(gelu, x).derivative);
         }));
  report("ours-dapa", elements, 18, median_seconds(repeats, [&] {
           Tensor y = table_forward(kernel, x, &index);
           Tensor gx = table_backward_from_index(kernel, index, gy);
         }));
  report("ours-dapa-fixed", elements, 18, median_seconds(repeats, [&] {
           Tensor y = fixed_forward(fixed, x, &index);
           Tensor gx = table_backward_from_index(kernel, index, gy);
         }));
  // The ceiling for any activation that saves a one-byte index: DAPA's memory traffic
  // (same tensors, same threads, same passes) without the segment search: the forward
  // copies x to y and clears the index, the backward scales dy by the index.
  report("memory-bound", elements, 18, median_seconds(repeats, [&] {
           Tensor y = Tensor::empty(x.shape());
           index.resize(static_cast<size_t>(elements));
           const float* px = x.data();
           float* py = y.data();
           uint8_t* pi = index.data();
           parallel_for(elements, 1 << 15, [&](int64_t i0, int64_t i1) {
             std::memcpy(py + i0, px + i0, sizeof(float) * static_cast<size_t>(i1 - i0));
             std::memset(pi + i0, 0, static_cast<size_t>(i1 - i0));
           });
           Tensor gx = Tensor::empty(gy.shape());
           const float* pg = gy.data();
           float* pd = gx.data();
           parallel_for(elements, 1 << 15, [&](int64_t i0, int64_t i1) {
             scale_by_index(pg + i0, pi + i0, i1 - i0, pd + i0);
           });
         }));
  return 0;
}
