// What a training run leaves behind and shows while it runs: metrics.csv (one row per
// logged step, one per evaluation), the progress display (a bar with ETA on a terminal,
// plain lines otherwise), loss.png drawn by gnuplot, and the peak resident memory.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace dapa {

// The columns of metrics.csv, in order; the file's header line names them, and readers
// (the plots here, experiments/*.py) find columns by these names. A train row fills
// step, epoch, train_loss, lr, images_per_s and elapsed_s; a test row step, epoch,
// elapsed_s, test_loss and test_acc.
const std::vector<std::string>& metrics_columns();

class MetricsLog {
 public:
  // Nothing is written until the first row: then the file starts over, keeping (when
  // resuming from `keep_until_step`) the rows the interrupted run logged up to that
  // step; a fresh run (keep_until_step < 0) keeps none. So a run that fails before
  // logging anything leaves the old file as it was. Write errors throw.
  MetricsLog(const std::string& path, int64_t keep_until_step);
  ~MetricsLog();
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;

  void train(int64_t step, int64_t epoch, double loss, double lr, double images_per_s,
             double elapsed_s);
  void test(int64_t step, int64_t epoch, double loss, double accuracy, double elapsed_s);
  // Elapsed seconds of the last row kept from the interrupted run (0 for a fresh run):
  // a resumed run adds it, so the column keeps counting the whole run's time.
  double resumed_elapsed() const { return resumed_elapsed_; }

 private:
  void append(const char* row);

  std::string path_, kept_;
  FILE* file_ = nullptr;
  double resumed_elapsed_ = 0;
};

class Progress {
 public:
  Progress(int64_t total_steps, int64_t log_every);
  // Called every step: redraws the bar on a terminal, prints a line every log_every
  // steps otherwise.
  void update(int64_t step, int64_t epoch, double loss, double lr, double images_per_s,
              double elapsed_s, int64_t steps_done_here);
  void message(const std::string& line);  // a full line, clearing the bar first
  void finish();

 private:
  int64_t total_, log_every_;
  bool tty_;
  bool bar_shown_ = false;
  std::chrono::steady_clock::time_point last_draw_{};
};

// A gnuplot `using` clause for one series of a metrics file: `column` against step, on
// the rows of one kind ("train" or "test"), by column names (set datafile columnheaders).
std::string gnuplot_series(const std::string& kind, const std::string& column);

// Draws loss.png from metrics.csv with gnuplot. Returns false (after a warning on
// stderr) when gnuplot is missing or fails; the CSV stays either way.
bool plot_metrics(const std::string& metrics_csv, const std::string& png, const std::string& title);

// Peak resident set size of this process so far, in bytes.
int64_t peak_rss_bytes();

}  // namespace dapa
