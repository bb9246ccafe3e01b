// The attention softmax with its exp replaced by a DAPA table (--softmax): the op's
// forward and backward against a double-precision reference of the approximated
// attention, whose gradient is checked against finite differences of that same
// approximated forward (away from kinks: a breakpoint, the domain's end, the argmax
// moving); the calibration of softmax sites; the KV-cache decoder with a table.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <vector>

#include "autograd/ops.h"
#include "dapa/softmax_table.h"
#include "nn/activation.h"
#include "nn/dapa_sites.h"
#include "nn/gpt.h"
#include "nn/gpt_checks.h"
#include "nn/table_activation.h"

namespace dapa {
namespace {

// A softmax exp table calibrated on max-shifted scores spread like a trained model's.
std::unique_ptr<TableActivation> calibrated_exp(const std::string& name, uint64_t seed) {
  auto act = std::make_unique<TableActivation>(name, parse_table_spec(name, true));
  Rng rng(seed);
  Tensor z = Tensor::empty({20000});
  rng.fill_normal(z, 0.0f, 2.0f);
  for (int64_t i = 0; i < z.numel(); ++i) z.data()[i] = -std::abs(z.data()[i]);
  act->value(z);
  act->fit();
  return act;
}

// The approximated attention in double: per (batch, head) and row, z = s - max(s),
// e = max(table(z), 0), p = e / sum(e), out = P V. Also the pattern of kinks it went
// through (per entry: segment, inside the domain, e > 0; per row: the argmax), so that a
// finite difference that crosses one can be left out.
struct Reference {
  std::vector<double> out;
  std::vector<int> pattern;
  int outside = 0;  // entries below the table's domain (clamped: gradient 0)
};

struct Problem {
  int64_t B, T, C, H;
  bool causal;
};

// The table as the reference sees it: its value, and which piece z falls in (segment,
// inside the domain) for the kink pattern.
struct TableView {
  std::function<double(double)> value;
  std::function<int(double)> piece;
};

TableView view(const PiecewiseLinear& t) {
  return {[&t](double z) { return t.value(z); },
          [&t](double z) { return t.segment_index(t.clamp(z)) * 2 + (z >= t.domain_lo); }};
}

Reference reference_forward(const Problem& pb, const std::vector<double>& qkv,
                            const TableView& table) {
  const int64_t D = pb.C / pb.H, ld = 3 * pb.C;
  const double scale = 1.0 / std::sqrt(static_cast<double>(D));
  Reference r{std::vector<double>(pb.B * pb.T * pb.C, 0.0), {}};
  for (int64_t b = 0; b < pb.B; ++b)
    for (int64_t h = 0; h < pb.H; ++h)
      for (int64_t i = 0; i < pb.T; ++i) {
        int64_t n = pb.causal ? i + 1 : pb.T;
        std::vector<double> s(n);
        for (int64_t j = 0; j < n; ++j)
          for (int64_t d = 0; d < D; ++d)
            s[j] += scale * qkv[(b * pb.T + i) * ld + h * D + d] *
                    qkv[(b * pb.T + j) * ld + pb.C + h * D + d];
        int64_t argmax = std::max_element(s.begin(), s.end()) - s.begin();
        r.pattern.push_back(static_cast<int>(argmax));
        double sum = 0;
        std::vector<double> e(n);
        for (int64_t j = 0; j < n; ++j) {
          double z = s[j] - s[argmax];
          e[j] = std::max(table.value(z), 0.0);
          sum += e[j];
          r.pattern.push_back(table.piece(z) * 2 + (e[j] > 0));
          r.outside += table.piece(z) % 2 == 0;
        }
        for (int64_t j = 0; j < n; ++j)
          for (int64_t d = 0; d < D; ++d)
            r.out[(b * pb.T + i) * pb.C + h * D + d] +=
                e[j] / sum * qkv[(b * pb.T + j) * ld + 2 * pb.C + h * D + d];
      }
  return r;
}

double projected(const std::vector<double>& out, const std::vector<double>& weights) {
  double acc = 0;
  for (size_t i = 0; i < out.size(); ++i) acc += out[i] * weights[i];
  return acc;
}

// The op's gradient of sum(out * weights) against central differences of the double
// reference, for every qkv element whose differences cross no kink. Returns how many
// entries lay below the domain.
int check_against_reference(const Problem& pb, TableActivation& exp, uint64_t seed) {
  Rng rng(seed);
  Tensor qkv = Tensor::empty({pb.B, pb.T, 3 * pb.C});
  rng.fill_normal(qkv, 0.0f, 1.5f);  // scores spread over the domain and beyond it
  Tensor weights = Tensor::empty({pb.B, pb.T, pb.C});
  rng.fill_normal(weights, 0.0f, 1.0f);
  Var x(qkv, true);
  Var out = attention(x, pb.H, pb.causal, &exp);
  backward(sum(reshape(mul(out, Var(weights)), {-1}), 0));
  std::vector<float> grad = x.grad().to_vector();
  std::vector<double> q(qkv.data(), qkv.data() + qkv.numel());
  std::vector<double> w(weights.data(), weights.data() + weights.numel());
  Reference base = reference_forward(pb, q, view(exp.table()));
  std::vector<float> op_out = out.value().to_vector();
  for (size_t i = 0; i < op_out.size(); ++i) EXPECT_NEAR(op_out[i], base.out[i], 2e-5) << i;
  const double h = 1e-6;
  int checked = 0;
  for (size_t i = 0; i < q.size(); ++i) {
    std::vector<double> plus = q, minus = q;
    plus[i] += h, minus[i] -= h;
    Reference rp = reference_forward(pb, plus, view(exp.table()));
    Reference rm = reference_forward(pb, minus, view(exp.table()));
    if (rp.pattern != base.pattern || rm.pattern != base.pattern) continue;  // a kink
    double fd = (projected(rp.out, w) - projected(rm.out, w)) / (2 * h);
    EXPECT_NEAR(grad[i], fd, 1e-4 + 1e-3 * std::abs(fd)) << "qkv element " << i;
    ++checked;
  }
  EXPECT_GT(checked, static_cast<int>(q.size()) * 9 / 10);
  return base.outside;
}

TEST(SoftmaxTable, GradientIsTheApproximatedSoftmaxsOwn) {
  auto exp = calibrated_exp("dapa:8", 1);
  for (bool causal : {false, true})
    for (uint64_t seed : {1u, 2u, 3u}) check_against_reference({2, 5, 8, 2, causal}, *exp, seed);
}

// Rows longer than a vector block (16 lanes), so that the max shift, the argmax search
// and the row sums take their block paths with a tail, and the table runs over a whole
// head at once when no row is masked.
TEST(SoftmaxTable, LongRowsTakeTheBlockPaths) {
  auto exp = calibrated_exp("dapa:8", 3);
  for (bool causal : {false, true}) check_against_reference({1, 37, 8, 2, causal}, *exp, 5);
}

// Recording (a refit's forward) shows the table every visible max-shifted score and
// changes nothing the forward computes.
TEST(SoftmaxTable, RecordingSeesEveryVisibleScore) {
  auto exp = calibrated_exp("dapa:8", 1);
  Rng rng(6);
  Tensor qkv = Tensor::empty({2, 5, 24});
  rng.fill_normal(qkv, 0.0f, 1.0f);
  NoGradGuard no_grad;
  for (bool causal : {false, true}) {
    std::vector<float> plain = attention(Var(qkv), 2, causal, exp.get()).value().to_vector();
    exp->start_recording();
    EXPECT_EQ(exp->distribution().count(), 0);
    std::vector<float> recorded = attention(Var(qkv), 2, causal, exp.get()).value().to_vector();
    EXPECT_EQ(recorded, plain);
    EXPECT_EQ(exp->distribution().count(), 2 * 2 * (causal ? 15 : 25));
    EXPECT_EQ(exp->distribution().max(), 0.0);
    EXPECT_LT(exp->distribution().min(), 0.0);
    exp->fit();
  }
}

TEST(SoftmaxTable, PwlAndRefinedTablesToo) {
  for (const char* name : {"pwl:8", "dapa:4:refined"}) {
    SCOPED_TRACE(name);
    check_against_reference({1, 6, 4, 1, true}, *calibrated_exp(name, 2), 4);
  }
}

// Fixed point: the forward runs the unit's words (the dequantised value at the input
// rounded to Q(frac_x), clamped to the domain words); the domain ends at word 0.
TEST(SoftmaxTable, FixedPointForwardIsTheUnits) {
  auto exp = calibrated_exp("dapa:16:fixed", 2);
  const FixedTable& f = *exp->fixed_table();
  EXPECT_EQ(f.domain_hi, 0);
  EXPECT_EQ(f.domain_lo, to_fixed(exp->table().domain_lo, f.frac_x));
  EXPECT_GT(f.forward(0), 0);
  Problem pb{2, 7, 8, 2, true};
  Rng rng(9);
  Tensor qkv = Tensor::empty({pb.B, pb.T, 3 * pb.C});
  rng.fill_normal(qkv, 0.0f, 1.5f);
  NoGradGuard no_grad;
  std::vector<float> out = attention(Var(qkv), pb.H, pb.causal, exp.get()).value().to_vector();
  std::vector<double> q(qkv.data(), qkv.data() + qkv.numel());
  Reference ref =
      reference_forward(pb, q, {[&f](double z) { return f.value(z); }, [](double) { return 0; }});
  for (size_t i = 0; i < out.size(); ++i) EXPECT_NEAR(out[i], ref.out[i], 1e-4) << i;
}

// attention_linear forms the attention's output again in backward rather than saving it;
// with the exact exp, a float table and a fixed-point one it gives the bits of
// res + linear(attention(...)): the output and every gradient, compared exactly.
TEST(SoftmaxTable, AttentionLinearGivesTheUnfusedBits) {
  auto table = calibrated_exp("dapa:8", 4);
  auto fixed = calibrated_exp("dapa:16:fixed", 5);
  Rng rng(11);
  auto leaf = [&](const Shape& shape) {
    Tensor t = Tensor::empty(shape);
    rng.fill_normal(t, 0.0f, 1.0f);
    return Var(t, true);
  };
  Var qkv = leaf({2, 19, 24}), w = leaf({5, 8}), b = leaf({5}), g = leaf({2, 19, 5});
  Var res = leaf({2, 19, 5});  // a residual added to the output
  for (Pointwise* exp : std::vector<Pointwise*>{nullptr, table.get(), fixed.get()})
    for (bool causal : {false, true}) {
      SCOPED_TRACE(std::string(exp ? exp->name() : "exact") + (causal ? ", causal" : ""));
      auto run = [&](bool fused) {
        for (Var* v : {&qkv, &w, &b, &res}) v->zero_grad();
        Var y = fused ? attention_linear(qkv, 2, causal, exp, w, b, res)
                      : add(res, linear(attention(qkv, 2, causal, exp), w, b));
        std::vector<std::vector<float>> out = {y.value().to_vector()};
        backward(sum(reshape(mul(y, g), {-1}), 0));
        for (Var* v : {&qkv, &w, &b, &res}) out.push_back(v->grad().to_vector());
        return out;
      };
      std::vector<std::vector<float>> unfused = run(false), fused = run(true);
      for (size_t i = 0; i < unfused.size(); ++i) EXPECT_EQ(fused[i], unfused[i]) << "tensor " << i;
    }
  // A residual must have the output's shape.
  EXPECT_THROW(attention_linear(qkv, 2, false, nullptr, w, b, leaf({2, 19, 8})), ShapeError);
  clear_tape();
}

// A GPT whose MLPs and softmaxes are both tables: the sites, named after their modules,
// calibrate in one forward; shared tables pool each kind apart; the cache decoder runs
// the table softmax as the full forward does.
TEST(SoftmaxTable, GptSitesCalibrateShareAndDecode) {
  GptConfig c;
  c.model = "tiny", c.vocab = 11, c.context = 8, c.dim = 16, c.depth = 2, c.heads = 2;
  c.mlp_hidden = 64, c.act = "dapa:8", c.softmax = "dapa:8";
  Rng rng(5);
  Gpt m(c, rng);
  for (auto& [name, p] : m.named_parameters()) rng.fill_normal(p->value(), 0, 0.5f);
  Sites sites = table_sites(m);
  std::vector<std::string> names;
  for (auto& [name, site] : sites) names.push_back(name);
  EXPECT_EQ(names,
            (std::vector<std::string>{"transformer.h.0.attn.softmax", "transformer.h.0.mlp.act",
                                      "transformer.h.1.attn.softmax", "transformer.h.1.mlp.act"}));
  Labels ids(4 * c.context);
  for (int32_t& i : ids) i = static_cast<int32_t>(rng.randint(c.vocab));
  calibrate_sites(
      sites, [&](int64_t) { return m.forward(ids, 4, c.context), int64_t{4}; }, 1, true, "seqs");
  std::vector<SiteTable> tables = site_tables(sites, true);
  ASSERT_EQ(tables.size(), 2u);
  EXPECT_EQ(tables[0].site, "shared.softmax");
  EXPECT_EQ(tables[0].table.target->name, "exp");
  EXPECT_EQ(tables[0].table.domain_hi, 0.0);
  EXPECT_EQ(tables[1].site, "shared");
  EXPECT_EQ(tables[1].table.target->name, "gelu");
  // Each site took its kind's pooled table; a second model takes them from the files' form.
  EXPECT_EQ(sites[0].second->table().breakpoints, sites[2].second->table().breakpoints);
  Rng rng2(5);
  Gpt m2(c, rng2);
  Sites sites2 = table_sites(m2);
  apply_site_tables(tables, "tables.h5", sites2);
  EXPECT_EQ(sites2[1].second->table().breakpoints, tables[1].table.breakpoints);
  EXPECT_EQ(sites2[2].second->table().breakpoints, tables[0].table.breakpoints);
  // A GELU table cannot serve a softmax site, nor an exp table an MLP site.
  std::vector<SiteTable> swapped = tables;
  std::swap(swapped[0].site, swapped[1].site);
  EXPECT_THROW(apply_site_tables(swapped, "tables.h5", sites2), std::runtime_error);

  test::expect_decoder_matches_forward(m, Labels(ids.begin(), ids.begin() + c.context));
}

TEST(SoftmaxTable, NamesParseAndBadOnesSayWhy) {
  EXPECT_EQ(make_softmax_exp("exact"), nullptr);
  auto exp = make_softmax_exp("dapa:16:refined:fixed");
  auto* table = dynamic_cast<TableActivation*>(exp.get());
  ASSERT_NE(table, nullptr);
  EXPECT_TRUE(table->spec().softmax && table->spec().refined && table->spec().fixed);
  EXPECT_EQ(table->spec().function->name, "exp");
  EXPECT_TRUE(table->calibrating());
  EXPECT_TRUE(dynamic_cast<TableActivation&>(*make_softmax_exp("pwl:8")).calibrating());
  for (const char* bad : {"gelu", "dapa:16:gelu", "dapa:16:exp", "softmax", "pwl:0"}) {
    try {
      make_softmax_exp(bad);
      ADD_FAILURE() << bad << " accepted";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(std::string("softmax '") + bad + "'"), std::string::npos)
          << e.what();
      EXPECT_NE(std::string(e.what()).find(kSoftmaxNames), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace dapa
