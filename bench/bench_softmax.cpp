// Attention forward + backward with the exact softmax and with the softmax's exp as a
// DAPA table (float and fixed point), side by side at the shapes of vit-nano and
// gpt-nano's training steps. Prints one JSON line per variant with the median time of
// --repeats passes and its ratio to the exact softmax's (above 1: the table is faster).
//   bench_softmax [--threads 2] [--segments 16 | --softmax dapa:16 ...] [--repeats 30]
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <nlohmann/json.hpp>

#include "autograd/ops.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "nn/table_activation.h"

namespace dapa {
namespace {

struct Shape4 {
  const char* model;
  int64_t B, T, C, heads;
  bool causal;
};

// The median of `repeats` timings of pass(), interleaving the variants round by round
// so that a machine's drifts hit them alike.
std::vector<double> median_seconds(int repeats, const std::vector<std::function<void()>>& passes) {
  for (const auto& pass : passes) pass();  // warm caches and the allocator
  std::vector<std::vector<double>> t(passes.size());
  for (int r = 0; r < repeats; ++r)
    for (size_t v = 0; v < passes.size(); ++v) {
      auto t0 = std::chrono::steady_clock::now();
      passes[v]();
      t[v].push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
  std::vector<double> medians;
  for (auto& times : t) {
    std::nth_element(times.begin(), times.begin() + repeats / 2, times.end());
    medians.push_back(times[repeats / 2]);
  }
  return medians;
}

// A table calibrated on the max-shifted scores of this very attention.
std::unique_ptr<TableActivation> calibrated(const std::string& spec, const Tensor& qkv,
                                            const Shape4& s) {
  auto table = std::make_unique<TableActivation>(spec, parse_table_spec(spec, true));
  NoGradGuard no_grad;
  attention(Var(qkv), s.heads, s.causal, table.get());
  table->fit();
  return table;
}

void run(const Shape4& s, const std::vector<std::string>& names, int repeats) {
  Rng rng(1);
  Tensor qkv = Tensor::empty({s.B, s.T, 3 * s.C});
  rng.fill_normal(qkv, 0.0f, 1.0f);
  Tensor gout = Tensor::empty({s.B, s.T, s.C});  // the output's gradient, seeded directly
  rng.fill_normal(gout, 0.0f, 1.0f);
  std::vector<std::unique_ptr<TableActivation>> tables;
  std::vector<std::function<void()>> passes;
  for (const std::string& name : names) {
    TableActivation* exp = nullptr;
    if (name != "exact") {
      tables.push_back(calibrated(name, qkv, s));
      exp = tables.back().get();
    }
    passes.push_back([&, exp] {
      Var x(qkv, true);
      backward(attention(x, s.heads, s.causal, exp), gout);
    });
  }
  std::vector<double> t = median_seconds(repeats, passes);
  for (size_t v = 0; v < names.size(); ++v)
    std::printf("%s\n", nlohmann::json{{"shape", s.model},
                                       {"B", s.B},
                                       {"T", s.T},
                                       {"C", s.C},
                                       {"heads", s.heads},
                                       {"causal", s.causal},
                                       {"softmax", names[v]},
                                       {"threads", num_threads()},
                                       {"ms", 1e3 * t[v]},
                                       {"speed_vs_exact", t[0] / t[v]}}
                            .dump()
                            .c_str());
}

}  // namespace
}  // namespace dapa

int main(int argc, char** argv) {
  int threads = 0, segments = 16, repeats = 30;
  std::vector<std::string> variants;
  CLI::App app{"Attention forward + backward: exact softmax against a DAPA table's exp."};
  app.add_option("--threads", threads, "threads (0: DAPA_NUM_THREADS or all cores)");
  app.add_option("--segments", segments, "table segments")->check(CLI::Range(2, 256));
  app.add_option("--softmax", variants,
                 "variants after exact (default: dapa:N and dapa:N:fixed for --segments N)")
      ->excludes("--segments");
  app.add_option("--repeats", repeats, "timed passes per variant")->check(CLI::Range(3, 100000));
  CLI11_PARSE(app, argc, argv);
  if (threads > 0) dapa::set_num_threads(threads);
  const std::string n = std::to_string(segments);
  if (variants.empty()) variants = {"dapa:" + n, "dapa:" + n + ":fixed"};
  variants.insert(variants.begin(), "exact");
  // The attention of one block in a training step of each model (train_vit batch 128,
  // train_gpt batch 16).
  for (const dapa::Shape4& s : {dapa::Shape4{"vit-nano", 128, 50, 64, 4, false},
                                dapa::Shape4{"gpt-nano", 16, 128, 128, 4, true}})
    dapa::run(s, variants, repeats);
  return 0;
}
