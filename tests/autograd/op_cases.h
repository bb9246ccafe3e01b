// The one table of differentiable op cases (ggml test-backend-ops style). Both generic
// suites run over it: the finite-difference gradient check (random shapes and seeds)
// and the PyTorch fixture comparison (tests/golden/make_golden.py writes a case of the
// same name). Adding an op adds a line here.
#pragma once

#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "core/rng.h"
#include "nn/activation.h"
#include "nn/table_activation.h"

namespace dapa::test {

struct OpCase {
  std::string name;
  // Random input shapes for the gradient check.
  std::function<std::vector<Shape>(Rng&)> shapes;
  // The op under test; labels are only used by cross-entropy.
  std::function<Var(const std::vector<Var>&, const Labels&)> fn;
  std::vector<float> kinks = {};  // points where the op is not differentiable
  bool needs_labels = false;      // labels in [0, last dim of input 0)
  bool has_golden = true;         // a PyTorch fixture exists (tables have no PyTorch twin)
};

// gtest prints parameters; show the case name, not the struct's bytes.
inline void PrintTo(const OpCase& c, std::ostream* os) {
  *os << c.name;
}

inline int64_t dim(Rng& r, int64_t lo = 1, int64_t hi = 5) {
  return lo + r.randint(hi - lo + 1);
}

// DAPA(8), slope mode, calibrated on an even grid over [-3, 3]: breakpoints near the
// eighths -2.25, -1.5, ..., 2.25.
inline TableActivation& grid_dapa8() {
  static std::unique_ptr<Activation> act = [] {
    std::unique_ptr<Activation> a = make_activation("dapa:8");
    std::vector<float> xs(60000);
    for (size_t i = 0; i < xs.size(); ++i) xs[i] = -3.0f + 6.0f * (i + 0.5f) / xs.size();
    a->apply(Tensor::from(xs, {static_cast<int64_t>(xs.size())}));
    dynamic_cast<TableActivation&>(*a).fit();
    return a;
  }();
  return dynamic_cast<TableActivation&>(*act);
}

inline std::vector<float> grid_dapa8_kinks() {
  const std::vector<double>& b = grid_dapa8().table().breakpoints;
  return std::vector<float>(b.begin(), b.end());
}

inline std::vector<OpCase> op_cases() {
  using V = const std::vector<Var>&;
  using L = const Labels&;
  return {
      {"add",
       [](Rng& r) {
         int64_t a = dim(r), b = dim(r), c = dim(r);
         return std::vector<Shape>{{a, b, c}, {b, c}};
       },
       [](V x, L) { return add(x[0], x[1]); }},
      {"add_broadcast_both",
       [](Rng& r) {
         int64_t a = dim(r, 2), b = dim(r, 2), c = dim(r);
         return std::vector<Shape>{{a, 1, c}, {b, 1}};
       },
       [](V x, L) { return add(x[0], x[1]); }},
      {"sub",
       [](Rng& r) {
         int64_t a = dim(r), b = dim(r);
         return std::vector<Shape>{{a, b}, {a, 1}};
       },
       [](V x, L) { return sub(x[0], x[1]); }},
      {"mul",
       [](Rng& r) {
         Shape s{dim(r), dim(r), dim(r)};
         return std::vector<Shape>{s, s};
       },
       [](V x, L) { return mul(x[0], x[1]); }},
      {"mul_broadcast",
       [](Rng& r) {
         int64_t c = dim(r);
         return std::vector<Shape>{{c}, {dim(r), dim(r), c}};
       },
       [](V x, L) { return mul(x[0], x[1]); }},
      {"scale",
       [](Rng& r) {
         return std::vector<Shape>{{dim(r), dim(r)}};
       },
       [](V x, L) { return scale(x[0], 0.37f); }},
      {"matmul",
       [](Rng& r) {
         int64_t m = dim(r), k = dim(r), n = dim(r);
         return std::vector<Shape>{{m, k}, {k, n}};
       },
       [](V x, L) { return matmul(x[0], x[1]); }},
      {"matmul_tn",
       [](Rng& r) {
         int64_t m = dim(r), k = dim(r), n = dim(r);
         return std::vector<Shape>{{k, m}, {k, n}};
       },
       [](V x, L) { return matmul(x[0], x[1], true, false); }},
      {"matmul_nt",
       [](Rng& r) {
         int64_t m = dim(r), k = dim(r), n = dim(r);
         return std::vector<Shape>{{m, k}, {n, k}};
       },
       [](V x, L) { return matmul(x[0], x[1], false, true); }},
      {"matmul_tt",
       [](Rng& r) {
         int64_t m = dim(r), k = dim(r), n = dim(r);
         return std::vector<Shape>{{k, m}, {n, k}};
       },
       [](V x, L) { return matmul(x[0], x[1], true, true); }},
      {"bmm",
       [](Rng& r) {
         int64_t b = dim(r, 1, 3), m = dim(r), k = dim(r), n = dim(r);
         return std::vector<Shape>{{b, m, k}, {b, k, n}};
       },
       [](V x, L) { return bmm(x[0], x[1]); }},
      {"bmm_nt",
       [](Rng& r) {
         int64_t b = dim(r, 1, 3), m = dim(r), k = dim(r), n = dim(r);
         return std::vector<Shape>{{b, m, k}, {b, n, k}};
       },
       [](V x, L) { return bmm(x[0], x[1], false, true); }},
      {"bmm_tn",
       [](Rng& r) {
         int64_t b = dim(r, 1, 3), m = dim(r), k = dim(r), n = dim(r);
         return std::vector<Shape>{{b, k, m}, {b, k, n}};
       },
       [](V x, L) { return bmm(x[0], x[1], true, false); }},
      {"linear",
       [](Rng& r) {
         int64_t i = dim(r), o = dim(r);
         return std::vector<Shape>{{dim(r), dim(r), i}, {o, i}, {o}};
       },
       [](V x, L) { return linear(x[0], x[1], x[2]); }},
      {"sum",
       [](Rng& r) {
         return std::vector<Shape>{{dim(r), dim(r), dim(r)}};
       },
       [](V x, L) { return sum(x[0], 1); }},
      {"mean_keepdim",
       [](Rng& r) {
         return std::vector<Shape>{{dim(r), dim(r), dim(r)}};
       },
       [](V x, L) { return mean(x[0], -1, true); }},
      {"softmax",
       [](Rng& r) {
         return std::vector<Shape>{{dim(r), dim(r), dim(r, 2, 8)}};
       },
       [](V x, L) { return softmax(x[0]); }},
      {"layer_norm",
       [](Rng& r) {
         int64_t c = dim(r, 2, 8);
         return std::vector<Shape>{{dim(r), dim(r), c}, {c}, {c}};
       },
       [](V x, L) { return layer_norm(x[0], x[1], x[2], 1e-5f); }},
      {"attention",
       [](Rng& r) {
         int64_t heads = dim(r, 1, 3);
         return std::vector<Shape>{{heads, dim(r, 1, 6), 3 * heads * dim(r, 1, 3)}};
       },
       // Batch size = head count (above), so the op can recover it.
       [](V x, L) { return attention(x[0], x[0].shape()[0]); }},
      {"activation_linear",
       [](Rng& r) {
         int64_t h = dim(r), o = dim(r);
         return std::vector<Shape>{{dim(r), dim(r), h}, {o, h}, {o}};
       },
       [](V x, L) {
         static std::unique_ptr<Activation> act = make_activation("gelu");
         return activation_linear(x[0], *act, x[1], x[2]);
       }},
      {"table_activation_slope",
       [](Rng& r) {
         return std::vector<Shape>{{dim(r), dim(r, 1, 9)}};
       },
       [](V x, L) {
         // PWL(8) of GELU on [-4, 4]: breakpoints at the integers -4..4.
         static std::unique_ptr<Activation> act = make_activation("pwl:8");
         return act->forward(scale(x[0], 2.0f));
       },
       {-2.0f, -1.5f, -1.0f, -0.5f, 0.0f, 0.5f, 1.0f, 1.5f, 2.0f},  // breakpoints / 2
       false,
       false},
      {"dapa_slope",
       [](Rng& r) {
         return std::vector<Shape>{{dim(r), dim(r, 1, 9)}};
       },
       [](V x, L) { return grid_dapa8().forward(x[0]); }, grid_dapa8_kinks(), false, false},
      {"gelu",
       [](Rng& r) {
         return std::vector<Shape>{{dim(r), dim(r, 1, 9)}};
       },
       [](V x, L) { return gelu(x[0]); }},
      {"gelu_tanh",
       [](Rng& r) {
         return std::vector<Shape>{{dim(r), dim(r, 1, 9)}};
       },
       [](V x, L) { return gelu_tanh(x[0]); }},
      {"relu",
       [](Rng& r) {
         return std::vector<Shape>{{dim(r), dim(r, 1, 9)}};
       },
       [](V x, L) { return relu(x[0]); },
       {0.0f}},
      {"cross_entropy",
       [](Rng& r) {
         return std::vector<Shape>{{dim(r), dim(r, 2, 10)}};
       },
       [](V x, L labels) { return cross_entropy(x[0], labels); },
       {},
       true},
      {"reshape",
       [](Rng& r) {
         return std::vector<Shape>{{2, 3, dim(r)}};
       },
       [](V x, L) {
         return reshape(x[0], {6, -1});
       }},
      {"permute",
       [](Rng& r) {
         return std::vector<Shape>{{dim(r), dim(r), dim(r), dim(r)}};
       },
       [](V x, L) {
         return permute(x[0], {0, 2, 1, 3});
       }},
      {"slice",
       [](Rng& r) {
         return std::vector<Shape>{{dim(r), 7, dim(r)}};
       },
       [](V x, L) { return slice(x[0], 1, 2, 5); }},
      {"split",
       [](Rng& r) {
         return std::vector<Shape>{{dim(r), 7, dim(r)}};
       },
       [](V x, L) {
         std::vector<Var> parts = split(x[0], {2, 5}, 1);
         return concat({parts[1], parts[0]}, 1);
       }},
      {"concat",
       [](Rng& r) {
         int64_t a = dim(r), c = dim(r);
         return std::vector<Shape>{{a, dim(r), c}, {a, dim(r), c}};
       },
       [](V x, L) {
         return concat({x[0], x[1]}, 1);
       }},
  };
}

}  // namespace dapa::test
