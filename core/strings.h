// Small string helpers shared by help texts and error messages.
#pragma once

#include <string>
#include <vector>

namespace dapa {

// "a, b, c": the names in order, for lists in help texts and errors.
inline std::string join_names(const std::vector<std::string>& names,
                              const std::string& separator = ", ") {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : separator) + n;
  return out;
}

}  // namespace dapa
