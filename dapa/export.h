// Export of a fixed-point table to the hardware unit: a C header for the HLS kernel and
// a Verilog include for the RTL twin, written by one generator from one table so that
// the two can never drift. Both hold the segment count, the Q formats, the derived
// shifts and the 16-bit words; the Verilog packs word j of a list at bits [16j +: 16].
#pragma once

#include <string>

#include "dapa/fixed_point.h"

namespace dapa {

constexpr int kUnitMaxSegments = 64;  // comparators the unit instantiates at most

// Throws std::invalid_argument when the unit cannot implement the table: fewer than 2
// or more than kUnitMaxSegments segments, breakpoints not strictly increasing, formats
// or shifts out of range.
void check_implementable(const FixedTable& f);

// `prefix` starts every name (e.g. DAPA); `source` says where the table came from.
std::string c_header(const FixedTable& f, const std::string& prefix, const std::string& source);
std::string verilog_include(const FixedTable& f, const std::string& prefix,
                            const std::string& source);

}  // namespace dapa
