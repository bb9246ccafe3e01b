// dapa_fit: calibrate DAPA on a trained model (a ViT or a GPT: the checkpoint says
// which). Runs the first K training images (or tokens) through the model of a checkpoint
// while every MLP activation site (--fit act), every attention softmax's exp (--fit
// softmax: the max-shifted scores, dapa/softmax_table.h) or both record what enters
// them, then fits
// DAPA(N) per site (or one shared table from the pooled distribution), quantises each to
// 16-bit fixed point (Q formats chosen by DWMSE) and writes one table file holding the
// float tables, the fixed-point tables and the distributions.
#include <CLI/CLI.hpp>

#include <cmath>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <utility>

#include "core/h5.h"
#include "core/parallel.h"
#include "dapa/table_io.h"
#include "nn/activation.h"
#include "nn/checkpoint.h"
#include "nn/dapa_sites.h"
#include "train/cli.h"
#include "train/tasks.h"

namespace dapa {
namespace {

struct Options {
  std::string checkpoint, data, out, mode = "slope", kind = "dapa", report, target, fit = "act";
  int64_t images = 1024, tokens = 32768, segments = 16, batch = 128;
  double bound = 1.5;
  std::pair<double, double> mse_range{-4.0, 4.0};
  bool shared = false, shift_add = false, refine = false;
  int threads = 0;
  std::string given_examples_flag;  // "--images" or "--tokens" when given
};

// The registered function the checkpoint's activation computes or approximates.
std::string checkpoint_function(const std::string& path, const CheckpointMeta& meta) {
  nlohmann::json config = nlohmann::json::parse(meta.config, nullptr, false);
  if (config.is_object() && config.contains("recipe")) config = config["recipe"];
  if (!config.is_object() || !config.contains("act") || !config["act"].is_string())
    throw std::invalid_argument(path + ": its configuration names no activation; give --target");
  return activation_function(config["act"].get<std::string>()).name;
}

// Per site and averaged: MSE on a uniform grid (a softmax table's: its domain) and DWMSE
// on the site's distribution, of the float table and of the fixed-point one; printed,
// and written to --report.
void report(const Options& o, const std::string& target, const std::vector<SiteTable>& tables) {
  auto [mse_lo, mse_hi] = o.mse_range;
  nlohmann::json report = {{"checkpoint", o.checkpoint},
                           {"kind", o.kind},
                           {"target", target},
                           {"segments", o.segments},
                           {"images", o.images},
                           {"tokens", o.tokens},
                           {"mse_range", {mse_lo, mse_hi}},
                           {"sites", nlohmann::json::object()}};
  std::map<std::string, double> mean;
  for (const SiteTable& t : tables) {
    double lo = t.table.bounded() ? t.table.domain_lo : mse_lo;
    double hi = t.table.bounded() ? t.table.domain_hi : mse_hi;
    std::map<std::string, double> m = {{"mse", mse_uniform(t.table, lo, hi)},
                                       {"mse_fixed", mse_uniform(t.fixed, lo, hi)},
                                       {"dwmse", dwmse(t.table, t.distribution)},
                                       {"dwmse_fixed", dwmse(t.fixed, t.distribution)}};
    report["sites"][t.site] = m;
    for (auto& [key, v] : m) mean[key] += v / static_cast<double>(tables.size());
    const FixedTable& f = t.fixed;
    std::printf(
        "  %-18s %lld values in [%.3f, %.3f]  DWMSE float %.3g fixed %.3g  "
        "Q formats x %d, y %d, slope %d\n",
        t.site.c_str(), static_cast<long long>(t.distribution.count()), t.distribution.min(),
        t.distribution.max(), m["dwmse"], m["dwmse_fixed"], f.frac_x, f.frac_y, f.frac_slope);
  }
  report["mean"] = mean;
  if (!o.report.empty()) write_text_atomically(o.report, report.dump(2) + "\n");
}

int run(const Options& o) {
  if (o.threads > 0) set_num_threads(o.threads);
  if (o.shift_add && (o.kind != "dapa" || o.mode != "slope"))
    throw std::invalid_argument("--shift-add: needs --kind dapa and --mode slope");
  if (o.refine && o.kind != "dapa") throw std::invalid_argument("--refine: needs --kind dapa");
  if (!(o.mse_range.first < o.mse_range.second))
    throw std::invalid_argument("--mse-range: expected LO < HI, got " +
                                std::to_string(o.mse_range.first) + " " +
                                std::to_string(o.mse_range.second));
  CheckpointMeta meta = read_checkpoint_meta(o.checkpoint);
  std::string model_name = meta.model;
  // The function to approximate: --target, else the one the checkpoint's activation computes.
  std::string target = o.target.empty() ? checkpoint_function(o.checkpoint, meta) : o.target;
  if (o.fit == "softmax" && !o.target.empty())
    throw std::invalid_argument(
        "--target: --fit softmax fits the softmax's exp (give --fit act "
        "or both to choose the activation's function)");
  const TaskKind& kind = task_kind_of(model_name);
  // --images for a ViT, --tokens for a language model: the other is refused, not ignored.
  const bool tokens = kind.examples() == "tokens";
  if (o.given_examples_flag == (tokens ? "--images" : "--tokens"))
    throw std::invalid_argument(o.given_examples_flag + ": " + o.checkpoint + " holds a " +
                                model_name + ", calibrated on " + kind.examples() + " (use --" +
                                kind.examples() + ")");
  // The sites calibrate (the exact function while recording) and fit themselves;
  // `:fixed` makes them quantise too. A nonlinearity not being fitted stays exact.
  Recipe r;
  r.model = model_name;
  std::string table = o.kind + ":" + std::to_string(o.segments) +
                      (o.kind == "dapa" ? ":" + o.mode : "") + (o.refine ? ":refined" : "") +
                      ":fixed";
  r.act = o.fit == "softmax" ? target : table + ":" + find_function(target).name;
  if (o.fit != "act") r.softmax = table;
  r.batch = o.batch;
  RunOptions run;
  run.data = o.data, run.checkpoint = o.checkpoint, run.eval_only = true;
  Rng rng(0);
  std::unique_ptr<Task> task = kind.make(run, r, meta, rng);
  load_checkpoint(o.checkpoint, task->model(), nullptr);
  Sites sites = table_sites(task->model());
  int64_t batches = task->calibration_batches(tokens ? o.tokens : o.images, o.batch);
  std::string summary = calibrate_sites(
      sites, [&](int64_t b) { return task->calibration_forward(b); }, batches, o.shared,
      "training " + kind.examples(), o.bound);
  std::vector<SiteTable> tables = site_tables(sites, o.shared);
  if (o.shift_add)  // DSP-free: two-term slopes, intercepts refitted, formats chosen again
    for (SiteTable& t : tables) {
      t.table = restrict_to_shift_add(t.table, t.distribution);
      t.fixed = quantize_table(t.table, t.distribution, {o.bound, true});
    }
  save_tables(o.out, tables);
  std::printf("dapa_fit: %s\n", summary.c_str());
  report(o, target, tables);
  std::printf("tables: %s\n", o.out.c_str());
  return 0;
}

void add_flags(CLI::App& app, Options& o) {
  app.add_option("--checkpoint", o.checkpoint, "checkpoint written by train_vit or train_gpt")
      ->required();
  app.add_option("--data", o.data,
                 "the checkpoint's kind of data: an image data set (prepare_data) or a token "
                 "file (prepare_text)")
      ->required();
  app.add_option("--images", o.images, "ViT: calibrate on the first K training images")
      ->check(cli::positive())
      ->capture_default_str();
  app.add_option("--tokens", o.tokens, "GPT: calibrate on the first K training tokens")
      ->check(cli::positive())
      ->capture_default_str();
  app.add_option("--segments", o.segments, "segments N per table (2 to 256)")
      ->check(CLI::Range(2, 256))
      ->capture_default_str();
  app.add_option("--fit", o.fit,
                 "the sites to fit: act (every MLP activation), softmax (every attention "
                 "softmax's exp, on the max-shifted scores) or both")
      ->check(CLI::IsMember({"act", "softmax", "both"}))
      ->capture_default_str();
  app.add_option("--target", o.target,
                 "function to approximate: " + function_names() +
                     " (default: the one the checkpoint's activation computes)");
  app.add_option("--mode", o.mode, "derivative: slope | fitted")
      ->check(CLI::IsMember({"slope", "fitted"}))
      ->capture_default_str();
  app.add_option("--bound", o.bound,
                 "fixed point: fewest fractional bits whose DWMSE is within this factor of the "
                 "float fit's")
      ->check(CLI::Range(1.0, 1e6))
      ->capture_default_str();
  app.add_flag("--shared", o.shared, "one table for all sites (pooled distribution)");
  app.add_option("--kind", o.kind,
                 "dapa (quantile breakpoints, density-weighted lines) | pwl (uniform baseline "
                 "on [-4, 4], a softmax's on its domain [lo, 0]: only its fixed-point formats "
                 "come from the data)")
      ->check(CLI::IsMember({"dapa", "pwl"}))
      ->capture_default_str();
  app.add_flag("--refine", o.refine,
               "move the breakpoints from the quantiles to lower the DWMSE (DAPA refined; see "
               "dapa/fit.h)");
  app.add_flag("--shift-add", o.shift_add,
               "DSP-free tables: every slope a sum of two signed powers of two (slope mode)");
  app.add_option("--report", o.report,
                 "also write per-site MSE (uniform grid) and DWMSE, float and fixed, as JSON");
  app.add_option("--mse-range", o.mse_range, "range of the uniform MSE grid")
      ->capture_default_str();
  app.add_option("--batch", o.batch,
                 "images (ViT) or windows of the context (GPT) per forward pass")
      ->check(cli::positive())
      ->capture_default_str();
  app.add_option("--threads", o.threads, "threads (0: DAPA_NUM_THREADS or all cores)")
      ->check(cli::non_negative());
  app.add_option("--out", o.out, "table file to write (.h5 or .json)")->required();
}

}  // namespace
}  // namespace dapa

int main(int argc, char** argv) {
  dapa::Options o;
  CLI::App app{
      "Fit DAPA tables (float and 16-bit fixed point) to the activation inputs of a trained ViT "
      "or GPT."};
  dapa::add_flags(app, o);
  dapa::cli::one_line_errors(app, "dapa_fit");
  CLI11_PARSE(app, argc, argv);
  for (const char* flag : {"--images", "--tokens"})
    if (app.count(flag)) o.given_examples_flag = flag;
  try {
    return dapa::run(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dapa_fit: %s\n", e.what());
    dapa::cli::exit_after_error(1);
  }
}
