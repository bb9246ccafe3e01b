// Command-line conventions shared by the executables: every usage error is one line,
// "<program>: <flag>: <what was expected>", and numbers are checked with readable
// messages (CLI11's own range check prints the whole double range).
#pragma once

#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace dapa::cli {

// Ends the process after its one-line error without exit-time teardown: after reading
// some corrupt HDF5 files, the HDF5 C++ library's exit hook (H5close) loops over memory
// HDF5 itself leaked and prints two lines of its own. Output is flushed first.
[[noreturn]] inline void exit_after_error(int code) {
  std::fflush(nullptr);
  std::_Exit(code);
}

// Error output as one line naming the program. A file-size limit (ulimit -f) makes a
// write fail with an error that is reported, instead of killing the process by SIGXFSZ.
inline void one_line_errors(CLI::App& app, const std::string& program) {
  std::signal(SIGXFSZ, SIG_IGN);
  app.failure_message([program](const CLI::App*, const CLI::Error& e) {
    return program + ": " + e.what() + " (see --help)\n";
  });
}

inline CLI::Validator positive() {
  return CLI::Validator(
      [](std::string& s) -> std::string {
        double v = 0;
        if (!CLI::detail::lexical_cast(s, v) || !(v > 0)) return "expected a number > 0, got " + s;
        return "";
      },
      "> 0", "positive");
}

inline CLI::Validator non_negative() {
  return CLI::Validator(
      [](std::string& s) -> std::string {
        double v = 0;
        if (!CLI::detail::lexical_cast(s, v) || !(v >= 0))
          return "expected a number >= 0, got " + s;
        return "";
      },
      ">= 0", "non_negative");
}

}  // namespace dapa::cli
