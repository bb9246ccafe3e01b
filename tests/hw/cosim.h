// Co-simulation of a streaming unit (Verilator model with clk, in_valid, x, g ->
// out_valid, y, dx): inputs enter one per cycle, and the outputs are checked in order
// against a golden model while the latency (cycles from an input to its result) and the
// initiation interval (cycles per result) are measured, not assumed. The measurements
// go to DAPA_HW_COSIM_DIR/<design>.json, where hw/report.py reads them.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "verilated.h"

namespace dapa::hw {

struct CosimResult {
  int64_t latency = -1;  // cycles from input i entering to result i leaving
  double ii = 0;         // cycles between consecutive results
  int64_t results = 0;
};

// check(i, y, dx): the result for input i (asserts inside). Stops after max_latency
// idle cycles past the last input.
template <class Model>
CosimResult cosimulate(const std::vector<int16_t>& x, const std::vector<int16_t>& g,
                       const std::function<void(size_t, int16_t, int16_t)>& check,
                       int64_t max_latency = 64) {
  auto context = std::make_unique<VerilatedContext>();
  auto m = std::make_unique<Model>(context.get());
  m->clk = 0;
  m->in_valid = 0;
  m->eval();
  CosimResult r;
  int64_t n = static_cast<int64_t>(x.size()), first = -1, last = -1;
  for (int64_t cycle = 0; cycle < n + max_latency && r.results < n; ++cycle) {
    bool feeding = cycle < n;
    m->in_valid = feeding;
    m->x = feeding ? x[cycle] : 0;
    m->g = feeding ? g[cycle] : 0;
    m->clk = 1;
    m->eval();
    m->clk = 0;
    m->eval();
    if (!m->out_valid) continue;
    // Input 0 entered on the edge of cycle 0; a result seen after the edge of cycle c
    // left the pipeline c + 1 edges after it entered.
    if (first < 0) first = cycle, r.latency = cycle + 1;
    last = cycle;
    check(static_cast<size_t>(r.results), static_cast<int16_t>(m->y), static_cast<int16_t>(m->dx));
    if (::testing::Test::HasFatalFailure()) break;
    ++r.results;
  }
  m->final();
  r.ii = r.results > 1 ? static_cast<double>(last - first) / (r.results - 1) : 0;
  return r;
}

// Writes the measurements of one design for the cost report.
inline void record_cosim(const std::string& design, const CosimResult& r) {
  std::string path = std::string(DAPA_HW_COSIM_DIR) + "/" + design + ".json";
  FILE* f = std::fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr) << "cannot write " << path;
  std::fprintf(f, "{\"design\": \"%s\", \"latency\": %lld, \"ii\": %.6g, \"results\": %lld}\n",
               design.c_str(), static_cast<long long>(r.latency), r.ii,
               static_cast<long long>(r.results));
  std::fclose(f);
}

}  // namespace dapa::hw
