// Kernels against known answers and naive double-precision loops.
#include <gtest/gtest.h>

#include <atomic>

#include <array>
#include <chrono>
#include <cmath>
#include <thread>

#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/gemm.h"
#include "core/kernels.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "test_util.h"

namespace dapa {
namespace {

using test::tensors_close;

Tensor randn(const Shape& s, uint64_t seed) {
  Rng rng(seed);
  Tensor t = Tensor::empty(s);
  rng.fill_normal(t, 0.0f, 1.0f);
  return t;
}

// Naive reference: op(a) op(b) in double.
Tensor naive_matmul(const Tensor& a, const Tensor& b, bool ta, bool tb) {
  Tensor A = ta ? a.transpose(0, 1).contiguous() : a, B = tb ? b.transpose(0, 1).contiguous() : b;
  int64_t M = A.shape()[0], K = A.shape()[1], N = B.shape()[1];
  Tensor c = Tensor::empty({M, N});
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      double acc = 0;
      for (int64_t k = 0; k < K; ++k) acc += static_cast<double>(A.at({i, k})) * B.at({k, j});
      c.at({i, j}) = static_cast<float>(acc);
    }
  return c;
}

// AdamW's update by the formula, one float operation at a time, uncontracted (this file
// is compiled with -ffp-contract=off: tests/CMakeLists.txt; so a target with fused
// multiply-add rounds as every other), with the correctly rounded sqrt.
void adamw_by_formula(float& w, float& m, float& v, float g, const AdamWStep& s) {
  m = s.beta1 * m + (1.0f - s.beta1) * g;
  v = s.beta2 * v + (1.0f - s.beta2) * (g * g);
  w = w * s.decay - s.lr * (m / s.bc1) / (std::sqrt(v / s.bc2) + s.eps);
}

// The optimiser's kernel gives the formula's bits for every element, in the vector body
// and the tail alike, on whichever clone this CPU runs (and under qemu as CPUs without
// AVX-512 or AVX: tests/CMakeLists.txt). Eigen's vectorised sqrt, which the optimiser
// used before, is an approximation that differs in the last bit for about half of all
// inputs.
TEST(AdamWUpdate, EveryElementIsTheFormula) {
  Rng rng(5);
  const int64_t n = 1000 + 13;  // a tail past the last whole vector
  Tensor w = Tensor::empty({n}), m = Tensor::empty({n}), v = Tensor::empty({n}),
         g = Tensor::empty({n});
  for (Tensor* t : {&w, &m, &g}) rng.fill_normal(*t, 0.0f, 1.0f);
  rng.fill_normal(v, 0.0f, 1e-3f);
  for (int64_t i = 0; i < n; ++i) v.data()[i] = std::fabs(v.data()[i]);  // second moments
  std::vector<float> ew = w.to_vector(), em = m.to_vector(), ev = v.to_vector();
  const AdamWStep s{
      1e-3f, 0.9f, 0.999f, 1e-8f, 1.0f - 0.9f * 0.9f, 1.0f - 0.999f * 0.999f, 1.0f - 1e-3f * 0.05f};
  adamw_update(w.data(), m.data(), v.data(), g.data(), n, s);
  int differing = 0;
  for (int64_t i = 0; i < n; ++i) {
    adamw_by_formula(ew[i], em[i], ev[i], g.data()[i], s);
    differing += ew[i] != w.data()[i] || em[i] != m.data()[i] || ev[i] != v.data()[i];
  }
  EXPECT_EQ(differing, 0) << "of " << n << " elements";
}

// Whole numbers whose squares and every partial sum are exact in double (below 2^53) but
// not in float: the exact total whatever the order, so a float accumulator, a lost
// element in the vector body or the tail would show.
TEST(SumOfSquares, ExactForWholeNumbers) {
  for (int64_t n : {0, 1, 7, 8, 9, 1003}) {
    std::vector<float> x(static_cast<size_t>(n));
    double expected = 0;
    for (int64_t i = 0; i < n; ++i) {
      x[i] = static_cast<float>(10000 + i);
      expected += static_cast<double>(x[i]) * x[i];
    }
    EXPECT_EQ(sum_of_squares(x.data(), n), expected) << "n = " << n;
  }
}

TEST(Gemm, KnownProduct) {
  Tensor a = Tensor::from({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = Tensor::from({7, 8, 9, 10, 11, 12}, {3, 2});
  EXPECT_EQ(matmul(a, b).to_vector(), (std::vector<float>{58, 64, 139, 154}));
}

TEST(Gemm, AllTransposesMatchNaive) {
  // (M, K, N): a small product (OpenBLAS) and one above gemm.cpp's oneDNN threshold of
  // 2^20 multiply-adds (oneDNN on x86-64 builds), odd sizes so no kernel tile fits.
  for (auto [M, K, N] : {std::array<int64_t, 3>{67, 45, 33}, std::array<int64_t, 3>{131, 97, 89}})
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        Tensor a = randn(ta ? Shape{K, M} : Shape{M, K}, 1);
        Tensor b = randn(tb ? Shape{N, K} : Shape{K, N}, 2);
        EXPECT_TRUE(tensors_close(matmul(a, b, ta, tb), naive_matmul(a, b, ta, tb), 1e-4))
            << "M=" << M << " ta=" << ta << " tb=" << tb;
      }
}

TEST(Gemm, AccumulatesIntoTheOutputWithBetaOne) {
  // linear_forward relies on it: the bias is written first, the product added on top.
  for (int64_t M : {int64_t{20}, int64_t{400}}) {
    Tensor a = randn({M, 64}, 5), b = randn({64, 48}, 6), c = randn({M, 48}, 7);
    Tensor expected = add(naive_matmul(a, b, false, false), c);
    matmul_into(a, b, false, false, 1.0f, c);
    EXPECT_TRUE(tensors_close(c, expected, 1e-4)) << "M=" << M;
  }
}

// The raw sgemm on operands inside wider rows (lda, ldb, ldc above the widths), with a
// scale alpha and beta 0, 1 and 0.5, every transpose, against a double loop.
void expect_strided_scaled_products_match_naive(int64_t M, int64_t N, int64_t K, float tolerance) {
  const int64_t pad = 5;
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (float beta : {0.0f, 1.0f, 0.5f}) {
        const int64_t ar = ta ? K : M, ac = ta ? M : K, br = tb ? N : K, bc = tb ? K : N;
        Tensor a = randn({ar, ac + pad}, 11), b = randn({br, bc + pad}, 12);
        Tensor c = randn({M, N + pad}, 13), c0 = c.clone();
        const float alpha = 0.375f;
        sgemm(ta, tb, M, N, K, alpha, a.data(), ac + pad, b.data(), bc + pad, beta, c.data(),
              N + pad);
        Tensor expected =
            naive_matmul(a.slice(1, 0, ac).contiguous(), b.slice(1, 0, bc).contiguous(), ta, tb);
        for (int64_t i = 0; i < M; ++i)
          for (int64_t j = 0; j < N + pad; ++j) {
            float want = j < N ? alpha * expected.at({i, j}) + beta * c0.at({i, j}) : c0.at({i, j});
            EXPECT_NEAR(c.at({i, j}), want, tolerance)
                << M << "x" << N << "x" << K << " ta=" << ta << " tb=" << tb << " beta=" << beta
                << " at " << i << "," << j;
          }
      }
}

// As the attention calls it: small products take libxsmm on x86-64, which packs a
// transposed or scaled B first and leaves beta 0.5 to OpenBLAS.
TEST(Gemm, StridedScaledProductsMatchNaive) {
  expect_strided_scaled_products_match_naive(37, 29, 19, 1e-4f);
}

// More small shapes on one thread than the cache of libxsmm kernels keeps (it starts
// again when half of its 256 entries are taken), each product run twice (the second
// from the cache): every one matches the naive product.
TEST(Gemm, ManySmallShapesMatchNaive) {
  for (int64_t M = 1; M <= 70; ++M)
    for (int64_t K : {3, 16}) {
      const int64_t N = 1 + (M * 7 + K) % 23;
      Tensor a = randn({M, K}, 60 + M), b = randn({K, N}, 61 + K);
      for (int round = 0; round < 2; ++round)
        ASSERT_TRUE(tensors_close(matmul(a, b), naive_matmul(a, b, false, false), 1e-4))
            << M << "x" << N << "x" << K << " round " << round;
    }
}

// linear_forward's epilogue on each tile, y = residual + (x W^T + b), bit for bit: in one
// pass (add_bias_rows) when no `after` work goes between the bias and the residual, in
// two otherwise (here an `after` that only counts the rows it is given).
TEST(Gemm, LinearForwardAddsTheBiasAndTheResidualAsTwoAddsWould) {
  const int64_t R = 300, in = 40, out = 24;
  Tensor x = randn({R, in}, 70), w = randn({out, in}, 71), b = randn({out}, 72);
  Tensor res = randn({R, out}, 73);
  const Tensor product = matmul(x, w, false, true);  // the same product, bit for bit
  for (bool with_after : {false, true}) {
    std::atomic<int64_t> after_rows{0};
    RowWork work;
    if (with_after) work.after = [&](int64_t, int64_t rows) { after_rows += rows; };
    Tensor y = linear_forward(x, w, b, work, res);
    EXPECT_EQ(after_rows, with_after ? R : 0);
    for (int64_t r = 0; r < R; ++r)
      for (int64_t j = 0; j < out; ++j)
        ASSERT_EQ(y.at({r, j}), res.at({r, j}) + (product.at({r, j}) + b.at({j})))
            << r << "," << j << (with_after ? " with after" : "");
  }
}

// A K long against the output (a weight gradient's shape) splits into chunks of K whose
// products C adds in order; the first takes the caller's alpha and beta. 2,000 and
// 7,000: 3 and the most, 8, chunks of uneven length.
TEST(Gemm, LongKProductsMatchNaive) {
  expect_strided_scaled_products_match_naive(24, 20, 2000, 2e-3f);
  expect_strided_scaled_products_match_naive(40, 3, 7000, 4e-3f);
}

// A linear layer's backward at a weight gradient's shape that splits along its rows (R =
// 7,000, 8 chunks of uneven length): dW = gy^T x against the double reference, and the
// bias gradient, summed chunk by chunk behind that product, against gy's column sums in
// double; at 1 and 2 threads, the same bits. A gy whose width is not the layer's output
// is a ShapeError, not a read past its rows.
TEST(Gemm, LinearBackwardSumsTheBiasBehindTheSplitWeightGradient) {
  const int64_t R = 7000, in = 16, out = 64;
  Tensor gy = randn({R, out}, 41), x = randn({R, in}, 42), w = randn({out, in}, 43);
  auto run = [&](int threads) {
    set_num_threads(threads);
    LinearGrads g = linear_backward(gy, x, w, false, true, true);
    set_num_threads(max_threads());
    return g;
  };
  LinearGrads g = run(1);
  EXPECT_TRUE(tensors_close(g.weight, naive_matmul(gy, x, true, false), 4e-3));
  Tensor sums = Tensor::empty({out});
  for (int64_t j = 0; j < out; ++j) {
    double s = 0;
    for (int64_t r = 0; r < R; ++r) s += gy.at({r, j});
    sums.at({j}) = static_cast<float>(s);
  }
  EXPECT_TRUE(tensors_close(g.bias, sums, 4e-3));
  LinearGrads two = run(std::min(2, max_threads()));
  EXPECT_EQ(two.weight.to_vector(), g.weight.to_vector());
  EXPECT_EQ(two.bias.to_vector(), g.bias.to_vector());
  EXPECT_THROW(linear_backward(randn({R, out / 2}, 44), x, w, false, true, true), ShapeError);
}

// RowWork: every row of C gets `before` once ahead of the product that reads it (here it
// forms the row of A) and `after` once behind it (here it doubles the row of C), for a
// product tiled by rows, one tiled by columns, one split along K and a small one.
TEST(Gemm, RowWorkRunsOncePerRowAroundTheProduct) {
  struct Case {
    int64_t M, N, K;
  };
  for (Case s : {Case{400, 48, 64}, Case{20, 400, 64}, Case{24, 20, 2000}, Case{20, 20, 16}}) {
    Tensor source = randn({s.M, s.K}, 21), b = randn({s.K, s.N}, 22);
    Tensor a = Tensor::empty({s.M, s.K}), c = Tensor::empty({s.M, s.N});
    std::vector<int> befores(s.M, 0), afters(s.M, 0);
    const RowWork work{[&](int64_t r0, int64_t rows) {
                         std::copy_n(source.data() + r0 * s.K, rows * s.K, a.data() + r0 * s.K);
                         for (int64_t r = r0; r < r0 + rows; ++r) ++befores[r];
                       },
                       [&](int64_t r0, int64_t rows) {
                         for (int64_t i = r0 * s.N; i < (r0 + rows) * s.N; ++i) c.data()[i] *= 2;
                         for (int64_t r = r0; r < r0 + rows; ++r) ++afters[r];
                       }};
    matmul_into(a, b, false, false, 0.0f, c, &work);
    const std::string shape =
        std::to_string(s.M) + "x" + std::to_string(s.N) + "x" + std::to_string(s.K);
    EXPECT_EQ(befores, std::vector<int>(s.M, 1)) << shape;
    EXPECT_EQ(afters, std::vector<int>(s.M, 1)) << shape;
    EXPECT_TRUE(tensors_close(c, scale(naive_matmul(source, b, false, false), 2.0f), 2e-3))
        << shape;
  }
}

TEST(Gemm, BatchedMatchesPerMatrix) {
  Tensor a = randn({6, 9, 5}, 3), b = randn({6, 7, 5}, 4);
  Tensor c = bmm(a, b, false, true);
  ASSERT_EQ(c.shape(), (Shape{6, 9, 7}));
  for (int64_t i = 0; i < 6; ++i) {
    Tensor ai = a.slice(0, i, i + 1).reshape({9, 5}), bi = b.slice(0, i, i + 1).reshape({7, 5});
    EXPECT_TRUE(
        tensors_close(c.slice(0, i, i + 1).reshape({9, 7}), naive_matmul(ai, bi, false, true)));
  }
}

// Every product of a ViT training step (batch 128: 6,400 token rows) gives the same
// bits with 1 and 2 threads: what lets the thread governor change the count mid-run
// without changing results. (oneDNN alone splits K for the small weight gradients.)
TEST(Gemm, SameBitsForAnyThreadCountAtTheModelShapes) {
  struct Product {
    int64_t rows, in, out;
  };
  std::vector<Product> layers;
#if defined(DAPA_HAVE_ONEDNN) || defined(DAPA_HAVE_LIBXSMM)
  const std::vector<int64_t> vit_dims{64, 128};  // vit-nano, vit-micro
#else
  // With OpenBLAS alone (the ARM builds) a product's path depends only on gemm.cpp's
  // split rules, whose every case vit-nano's and gpt-nano's shapes reach; vit-micro's
  // add four times the work (most of this suite's time under qemu) and no new path.
  const std::vector<int64_t> vit_dims{64};
#endif
  for (int64_t dim : vit_dims)
    for (Product p : std::vector<Product>{{6400, dim, 3 * dim},  // qkv
                                          {6400, dim, dim},      // proj
                                          {6400, dim, 4 * dim},  // fc1
                                          {6400, 4 * dim, dim},  // fc2
                                          {6272, 16, dim}})      // patch embedding
      layers.push_back(p);
  // gpt-nano at batch 16: the block's products, the tied output layer over a byte
  // vocabulary, and an evaluation's last, 31-token window (OpenBLAS's own threading
  // gave it other last bits at 1 and 2 threads).
  for (Product p : std::vector<Product>{
           {2048, 128, 384}, {2048, 128, 512}, {2048, 512, 128}, {2048, 128, 256}, {31, 128, 256}})
    layers.push_back(p);
  int before = num_threads();
  for (const Product& p : layers) {
    Tensor x = randn({p.rows, p.in}, 1), w = randn({p.out, p.in}, 2),
           gy = randn({p.rows, p.out}, 3);
    std::vector<std::vector<float>> results[2];
    for (int threads : {1, 2}) {
      set_num_threads(threads);
      auto& r = results[threads - 1];
      r.push_back(matmul(x, w, false, true).to_vector());    // forward
      r.push_back(matmul(gy, w, false, false).to_vector());  // input gradient
      r.push_back(matmul(gy, x, true, false).to_vector());   // weight gradient
    }
    for (size_t k = 0; k < 3; ++k)
      EXPECT_EQ(results[0][k], results[1][k])
          << "product " << k << " of the " << p.rows << "x" << p.in << " -> " << p.out << " layer";
  }
  set_num_threads(before);
}

// Every item runs once, at any thread count; a thread that falls behind keeps the front
// of its share and the other takes over the rest, from the back.
TEST(ParallelItems, EveryItemOnceAndASlowThreadsLastItemsGoToTheOther) {
  const int before = num_threads();
  for (int threads = 1; threads <= std::min(4, max_threads()); ++threads) {
    set_num_threads(threads);
    for (int64_t n : {0, 1, 2, 3, 17, 100, 1001}) {
      std::vector<std::atomic<int>> runs(static_cast<size_t>(n));
      parallel_items(n, [&](const auto& next) {
        for (int64_t i; (i = next()) >= 0;) runs[static_cast<size_t>(i)]++;
      });
      for (int64_t i = 0; i < n; ++i)
        ASSERT_EQ(runs[static_cast<size_t>(i)].load(), 1) << threads << " threads, item " << i;
    }
  }
  if (max_threads() >= 2) {
    set_num_threads(2);
    const int64_t n = 40;
    std::vector<int> ran_on(n, -1);
    parallel_items(n, [&](const auto& next) {
      const int self = omp_get_thread_num();
      for (int64_t i; (i = next()) >= 0;) {
        ran_on[static_cast<size_t>(i)] = self;
        std::this_thread::sleep_for(std::chrono::milliseconds(self == 0 ? 10 : 1));
      }
    });
    // Thread 0 ran a prefix of its share 0..19 (at least item 0), thread 1 everything
    // after it: its own share and the back of thread 0's.
    const auto first_of_1 = std::find(ran_on.begin(), ran_on.end(), 1) - ran_on.begin();
    EXPECT_GE(first_of_1, 1);
    EXPECT_LT(first_of_1, 20) << "thread 1 took nothing from the slow thread 0";
    for (int64_t i = 0; i < n; ++i)
      EXPECT_EQ(ran_on[static_cast<size_t>(i)], i < first_of_1 ? 0 : 1) << "item " << i;
  }
  set_num_threads(before);
}

// Steps that sleep: the CPU share is ~0, as for a descheduled thread, so the governor
// probes; the step time at each thread count decides.
// `twos_after_switch`: steps run on two threads after the first switch to one.
int steps_on_one_thread(int64_t ms_with_one, int64_t ms_with_two, int* switches,
                        int* twos_after_switch = nullptr) {
  ThreadGovernor governor(2);
  int ones = 0, twos_after = 0;
  for (int s = 0; s < 40; ++s) {
    governor.begin_step();
    ones += governor.threads() == 1;
    twos_after += governor.switches() > 0 && governor.threads() == 2;
    std::this_thread::sleep_for(
        std::chrono::milliseconds(governor.threads() == 1 ? ms_with_one : ms_with_two));
    governor.end_step();
  }
  *switches = governor.switches();
  if (twos_after_switch) *twos_after_switch = twos_after;
  return ones;
}

TEST(ThreadGovernor, RunsOneThreadOnlyWhileThatIsClearlyFaster) {
  int before = num_threads(), switches = 0;
  // One thread ten times faster (2 vs 20 ms: wide enough that oversleeping on a loaded
  // machine or under qemu cannot flip the comparison): it switches after the warm-up and
  // stays, apart from the probes of two threads at growing intervals.
  EXPECT_GE(steps_on_one_thread(2, 20, &switches), 32);
  EXPECT_EQ(switches, 1);
  // Two threads faster: the probes of one thread lose and nothing switches.
  EXPECT_LE(steps_on_one_thread(20, 2, &switches), 4);
  EXPECT_EQ(switches, 0);
  set_num_threads(before);
}

// With every CPU busy (a spinning process on each), once on one thread the governor does
// not time two threads again: /proc/stat shows no idle CPU for them, and a probe would
// cost a stalled step for nothing. The spinners are other processes, as a real load is:
// threads of this one would count in its CPU time and hide the stall of two threads.
TEST(ThreadGovernor, DoesNotProbeTwoThreadsWhileTheCpusAreBusy) {
  if (max_threads() < 2) GTEST_SKIP() << "needs two CPUs";
  int before = num_threads(), switches = 0, twos_after = 0;
  // Each spinner is pinned to one of our CPUs and reports through a pipe once it spins:
  // /proc/stat counts idle time in 10 ms ticks, and one idle tick inside a 2 ms step
  // (a spinner not yet started, or two sharing a CPU) reads as five idle cores.
  cpu_set_t allowed;
  ASSERT_EQ(sched_getaffinity(0, sizeof allowed, &allowed), 0);
  std::vector<int> cpus;
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &allowed)) cpus.push_back(c);
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  struct Spinners {  // killed however the test ends
    std::vector<pid_t> pids;
    ~Spinners() {
      for (pid_t pid : pids) {
        kill(pid, SIGKILL);
        waitpid(pid, nullptr, 0);
      }
    }
  } spinners;
  for (int cpu : cpus) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0) << "fork failed";
    if (pid == 0) {
      cpu_set_t one;
      CPU_ZERO(&one);
      CPU_SET(cpu, &one);
      sched_setaffinity(0, sizeof one, &one);
      char byte = 1;
      if (write(ready[1], &byte, 1) != 1) _exit(1);
      volatile uint64_t spins = 0;  // volatile: a loop with effects, so it is kept
      for (;;) spins = spins + 1;
    }
    spinners.pids.push_back(pid);
  }
  close(ready[1]);  // a spinner that died before writing then ends the read with 0
  for (size_t i = 0; i < spinners.pids.size(); ++i) {
    char byte;
    ASSERT_EQ(read(ready[0], &byte, 1), 1) << "a spinner did not start";
  }
  close(ready[0]);
  std::this_thread::sleep_for(std::chrono::milliseconds(30));  // past the ticks before
  int ones = steps_on_one_thread(2, 20, &switches, &twos_after);
  set_num_threads(before);
  EXPECT_EQ(switches, 1);
  EXPECT_GE(ones, 35);
  EXPECT_EQ(twos_after, 0) << "probed two threads on busy CPUs";
}

TEST(Gemm, ShapeErrorsNameBothShapes) {
  try {
    matmul(Tensor::zeros({2, 3}), Tensor::zeros({4, 5}));
    FAIL();
  } catch (const ShapeError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("matmul"), std::string::npos);
    EXPECT_NE(m.find("(2, 3)"), std::string::npos);
    EXPECT_NE(m.find("(4, 5)"), std::string::npos);
  }
  EXPECT_THROW(bmm(Tensor::zeros({2, 3, 4}), Tensor::zeros({3, 4, 5})), ShapeError);
  // linear_forward: x (R, in), weight (out, in), bias (out,).
  const Tensor x = Tensor::zeros({2, 3}), w = Tensor::zeros({4, 3});
  EXPECT_EQ(linear_forward(x, w, Tensor::zeros({4})).shape(), (Shape{2, 4}));
  EXPECT_THROW(linear_forward(x, w, Tensor::zeros({3})), ShapeError);
  EXPECT_THROW(linear_forward(x, w, Tensor::zeros({1, 4})), ShapeError);
  EXPECT_THROW(linear_forward(Tensor::zeros({3}), w, Tensor()), ShapeError);
  EXPECT_THROW(linear_forward(x, Tensor::zeros({4, 2}), Tensor()), ShapeError);
}

TEST(Elementwise, BroadcastingAllPaths) {
  Tensor a = Tensor::from({1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_EQ(add(a, Tensor::from({10, 20, 30}, {3})).to_vector(),
            (std::vector<float>{11, 22, 33, 14, 25, 36}));  // trailing block
  EXPECT_EQ(sub(Tensor::from({10, 20, 30}, {3}), a).to_vector(),
            (std::vector<float>{9, 18, 27, 6, 15, 24}));  // block on the left
  EXPECT_EQ(mul(a, Tensor::from({2, 3}, {2, 1})).to_vector(),
            (std::vector<float>{2, 4, 6, 12, 15, 18}));  // general (column)
  Tensor outer = add(Tensor::from({1, 2}, {2, 1}), Tensor::from({10, 20, 30}, {1, 3}));
  EXPECT_EQ(outer.shape(), (Shape{2, 3}));
  EXPECT_EQ(outer.to_vector(), (std::vector<float>{11, 21, 31, 12, 22, 32}));
  EXPECT_EQ(add(a.transpose(0, 1), a.transpose(0, 1)).to_vector(),
            (std::vector<float>{2, 8, 4, 10, 6, 12}));  // strided inputs
  EXPECT_THROW(add(a, Tensor::zeros({2})), ShapeError);
}

TEST(Elementwise, InPlaceUpdates) {
  Tensor acc = Tensor::from({1, 2, 3, 4}, {2, 2});
  add_inplace(acc, Tensor::from({10, 20, 30, 40}, {2, 2}));
  EXPECT_EQ(acc.to_vector(), (std::vector<float>{11, 22, 33, 44}));
  add_inplace(acc, Tensor::from({2, 3, 4, 5}, {2, 2}).transpose(0, 1));  // a strided x
  EXPECT_EQ(acc.to_vector(), (std::vector<float>{13, 26, 36, 49}));
  EXPECT_THROW(add_inplace(acc, Tensor::zeros({4})), ShapeError);
}

TEST(Elementwise, SumToReversesBroadcast) {
  Tensor g = Tensor::from({1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_EQ(sum_to(g, {3}).to_vector(), (std::vector<float>{5, 7, 9}));
  EXPECT_EQ(sum_to(g, {2, 1}).to_vector(), (std::vector<float>{6, 15}));
  EXPECT_EQ(sum_to(g, {1, 1}).to_vector(), (std::vector<float>{21}));
  EXPECT_EQ(broadcast_to(Tensor::from({1, 2}, {2, 1}), {2, 3}).to_vector(),
            (std::vector<float>{1, 1, 1, 2, 2, 2}));
}

TEST(Reduce, SumAndMeanOverAxes) {
  Tensor t = Tensor::from({1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_EQ(sum(t, 0).to_vector(), (std::vector<float>{5, 7, 9}));
  EXPECT_EQ(sum(t, 1).to_vector(), (std::vector<float>{6, 15}));
  EXPECT_EQ(mean(t, -1, true).shape(), (Shape{2, 1}));
  EXPECT_EQ(mean(t, -1, true).to_vector(), (std::vector<float>{2, 5}));
  EXPECT_DOUBLE_EQ(sum_all(t), 21.0);
}

TEST(Softmax, KnownValuesAndStability) {
  Tensor y = softmax(Tensor::from({1, 2, 3, 1000, 1001, 1002}, {2, 3}));
  std::vector<float> v = y.to_vector();
  const float expect[3] = {0.09003057f, 0.24472847f, 0.66524096f};
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(v[i], expect[i % 3], 1e-6) << i;
}

TEST(LayerNorm, KnownValues) {
  auto r = layer_norm(Tensor::from({1, 2, 3, 4}, {1, 4}), Tensor::from({1, 2, 1, 1}, {4}),
                      Tensor::from({0, 0, 0, 1}, {4}), 0.0f);
  float s = 1.0f / std::sqrt(1.25f);
  std::vector<float> v = r.y.to_vector();
  EXPECT_NEAR(v[0], -1.5f * s, 1e-6);
  EXPECT_NEAR(v[1], -0.5f * s * 2, 1e-6);
  EXPECT_NEAR(v[3], 1.5f * s + 1, 1e-6);
  EXPECT_FLOAT_EQ(r.mean.item(), 2.5f);
  EXPECT_THROW(layer_norm(Tensor::zeros({2, 4}), Tensor::zeros({3}), Tensor::zeros({3}), 1e-5f),
               ShapeError);
}

TEST(LayerNorm, BackwardIndependentOfThreadCount) {
  Tensor x = randn({1000, 24}, 5), w = randn({24}, 6), gy = randn({1000, 24}, 7);
  auto f = layer_norm(x, w, Tensor::zeros({24}), 1e-5f);
  int before = num_threads();
  set_num_threads(1);
  auto g1 = layer_norm_backward(gy, x, w, f.mean, f.rstd);
  set_num_threads(2);
  auto g2 = layer_norm_backward(gy, x, w, f.mean, f.rstd);
  set_num_threads(before);
  EXPECT_EQ(g1.weight.to_vector(), g2.weight.to_vector());
  EXPECT_EQ(g1.x.to_vector(), g2.x.to_vector());
}

TEST(Softmax, NonFiniteInputsPropagate) {
  // A diverging run must see NaN, not a finite value made up by the kernels.
  EXPECT_TRUE(std::isnan(softmax(Tensor::from({NAN, 0.0f}, {1, 2})).to_vector()[1]));
}

TEST(CrossEntropy, UniformLogitsGiveLogC) {
  auto r = cross_entropy(Tensor::zeros({4, 10}), {0, 3, 9, 5});
  EXPECT_NEAR(r.loss, std::log(10.0f), 1e-6);
  std::vector<float> g = r.grad.to_vector();
  EXPECT_NEAR(g[0], (0.1f - 1.0f) / 4, 1e-7);
  EXPECT_NEAR(g[1], 0.1f / 4, 1e-7);
  auto big = cross_entropy(Tensor::from({1000, 0}, {1, 2}), {1});
  EXPECT_NEAR(big.loss, 1000.0f, 1e-3);  // no overflow
}

TEST(CrossEntropy, RejectsBadLabels) {
  EXPECT_THROW(cross_entropy(Tensor::zeros({2, 3}), {0, 3}), ShapeError);
  EXPECT_THROW(cross_entropy(Tensor::zeros({2, 3}), {0, -1}), ShapeError);
  EXPECT_THROW(cross_entropy(Tensor::zeros({2, 3}), {0}), ShapeError);
}

TEST(Layout, ConcatSplitPermute) {
  Tensor a = Tensor::from({1, 2, 3, 4}, {2, 2}), b = Tensor::from({5, 6}, {2, 1});
  Tensor c = concat({a, b}, 1);
  EXPECT_EQ(c.to_vector(), (std::vector<float>{1, 2, 5, 3, 4, 6}));
  std::vector<Tensor> parts = split(c, {2, 1}, 1);
  EXPECT_EQ(parts[0].to_vector(), a.to_vector());
  EXPECT_EQ(parts[1].to_vector(), b.to_vector());
  EXPECT_EQ(permute(a, {1, 0}).to_vector(), (std::vector<float>{1, 3, 2, 4}));
  EXPECT_EQ(inverse_permutation({2, 0, 1}), (std::vector<int>{1, 2, 0}));
  EXPECT_THROW(split(c, {2, 2}, 1), ShapeError);
  EXPECT_THROW(concat({a, Tensor::zeros({3, 1})}, 1), ShapeError);
}

}  // namespace
}  // namespace dapa

namespace dapa {
namespace {

TEST(Embedding, GathersRowsAndRejectsBadIds) {
  Tensor table = Tensor::from({0, 1, 10, 11, 20, 21}, {3, 2});
  Tensor out = embedding(table, {2, 0, 2}, {3});
  EXPECT_EQ(out.shape(), (Shape{3, 2}));
  EXPECT_EQ(out.to_vector(), (std::vector<float>{20, 21, 0, 1, 20, 21}));
  // Repeated ids sum their gradients.
  Tensor g = embedding_backward(Tensor::ones({3, 2}), {2, 0, 2}, 3);
  EXPECT_EQ(g.to_vector(), (std::vector<float>{1, 1, 0, 0, 2, 2}));
  EXPECT_THROW(embedding(table, {3}, {1}), ShapeError);
  EXPECT_THROW(embedding(table, {-1}, {1}), ShapeError);
  EXPECT_THROW(embedding(table, {0, 1}, {3}), ShapeError);
  EXPECT_THROW(embedding(Tensor::zeros({6}), {0}, {1}), ShapeError);
}

TEST(Attention, CausalRowsAttendOnlyToThePast) {
  Tensor qkv = randn({2, 5, 3 * 4}, 11);
  AttentionResult r = attention(qkv, 2, true);
  // Changing the last position's keys and values leaves every earlier output as it was,
  // bit for bit, and changes the last one's.
  Tensor later = qkv.clone();
  for (int64_t c = 4; c < 12; ++c) later.data()[4 * 12 + c] += 1.0f;
  Tensor out = attention(later, 2, true).out;
  for (int64_t t = 0; t < 5; ++t)
    for (int64_t c = 0; c < 4; ++c) {
      if (t < 4) {
        EXPECT_EQ(out.at({0, t, c}), r.out.at({0, t, c})) << "position " << t;
      } else {
        EXPECT_NE(out.at({0, t, c}), r.out.at({0, t, c}));
      }
    }
  // The first position sees only itself: its output is its own value vector, and its
  // row's sum of exps is exp(0) = 1.
  for (int64_t c = 0; c < 4; ++c) EXPECT_FLOAT_EQ(r.out.at({0, 0, c}), qkv.at({0, 0, 8 + c}));
  EXPECT_EQ(r.inverse_sum.at({0, 0, 0}), 1.0f);
}

// Backward forms the probabilities again from the saved row statistics; a wrong shape
// of them is refused.
TEST(Attention, BackwardChecksTheSavedRowStatistics) {
  Tensor qkv = randn({2, 5, 3 * 4}, 12);
  AttentionResult r = attention(qkv, 2);
  Tensor gout = randn({2, 5, 4}, 13);
  EXPECT_EQ(attention_backward(gout, qkv, r.row_max, r.inverse_sum, 2).shape(), qkv.shape());
  EXPECT_THROW(attention_backward(gout, qkv, r.row_max.reshape({2, 10}), r.inverse_sum, 2),
               ShapeError);
  EXPECT_THROW(attention_backward(gout, qkv, r.row_max, Tensor::zeros({2, 2, 4}), 2), ShapeError);
}

}  // namespace
}  // namespace dapa
