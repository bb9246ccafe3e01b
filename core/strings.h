// Small string helpers shared by help texts and error messages.
#pragma once

#include <cstddef>
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

// Tables of named entries (structs with a `name` member): the entry called `name`, or
// nullptr; and the names in table order.
template <class Entry, size_t N>
const Entry* find_by_name(const Entry (&table)[N], const std::string& name) {
  for (const Entry& e : table)
    if (name == e.name) return &e;
  return nullptr;
}
template <class Entry, size_t N>
std::vector<std::string> names_of(const Entry (&table)[N]) {
  std::vector<std::string> names;
  for (const Entry& e : table) names.emplace_back(e.name);
  return names;
}

}  // namespace dapa
