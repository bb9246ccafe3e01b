// What a training run leaves behind and shows while it runs: metrics.csv (one row per
// logged step, one per evaluation), the progress display (a bar with ETA on a terminal,
// plain lines otherwise), loss.png drawn by gnuplot, and the peak resident memory.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace dapa {

// The columns of metrics.csv, in order; the file's header line names them, and readers
// (the plots here, experiments/*.py) find columns by these names: kind, step, epoch,
// train_loss, lr, UNIT_per_s, elapsed_s, then the evaluation's names. A train row
// (kind "train") fills step to elapsed_s; an evaluation row (kind: the split, "test" or
// "val") step, epoch, elapsed_s and the evaluation's values (test_loss, test_accuracy;
// val_loss, val_perplexity, val_bits_per_byte).
std::vector<std::string> metrics_columns(const std::string& unit,
                                         const std::vector<std::string>& evaluation_names);

class MetricsLog {
 public:
  // Nothing is written until the first row: then the file starts over, keeping (when
  // resuming from `keep_until_step`) the rows the interrupted run logged up to that
  // step; a fresh run (keep_until_step < 0) keeps none. So a run that fails before
  // logging anything leaves the old file as it was. Write errors throw.
  MetricsLog(const std::string& path, int64_t keep_until_step, const std::string& unit,
             const std::vector<std::string>& evaluation_names);
  ~MetricsLog();
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;

  void train(int64_t step, int64_t epoch, double loss, double lr, double examples_per_s,
             double elapsed_s);
  // values: in the order of evaluation_names (checked).
  void evaluation(int64_t step, int64_t epoch, const std::string& split,
                  const std::vector<std::pair<std::string, double>>& values, double elapsed_s);
  // Elapsed seconds of the last row kept from the interrupted run (0 for a fresh run):
  // a resumed run adds it, so the column keeps counting the whole run's time.
  double resumed_elapsed() const { return resumed_elapsed_; }

 private:
  void append(const char* row);

  std::string path_, kept_, header_;
  std::vector<std::string> evaluation_names_;
  FILE* file_ = nullptr;
  double resumed_elapsed_ = 0;
};

class Progress {
 public:
  Progress(int64_t total_steps, int64_t log_every, const std::string& unit);
  // Called every step: redraws the bar on a terminal, prints a line every log_every
  // steps otherwise.
  void update(int64_t step, int64_t epoch, double loss, double lr, double examples_per_s,
              double elapsed_s, int64_t steps_done_here);
  void message(const std::string& line);  // a full line, clearing the bar first
  void finish();

 private:
  int64_t total_, log_every_;
  std::string rate_unit_;  // "img/s", "tok/s"
  bool tty_;
  bool bar_shown_ = false;
  std::chrono::steady_clock::time_point last_draw_{};
};

// A gnuplot `using` clause for one series of a metrics file: `column` against step, on
// the rows of one kind ("train" or "test"), by column names (set datafile columnheaders).
std::string gnuplot_series(const std::string& kind, const std::string& column);

// Draws loss.png from metrics.csv with gnuplot: the training loss, the evaluated
// split's loss and, when the file has one, its accuracy on a second axis. Returns false
// (after a warning on stderr) when gnuplot is missing or fails; the CSV stays either way.
bool plot_metrics(const std::string& metrics_csv, const std::string& png, const std::string& title,
                  const std::string& split, bool with_accuracy);

}  // namespace dapa
