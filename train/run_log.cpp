// Metrics, progress and plots; see run_log.h.
#include "train/run_log.h"

#include "core/atomic_file.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace dapa {

std::vector<std::string> metrics_columns(const std::string& unit,
                                         const std::vector<std::string>& evaluation_names) {
  std::vector<std::string> columns = {"kind", "step",          "epoch",    "train_loss",
                                      "lr",   unit + "_per_s", "elapsed_s"};
  columns.insert(columns.end(), evaluation_names.begin(), evaluation_names.end());
  return columns;
}

namespace {
std::string format_duration(double s) {
  long t = static_cast<long>(s + 0.5);
  char buf[32];
  if (t >= 3600)
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
  else
    std::snprintf(buf, sizeof buf, "%ld:%02ld", t / 60, t % 60);
  return buf;
}
}  // namespace

MetricsLog::MetricsLog(const std::string& path, int64_t keep_until_step, const std::string& unit,
                       const std::vector<std::string>& evaluation_names)
    : path_(path), evaluation_names_(evaluation_names) {
  const std::vector<std::string> columns = metrics_columns(unit, evaluation_names);
  for (const std::string& c : columns) header_ += (header_.empty() ? "" : ",") + c;
  header_ += "\n";
  const auto elapsed =
      static_cast<size_t>(std::find(columns.begin(), columns.end(), "elapsed_s") - columns.begin());
  if (keep_until_step < 0) return;
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    size_t a = line.find(','), b = line.find(',', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    if (std::strtoll(line.substr(a + 1, b - a - 1).c_str(), nullptr, 10) > keep_until_step)
      continue;
    kept_ += line + "\n";
    size_t field = 0, pos = 0;
    while (field < elapsed && (pos = line.find(',', pos)) != std::string::npos) ++field, ++pos;
    if (field == elapsed) resumed_elapsed_ = std::strtod(line.c_str() + pos, nullptr);
  }
}

MetricsLog::~MetricsLog() {
  if (file_) std::fclose(file_);
}

void MetricsLog::append(const char* row) {
  if (!file_) {  // the first row: the file starts over with the rows kept from before
    write_text_atomically(path_, header_ + kept_);
    file_ = std::fopen(path_.c_str(), "a");
    if (!file_) throw std::runtime_error(path_ + ": cannot append metrics");
  }
  if (std::fputs(row, file_) < 0 || std::fflush(file_) != 0)
    throw std::runtime_error(path_ + ": cannot write metrics (disk full?)");
}

void MetricsLog::train(int64_t step, int64_t epoch, double loss, double lr, double rate,
                       double elapsed) {
  char row[192];
  std::snprintf(row, sizeof row, "train,%lld,%lld,%.9g,%.6g,%.1f,%.2f",
                static_cast<long long>(step), static_cast<long long>(epoch), loss, lr, rate,
                elapsed);
  append((row + std::string(evaluation_names_.size(), ',') + "\n").c_str());
}

void MetricsLog::evaluation(int64_t step, int64_t epoch, const std::string& split,
                            const std::vector<std::pair<std::string, double>>& values,
                            double elapsed) {
  char row[192];
  std::snprintf(row, sizeof row, "%s,%lld,%lld,,,,%.2f", split.c_str(),
                static_cast<long long>(step), static_cast<long long>(epoch), elapsed);
  std::string line = row;
  for (size_t i = 0; i < evaluation_names_.size(); ++i) {
    if (i >= values.size() || values[i].first != evaluation_names_[i])
      throw std::logic_error("metrics: evaluation values do not match the columns");
    std::snprintf(row, sizeof row, ",%.9g", values[i].second);
    line += row;
  }
  append((line + "\n").c_str());
}

Progress::Progress(int64_t total, int64_t log_every, const std::string& unit)
    : total_(total),
      log_every_(log_every),
      rate_unit_(unit == "images"   ? "img/s"
                 : unit == "tokens" ? "tok/s"
                                    : unit + "/s"),
      tty_(::isatty(STDOUT_FILENO)) {}

void Progress::update(int64_t step, int64_t epoch, double loss, double lr, double ips,
                      double elapsed, int64_t done_here) {
  double eta = done_here > 0 ? elapsed / done_here * (total_ - step) : 0.0;
  if (tty_) {
    // Redraw at most ten times a second, and always at the end.
    auto now = std::chrono::steady_clock::now();
    if (step != total_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    const int width = 30;
    int filled = static_cast<int>(width * step / std::max<int64_t>(total_, 1));
    std::string bar(filled, '#');
    bar.resize(width, '.');
    std::printf("\r[%s] %lld/%lld ep %lld loss %.4f lr %.2e %.0f %s ETA %s   ", bar.c_str(),
                static_cast<long long>(step), static_cast<long long>(total_),
                static_cast<long long>(epoch), loss, lr, ips, rate_unit_.c_str(),
                format_duration(eta).c_str());
    std::fflush(stdout);
    bar_shown_ = true;
  } else if (step % log_every_ == 0 || step == total_) {
    std::printf("step %lld/%lld epoch %lld loss %.4f lr %.3e %.0f %s elapsed %s eta %s\n",
                static_cast<long long>(step), static_cast<long long>(total_),
                static_cast<long long>(epoch), loss, lr, ips, rate_unit_.c_str(),
                format_duration(elapsed).c_str(), format_duration(eta).c_str());
    std::fflush(stdout);
  }
}

void Progress::message(const std::string& line) {
  if (bar_shown_) std::printf("\r\033[K");
  bar_shown_ = false;
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

void Progress::finish() {
  if (bar_shown_) std::printf("\n");
  bar_shown_ = false;
}

std::string gnuplot_series(const std::string& kind, const std::string& column) {
  return "(strcol(\"kind\") eq \"" + kind + "\" ? column(\"step\") : NaN):(column(\"" + column +
         "\"))";
}

bool plot_metrics(const std::string& csv, const std::string& png, const std::string& title,
                  const std::string& split, bool with_accuracy) {
  if (std::system("command -v gnuplot >/dev/null 2>&1") != 0) {
    std::fprintf(stderr, "warning: gnuplot not found; %s not drawn (metrics stay in %s)\n",
                 png.c_str(), csv.c_str());
    return false;
  }
  std::string script = png + ".gp";
  {
    std::ofstream gp(script);
    gp << "set terminal pngcairo size 1000,600 noenhanced\n"
       << "set output '" << png << "'\n"
       << "set datafile separator ','\nset datafile columnheaders\n"
       << "set title '" << title << "'\n"
       << "set xlabel 'step'\nset ylabel 'loss'\nset grid\nset key outside bottom\n";
    if (with_accuracy)
      gp << "set ytics nomirror\nset y2tics\nset y2range [0:1]\nset y2label '" << split
         << " accuracy'\n";
    gp << "plot '" << csv << "' using " << gnuplot_series("train", "train_loss")
       << " with lines lw 1 title 'train loss', \\\n"
       << "     '" << csv << "' using " << gnuplot_series(split, split + "_loss")
       << " with linespoints lw 2 pt 7 title '" << split << " loss'";
    if (with_accuracy)
      gp << ", \\\n     '" << csv << "' using " << gnuplot_series(split, split + "_accuracy")
         << " axes x1y2 with linespoints lw 2 pt 5 title '" << split << " accuracy'";
    gp << "\n";
  }
  std::string cmd = "gnuplot '" + script + "' 2>'" + script + ".log'";
  bool ok = std::system(cmd.c_str()) == 0;
  if (!ok) {
    std::fprintf(stderr, "warning: gnuplot failed (see %s.log); metrics stay in %s\n",
                 script.c_str(), csv.c_str());
    return false;
  }
  std::remove((script + ".log").c_str());
  std::remove(script.c_str());
  return true;
}

}  // namespace dapa
