// Every differentiable op: forward on Tensors, then its backward right below it in
// the closure handed to record(). Shapes: gy always has the output's shape; each
// returned gradient has its input's shape.
#include "autograd/ops.h"

#include "core/functions.h"
#include "core/gemm.h"
#include "core/kernels.h"

namespace dapa {

// ---- elementwise (broadcasting: each gradient is summed back to its input's shape) ----

Var add(const Var& a, const Var& b) {
  Shape sa = a.shape(), sb = b.shape();
  return record("add", dapa::add(a.value(), b.value()), {a, b},
                [sa, sb](const Tensor& gy, const Needs& need) -> Grads {
                  return {need[0] ? sum_to(gy, sa) : Tensor(), need[1] ? sum_to(gy, sb) : Tensor()};
                });
}

Var sub(const Var& a, const Var& b) {
  Shape sa = a.shape(), sb = b.shape();
  return record("sub", dapa::sub(a.value(), b.value()), {a, b},
                [sa, sb](const Tensor& gy, const Needs& need) -> Grads {
                  return {need[0] ? sum_to(gy, sa) : Tensor(),
                          need[1] ? sum_to(dapa::scale(gy, -1.0f), sb) : Tensor()};
                });
}

Var mul(const Var& a, const Var& b) {
  Tensor av = a.value(), bv = b.value();
  return record("mul", dapa::mul(av, bv), {a, b},
                [av, bv](const Tensor& gy, const Needs& need) -> Grads {
                  return {need[0] ? sum_to(dapa::mul(gy, bv), av.shape()) : Tensor(),
                          need[1] ? sum_to(dapa::mul(gy, av), bv.shape()) : Tensor()};
                });
}

Var scale(const Var& x, float s) {
  return record("scale", dapa::scale(x.value(), s), {x},
                [s](const Tensor& gy, const Needs&) -> Grads { return {dapa::scale(gy, s)}; });
}

// ---- products ----
// For Y = A B: dA = dY B^T, dB = A^T dY. With A = a^T (ta): da = (dA)^T = B dY^T, and
// likewise for b; `product` is matmul or bmm, which take the transposes as flags.

template <class Product>
Grads product_grads(const Tensor& gy, const Tensor& a, const Tensor& b, bool ta, bool tb,
                    const Needs& need, Product product) {
  Tensor ga, gb;
  if (need[0]) ga = ta ? product(b, gy, tb, true) : product(gy, b, false, !tb);
  if (need[1]) gb = tb ? product(gy, a, true, ta) : product(a, gy, !ta, false);
  return {ga, gb};
}

Var matmul(const Var& a, const Var& b, bool ta, bool tb) {
  Tensor av = a.value(), bv = b.value();
  return record("matmul", dapa::matmul(av, bv, ta, tb), {a, b},
                [av, bv, ta, tb](const Tensor& gy, const Needs& need) {
                  return product_grads(gy, av, bv, ta, tb, need,
                                       [](const Tensor& x, const Tensor& y, bool tx, bool ty) {
                                         return dapa::matmul(x, y, tx, ty);
                                       });
                });
}

Var bmm(const Var& a, const Var& b, bool ta, bool tb) {
  Tensor av = a.value(), bv = b.value();
  return record("bmm", dapa::bmm(av, bv, ta, tb), {a, b},
                [av, bv, ta, tb](const Tensor& gy, const Needs& need) {
                  return product_grads(gy, av, bv, ta, tb, need,
                                       [](const Tensor& x, const Tensor& y, bool tx, bool ty) {
                                         return dapa::bmm(x, y, tx, ty);
                                       });
                });
}

Var linear(const Var& x, const Var& weight, const Var& bias) {
  const Shape& xs = x.shape();
  check_linear_shapes("linear", xs, weight.shape(), bias.defined() ? &bias.shape() : nullptr);
  int64_t in = weight.shape()[1], out = weight.shape()[0];
  Tensor x2 = x.value().reshape({-1, in});  // x2: (R, in)
  Tensor w = weight.value();
  Shape ys = xs;
  ys.back() = out;
  std::vector<Var> inputs = {x, weight};
  if (bias.defined()) inputs.push_back(bias);
  return record("linear",
                linear_forward(x2, w, bias.defined() ? bias.value() : Tensor()).reshape(ys), inputs,
                [x2, w, xs, out](const Tensor& gy, const Needs& need) -> Grads {
                  LinearGrads g = linear_backward(gy.reshape({-1, out}), x2, w, need[0], need[1],
                                                  need.size() > 2 && need[2]);
                  return {g.x.defined() ? g.x.reshape(xs) : Tensor(), g.weight, g.bias};
                });
}

// ---- reductions ----

Var sum(const Var& x, int axis, bool keepdim) {
  Shape xs = x.shape();
  int a = x.value().normalize_axis(axis, "sum");
  return record("sum", dapa::sum(x.value(), a, keepdim), {x},
                [xs, a](const Tensor& gy, const Needs&) -> Grads {
                  Shape kept = xs;
                  kept[a] = 1;
                  return {broadcast_to(gy.reshape(kept), xs)};
                });
}

Var mean(const Var& x, int axis, bool keepdim) {
  int64_t n = x.shape()[x.value().normalize_axis(axis, "mean")];
  return scale(sum(x, axis, keepdim), n > 0 ? 1.0f / static_cast<float>(n) : 0.0f);
}

// ---- transformer pieces ----

Var softmax(const Var& x) {
  Tensor y = dapa::softmax(x.value());
  return record("softmax", y, {x},
                [y](const Tensor& gy, const Needs&) -> Grads { return {softmax_backward(y, gy)}; });
}

Var layer_norm(const Var& x, const Var& weight, const Var& bias, float eps) {
  Tensor xv = x.value(), wv = weight.value();
  LayerNormResult r = dapa::layer_norm(xv, wv, bias.value(), eps);
  Tensor mean = r.mean, rstd = r.rstd;
  return record("layer_norm", r.y, {x, weight, bias},
                [xv, wv, mean, rstd](const Tensor& gy, const Needs&) -> Grads {
                  LayerNormGrads g = layer_norm_backward(gy, xv, wv, mean, rstd);
                  return {g.x, g.weight, g.bias};
                });
}

namespace {
// f's kernel on raw runs, which the fused ops call; a clear error for a Pointwise without
// one rather than a null pointer.
std::shared_ptr<const RowFunction> row_kernel(Pointwise& f, const char* op) {
  std::shared_ptr<const RowFunction> rows = f.rows();
  if (!rows)
    throw std::invalid_argument(std::string(op) + ": '" + f.name() + "' has no row kernel");
  return rows;
}

// The attention's forward on qkv (B, T, 3C), exact or with the table `exp`, and its
// backward: dL/dout -> dL/dqkv, also forming the output again into `out_again` when
// given. The backward keeps only the row statistics and the table the forward ran,
// whatever happens to `exp` later.
struct AttentionRun {
  Tensor out;  // (B, T, C)
  std::function<Tensor(const Tensor& gout, Tensor* out_again)> backward;
};

AttentionRun run_attention(const Tensor& qv, int64_t heads, bool causal, Pointwise* exp) {
  if (!exp) {
    AttentionResult r = dapa::attention(qv, heads, causal);
    Tensor row_max = r.row_max, inverse_sum = r.inverse_sum;
    return {r.out, [qv, row_max, inverse_sum, heads, causal](const Tensor& gout, Tensor* again) {
              return attention_backward(gout, qv, row_max, inverse_sum, heads, causal, again);
            }};
  }
  std::shared_ptr<const RowFunction> rows = row_kernel(*exp, "attention");
  TableAttentionResult r = attention_with_exp(qv, heads, causal, *rows, exp->recording());
  if (exp->recording()) exp->observe(r.visible_z);
  Tensor out = r.out;
  r.out = Tensor();  // the closure shares the statistics, not the output or the scores
  r.visible_z = Tensor();
  auto saved = std::make_shared<const TableAttentionResult>(std::move(r));
  return {out, [qv, saved, heads, causal, rows](const Tensor& gout, Tensor* again) {
            return attention_with_exp_backward(gout, qv, saved->row_max, saved->inverse_sum,
                                               saved->argmax, heads, causal, *rows, again);
          }};
}
}  // namespace

Var attention(const Var& qkv, int64_t heads, bool causal, Pointwise* exp) {
  AttentionRun a = run_attention(qkv.value(), heads, causal, exp);
  return record("attention", a.out, {qkv},
                [back = std::move(a.backward)](const Tensor& gy, const Needs&) -> Grads {
                  return {back(gy, nullptr)};
                });
}

namespace {
// The inputs of a fused node ending in a linear layer: `first` and the weight, then the
// bias and the residual when given (in this order, as the backward returns their grads).
std::vector<Var> linear_node_inputs(std::initializer_list<Var> first, const Var& weight,
                                    const Var& bias, const Var& residual) {
  std::vector<Var> inputs(first);
  inputs.push_back(weight);
  for (const Var* v : {&bias, &residual})
    if (v->defined()) inputs.push_back(*v);
  return inputs;
}

// The residual's rows (R, out), after checking it has the output's shape ys; undefined
// when there is none.
Tensor residual_rows(const char* op, const Var& residual, const Shape& ys) {
  if (!residual.defined()) return Tensor();
  if (residual.shape() != ys)
    shape_error(op, residual.shape(), ys, "residual must have the output's shape");
  return residual.value().contiguous().reshape({-1, ys.back()});
}

// The grads of a fused linear node after `first`: weight, then bias and residual (gy)
// when they are inputs.
Grads linear_node_grads(Grads first, LinearGrads g, bool has_bias, bool has_residual,
                        const Tensor& gy) {
  first.push_back(g.weight);
  if (has_bias) first.push_back(g.bias);
  if (has_residual) first.push_back(gy);
  return first;
}
}  // namespace

Var attention_linear(const Var& qkv, int64_t heads, bool causal, Pointwise* exp, const Var& weight,
                     const Var& bias, const Var& residual) {
  AttentionRun a = run_attention(qkv.value(), heads, causal, exp);
  const Shape os = a.out.shape();  // (B, T, C)
  check_linear_shapes("attention_linear", os, weight.shape(),
                      bias.defined() ? &bias.shape() : nullptr);
  int64_t in = weight.shape()[1], out = weight.shape()[0];
  Tensor w = weight.value();  // w: (out, C)
  Shape ys = os;
  ys.back() = out;
  Tensor y = linear_forward(a.out.reshape({-1, in}), w, bias.defined() ? bias.value() : Tensor(),
                            {}, residual_rows("attention_linear", residual, ys));  // (R, out)
  a.out = Tensor();  // not saved: backward forms it again with the probabilities it recomputes
  return record(
      "attention_linear", y.reshape(ys), linear_node_inputs({qkv}, weight, bias, residual),
      [back = std::move(a.backward), w, os, in, out, has_bias = bias.defined(),
       has_residual = residual.defined()](const Tensor& gy, const Needs& need) -> Grads {
        Tensor g2 = gy.reshape({-1, out});        // (R, out)
        Tensor gout = matmul(g2, w).reshape(os);  // (B, T, C)
        Tensor again;                             // (B, T, C)
        Tensor gqkv = back(gout, &again);         // (B, T, 3C)
        gout = Tensor();
        LinearGrads g =
            linear_backward(g2, again.reshape({-1, in}), w, false, need[1], has_bias && need[2]);
        return linear_node_grads({gqkv}, g, has_bias, has_residual, gy);
      });
}

Var embedding(const Var& table, const Labels& ids, const Shape& ids_shape) {
  int64_t rows = table.shape().empty() ? 0 : table.shape()[0];
  return record("embedding", dapa::embedding(table.value(), ids, ids_shape), {table},
                [ids, rows](const Tensor& gy, const Needs&) -> Grads {
                  return {embedding_backward(gy, ids, rows)};  // scatter-add into the rows used
                });
}

// ---- elementwise functions: gy * f'(x), f'(x) recomputed from the saved x ----

Var apply(Pointwise& f, const Var& x) {
  Tensor xv = x.value();
  Pointwise* fp = &f;  // outlives the tape (see ops.h)
  return record("pointwise", f.value(xv), {x}, [xv, fp](const Tensor& gy, const Needs&) -> Grads {
    return {dapa::mul(gy, fp->value_and_derivative(xv).derivative)};
  });
}

Var apply(const ElementwiseFunction& f, const Var& x) {
  static std::vector<FunctionPointwise> adapters = [] {
    std::vector<FunctionPointwise> a;
    for (const ElementwiseFunction& g : elementwise_functions()) a.emplace_back(g);
    return a;
  }();
  return apply(adapters.at(&f - elementwise_functions().data()), x);
}

Var activation_linear(const Var& h, Pointwise& f, const Var& weight, const Var& bias,
                      const Var& residual) {
  const Shape& hs = h.shape();
  check_linear_shapes("activation_linear", hs, weight.shape(),
                      bias.defined() ? &bias.shape() : nullptr);
  int64_t hidden = weight.shape()[1], out = weight.shape()[0];
  Tensor h2 = h.value().reshape({-1, hidden}).contiguous();  // h2: (R, hidden)
  Tensor w = weight.value();                                 // w: (out, hidden)
  Shape ys = hs;
  ys.back() = out;
  const Tensor res = residual_rows("activation_linear", residual, ys);  // (R, out)
  // The backward closure keeps the function the forward ran, whatever happens to `f`.
  std::shared_ptr<const RowFunction> rows = row_kernel(f, "activation_linear");
  if (f.recording()) f.observe(h2);
  // f(h), formed tile by tile just before the product reads it, while it is in cache.
  Tensor a = Tensor::empty(h2.shape());  // a: (R, hidden)
  const RowWork form_a{[&](int64_t r0, int64_t n) {
                         value_prefetched(*rows, h2.data() + r0 * hidden, a.data() + r0 * hidden,
                                          n * hidden);
                       },
                       {}};
  Tensor y =
      linear_forward(a, w, bias.defined() ? bias.value() : Tensor(), form_a, res);  // (R, out)
  a = Tensor();
  return record(
      "activation_linear", y.reshape(ys), linear_node_inputs({h}, weight, bias, residual),
      [h2, w, hs, out, hidden, rows, has_bias = bias.defined(), has_residual = residual.defined()](
          const Tensor& gy, const Needs& need) mutable -> Grads {
        Tensor g2 = gy.reshape({-1, out});  // (R, out)
        // f(h) overwrites the saved h when nothing else holds it (this node is its
        // last reader), and f'(h) scales dL/df(h) in the same pass, tile by tile
        // behind the product that forms it: one (R, hidden) temporary, gh, at a
        // point of the step where every layer's saved activations still are.
        Tensor a = h2.unique_storage() ? h2 : h2.clone();  // (R, hidden)
        h2 = Tensor();
        Tensor gh;  // (R, hidden): dL/df(h), then dL/dh
        if (need[0]) {
          gh = Tensor::empty(a.shape());
          const RowWork scale_gh{{}, [&](int64_t r0, int64_t n) {
                                   value_in_place_scaling_gradient(*rows, a.data() + r0 * hidden,
                                                                   gh.data() + r0 * hidden,
                                                                   n * hidden);
                                 }};
          matmul_into(g2, w, false, false, 0.0f, gh, &scale_gh);
        } else {
          value_in_place_scaling_gradient(*rows, a, gh);
        }
        LinearGrads g = linear_backward(g2, a, w, false, need[1], has_bias && need[2]);
        return linear_node_grads({gh.defined() ? gh.reshape(hs) : gh}, g, has_bias, has_residual,
                                 gy);
      });
}

namespace {
// LN(x) of norm_linear, as rows (rows, in) with their statistics, formed row range by
// row range by the RowWork `form` inside a product's region (the forward's product reads
// them; backward's dx product forms them again, from the statistics the forward saved,
// for the weight gradient after it).
struct NormRows {
  Tensor x, weight, bias, y, mean, rstd;  // x (rows, in) contiguous; y (rows, in)
  float eps;
  bool again;  // mean and rstd given: the forward's, saved
  NormRows(const Tensor& xv, const Tensor& lw, const Tensor& lb, float e, int64_t in,
           const Tensor& saved_mean = Tensor(), const Tensor& saved_rstd = Tensor())
      : x(xv.contiguous().reshape({-1, in})),
        weight(lw.contiguous()),
        bias(lb.contiguous()),
        y(Tensor::empty(x.shape())),
        mean(saved_mean.defined() ? saved_mean : Tensor::empty({x.shape()[0]})),
        rstd(saved_rstd.defined() ? saved_rstd : Tensor::empty({x.shape()[0]})),
        eps(e),
        again(saved_mean.defined()) {}
  RowWork form() {
    return {[this](int64_t r0, int64_t rows) {
              if (again)
                layer_norm_rows_again(x.data(), weight.data(), bias.data(), x.shape()[1], r0, rows,
                                      mean.data(), rstd.data(), y.data());
              else
                layer_norm_rows(x.data(), weight.data(), bias.data(), eps, x.shape()[1], r0, rows,
                                y.data(), mean.data(), rstd.data());
            },
            {}};
  }
};
}  // namespace

Var norm_linear(const Var& x, const Var& ln_weight, const Var& ln_bias, float eps,
                const Var& weight, const Var& bias) {
  const Shape& xs = x.shape();
  check_linear_shapes("norm_linear", xs, weight.shape(), bias.defined() ? &bias.shape() : nullptr);
  check_layer_norm_shapes("norm_linear", xs, ln_weight.value(), ln_bias.value());
  int64_t in = weight.shape()[1], out = weight.shape()[0];
  Tensor xv = x.value(), lw = ln_weight.value(), lb = ln_bias.value(), w = weight.value();
  Shape ys = xs;
  ys.back() = out;
  std::vector<Var> inputs = {x, ln_weight, ln_bias, weight};
  if (bias.defined()) inputs.push_back(bias);
  Tensor y, mean, rstd;  // mean, rstd: (rows), saved
  {
    NormRows n(xv, lw, lb, eps, in);  // each tile forms its rows of LN(x) just before its product
    y = linear_forward(n.y, w, bias.defined() ? bias.value() : Tensor(), n.form());
    mean = n.mean;
    rstd = n.rstd;
  }
  return record(
      "norm_linear", y.reshape(ys), inputs,
      [xv, lw, lb, eps, w, in, out, mean, rstd](const Tensor& gy, const Needs& need) -> Grads {
        // LN(x) again (not saved) from the saved statistics, with the forward's
        // operations: the same bits. The dx product's tiles form its rows; the weight
        // gradient reads them after.
        NormRows n(xv, lw, lb, eps, in, mean, rstd);
        Tensor g2 = gy.reshape({-1, out}), gn = Tensor::empty(n.y.shape());
        const RowWork form = n.form();
        matmul_into(g2, w, false, false, 0.0f, gn, &form);  // gn: (rows, in)
        LinearGrads g = linear_backward(g2, n.y, w, false, need[3], need.size() > 4 && need[4]);
        n.y = Tensor();
        LayerNormGrads ln = layer_norm_backward(gn.reshape(xv.shape()), xv, lw, n.mean, n.rstd);
        return {ln.x, ln.weight, ln.bias, g.weight, g.bias};
      });
}

Var cross_entropy(const Var& logits, const Labels& labels) {
  CrossEntropyResult r = dapa::cross_entropy(logits.value(), labels);
  Tensor grad = r.grad;  // d mean-loss / d logits, computed with the forward
  return record(
      "cross_entropy", Tensor::scalar(r.loss), {logits},
      [grad](const Tensor& gy, const Needs&) -> Grads { return {dapa::scale(grad, gy.item())}; });
}

// ---- layout ----

Var reshape(const Var& x, const Shape& shape) {
  Shape xs = x.shape();
  return record("reshape", x.value().reshape(shape), {x},
                [xs](const Tensor& gy, const Needs&) -> Grads { return {gy.reshape(xs)}; });
}

Var permute(const Var& x, const std::vector<int>& dims) {
  std::vector<int> inverse = inverse_permutation(dims);
  return record(
      "permute", dapa::permute(x.value(), dims), {x},
      [inverse](const Tensor& gy, const Needs&) -> Grads { return {dapa::permute(gy, inverse)}; });
}

Var slice(const Var& x, int axis, int64_t start, int64_t end) {
  Shape xs = x.shape();
  int a = x.value().normalize_axis(axis, "slice");
  return record("slice", x.value().slice(a, start, end).contiguous(), {x},
                [xs, a, start, end](const Tensor& gy, const Needs&) -> Grads {
                  Tensor gx = Tensor::zeros(xs);
                  Tensor window = gx.slice(a, start, end);
                  window.copy_from(gy);
                  return {gx};
                });
}

std::vector<Var> split(const Var& x, const std::vector<int64_t>& sizes, int axis) {
  std::vector<Var> parts;
  int64_t start = 0, total = 0;
  for (int64_t s : sizes) total += s;
  if (total != x.value().size(axis))
    shape_error("split", "sizes add up to " + std::to_string(total) + " but axis " +
                             std::to_string(axis) + " of " + shape_str(x.shape()) + " has " +
                             std::to_string(x.value().size(axis)));
  for (int64_t s : sizes) {
    parts.push_back(slice(x, axis, start, start + s));
    start += s;
  }
  return parts;
}

Var concat(const std::vector<Var>& xs, int axis) {
  std::vector<Tensor> values;
  std::vector<int64_t> sizes;
  for (const Var& x : xs) {
    values.push_back(x.value());
    sizes.push_back(x.value().size(axis));
  }
  return record("concat", dapa::concat(values, axis), xs,
                [sizes, axis](const Tensor& gy, const Needs&) -> Grads {
                  return dapa::split(gy, sizes, axis);
                });
}

}  // namespace dapa
