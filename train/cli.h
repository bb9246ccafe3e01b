// Command-line conventions shared by the executables: every usage error is one line,
// "<program>: <flag>: <what was expected>", and numbers are checked with readable
// messages (CLI11's own range check prints the whole double range).
#pragma once

#include <CLI/CLI.hpp>

#include <string>

namespace dapa::cli {

// Error output as one line naming the program.
inline void one_line_errors(CLI::App& app, const std::string& program) {
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
