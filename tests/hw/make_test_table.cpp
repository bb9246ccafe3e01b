// make_test_table: a DAPA table for the hardware tests and the cost report, fitted on a
// fixed synthetic distribution shaped like an MLP's pre-activations (a standard normal
// with a wider component), then quantised to 16 bits. Deterministic. `refined`: slope
// mode with the breakpoints refined for the DWMSE (dapa_fit --refine). `exp`: a softmax's
// exp table, bounded to [lo, 0], fitted on max-shifted scores shaped like a trained
// GPT's (most far below the row maximum, a tail to -60).
//   make_test_table SEGMENTS slope|fitted|shiftadd|refined|exp OUT.h5
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/rng.h"
#include "dapa/softmax_table.h"
#include "dapa/table_io.h"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr,
                 "usage: make_test_table SEGMENTS slope|fitted|shiftadd|refined|exp OUT.h5\n");
    return 2;
  }
  using namespace dapa;
  try {
    int segments = std::atoi(argv[1]);
    std::string kind = argv[2];
    bool shift_add = kind == "shiftadd", refined = kind == "refined";
    Rng rng(2026);
    if (kind == "exp") {
      Distribution scores;
      std::vector<float> zs(1 << 20);
      for (size_t i = 0; i < zs.size(); ++i)
        zs[i] = -std::abs(i % 4 == 0 ? rng.normal(0.0f, 2.0f) : rng.normal(0.0f, 20.0f));
      scores.add(zs.data(), static_cast<int64_t>(zs.size()));
      SoftmaxFit f = fit_softmax_exp(scores, segments, true, false, DerivativeMode::Slope);
      save_tables(argv[3], {SiteTable{"shared.softmax", f.table, true, scores, true,
                                      quantize_table(f.table, scores)}});
      return 0;
    }
    DerivativeMode mode = shift_add || refined ? DerivativeMode::Slope : parse_mode(kind);
    Distribution d;
    std::vector<float> xs(1 << 20);
    for (size_t i = 0; i < xs.size(); ++i)
      xs[i] = i % 5 == 0 ? rng.normal(-0.5f, 2.0f) : rng.normal(0.0f, 1.0f);
    d.add(xs.data(), static_cast<int64_t>(xs.size()));
    PiecewiseLinear t = fit_dapa(d, segments, find_function("gelu"), mode);
    if (refined) t = refine_breakpoints(t, d);
    if (shift_add) t = restrict_to_shift_add(t, d);
    SiteTable site{"shared", t, true, d, true, quantize_table(t, d, {1.5, shift_add})};
    save_tables(argv[3], {site});
  } catch (const std::exception& e) {
    std::fprintf(stderr, "make_test_table: %s\n", e.what());
    return 1;
  }
  return 0;
}
