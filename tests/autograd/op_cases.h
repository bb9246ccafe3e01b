// The one table of differentiable op cases (ggml test-backend-ops style). Both generic
// suites run over it: the finite-difference gradient check (random shapes and seeds)
// and the PyTorch fixture comparison (tests/golden/make_golden.py writes a case of the
// same name). Adding an op adds a line here; every registered elementwise function
// (core/functions.h) is a case without one. Table activations (nn/) have their cases in
// tests/nn/test_table_ops.cpp, through the same checker (check_gradient below).
#pragma once

#include <gtest/gtest.h>

#include <cctype>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "core/rng.h"

namespace dapa::test {

struct OpCase {
  std::string name;
  // Random input shapes for the gradient check.
  std::function<std::vector<Shape>(Rng&)> shapes;
  // The op under test; labels are only used by cross-entropy.
  std::function<Var(const std::vector<Var>&, const Labels&)> fn;
  std::vector<float> kinks = {};  // points where the op is not differentiable
  bool needs_labels = false;      // labels in [0, last dim of input 0)
};

// gtest prints parameters; show the case name, not the struct's bytes.
inline void PrintTo(const OpCase& c, std::ostream* os) {
  *os << c.name;
}

inline int64_t dim(Rng& r, int64_t lo = 1, int64_t hi = 5) {
  return lo + r.randint(hi - lo + 1);
}

// Test names allow only letters, digits and underscores ("gelu-tanh" -> "gelu_tanh").
inline std::string test_name(std::string name) {
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return name;
}

// The generic check: the op's backward against central finite differences on random
// inputs of random shapes.
inline void check_gradient(const OpCase& op, uint64_t seed) {
  Rng rng(seed * 7919 + 1);
  std::vector<Tensor> inputs;
  for (const Shape& s : op.shapes(rng)) {
    Tensor t = Tensor::empty(s);
    rng.fill_normal(t, 0.0f, 1.0f);
    inputs.push_back(t);
  }
  Labels labels;
  if (op.needs_labels)
    for (int64_t i = 0; i < inputs[0].shape()[0]; ++i)
      labels.push_back(static_cast<int32_t>(rng.randint(inputs[0].shape()[1])));
  GradCheckOptions options;
  options.kinks = op.kinks;
  options.seed = seed;
  auto f = [&](const std::vector<Var>& xs) { return op.fn(xs, labels); };
  GradCheckResult r = gradcheck(f, inputs, options);
  EXPECT_TRUE(r.ok) << op.name << ": " << r.message;
  EXPECT_GT(r.checked, 0) << op.name << ": no element was checked";
}

// An elementwise case: a (rows, 1..9) input.
inline std::vector<Shape> elementwise_shape(Rng& r) {
  return {{dim(r), dim(r, 1, 9)}};
}

// One case per registered function, named as the function.
inline std::vector<OpCase> function_cases() {
  std::vector<OpCase> cases;
  for (const ElementwiseFunction& f : elementwise_functions()) {
    const ElementwiseFunction* fp = &f;
    cases.push_back({f.name, elementwise_shape,
                     [fp](const std::vector<Var>& x, const Labels&) { return apply(*fp, x[0]); },
                     std::vector<float>(f.kinks.begin(), f.kinks.end())});
  }
  return cases;
}

inline std::vector<OpCase> op_cases() {
  using V = const std::vector<Var>&;
  using L = const Labels&;
  std::vector<OpCase> cases = {
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
         // Two heads and a batch of 1 or 3: never the head count, so a mix-up of the
         // batch and head axes cannot pass.
         int64_t batch = r.randint(2) ? 3 : 1;
         return std::vector<Shape>{{batch, dim(r, 1, 6), 3 * 2 * dim(r, 1, 3)}};
       },
       [](V x, L) { return attention(x[0], 2); }},
      {"attention_causal",
       [](Rng& r) {
         // T of 17 to 54: the products run on several row blocks of 16 (attention.cpp);
         // attention_linear below keeps the short causal heads of one block.
         int64_t batch = r.randint(2) ? 3 : 1;
         return std::vector<Shape>{{batch, 16 * dim(r, 1, 3) + dim(r, 1, 6), 3 * 2 * dim(r, 1, 3)}};
       },
       [](V x, L) { return attention(x[0], 2, true); }},
      {"attention_linear",
       [](Rng& r) {
         int64_t batch = r.randint(2) ? 3 : 1, c = 2 * dim(r, 1, 3), o = dim(r);
         return std::vector<Shape>{{batch, dim(r, 2, 6), 3 * c}, {o, c}, {o}};
       },
       [](V x, L) { return attention_linear(x[0], 2, true, nullptr, x[1], x[2]); }},
      {"attention_linear_residual",
       [](Rng& r) {
         int64_t batch = r.randint(2) ? 3 : 1, t = dim(r, 2, 6), c = 2 * dim(r, 1, 3), o = dim(r);
         return std::vector<Shape>{{batch, t, 3 * c}, {o, c}, {o}, {batch, t, o}};
       },
       [](V x, L) { return attention_linear(x[0], 2, false, nullptr, x[1], x[2], x[3]); }},
      {"embedding",
       [](Rng& r) {
         return std::vector<Shape>{{7, dim(r)}};
       },
       // Ids (2, 5) with repeats (3 three times), so the backward must sum them.
       [](V x, L) {
         return embedding(x[0], {3, 0, 6, 3, 1, 3, 5, 2, 0, 4}, {2, 5});
       }},
      {"activation_linear",
       [](Rng& r) {
         int64_t h = dim(r), o = dim(r);
         return std::vector<Shape>{{dim(r), dim(r), h}, {o, h}, {o}};
       },
       [](V x, L) {
         static FunctionPointwise gelu(find_function("gelu"));
         return activation_linear(x[0], gelu, x[1], x[2]);
       }},
      {"activation_linear_residual",
       [](Rng& r) {
         int64_t a = dim(r), b = dim(r), h = dim(r), o = dim(r);
         return std::vector<Shape>{{a, b, h}, {o, h}, {o}, {a, b, o}};
       },
       [](V x, L) {
         static FunctionPointwise gelu(find_function("gelu"));
         return activation_linear(x[0], gelu, x[1], x[2], x[3]);
       }},
      {"norm_linear",
       [](Rng& r) {
         // At least 4 normalised features: a norm over 2 maps every pair to +-1, and
         // its derivative is then too ill-conditioned for finite differences.
         int64_t i = dim(r, 4, 8), o = dim(r);
         return std::vector<Shape>{{dim(r), dim(r), i}, {i}, {i}, {o, i}, {o}};
       },
       [](V x, L) { return norm_linear(x[0], x[1], x[2], 1e-5f, x[3], x[4]); }},
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
  for (OpCase& c : function_cases()) cases.push_back(c);
  return cases;
}

}  // namespace dapa::test
