// DAPA table files: one table per activation site (and optionally the distribution it
// was fitted from), as HDF5 or JSON, chosen by the file name's ending.
//
// HDF5: root attributes format = "dapa-table", version; per site a group
//   sites/<site>/{breakpoints, slope, intercept, dslope, dintercept}   float64
//   attributes target ("gelu", "gelu-tanh", "exp"), mode ("slope", "fitted"), segments,
//   and for a bounded table (a softmax's exp) domain_lo, domain_hi
//   sites/<site>/distribution/counts                                   (optional)
//   sites/<site>/fixed/{breakpoints, slope, intercept, dslope, dintercept}  16-bit words
//   as float64, attributes frac_x, frac_y, frac_slope, frac_dslope, frac_d (optional)
// JSON: {"format": "dapa-table", "version": 1, "sites": {"<site>": {the same fields}}},
// a bounded table's domain as "domain": [lo, hi]. The fixed-point table's domain words
// are not stored: they are the float domain rounded to its input format.
//
// Loading checks the format and version, the site names and count, the sizes, that
// breakpoints strictly increase and that nothing is NaN or infinite, and names the
// file, the site and the problem.
#pragma once

#include <string>
#include <vector>

#include "dapa/fit.h"
#include "dapa/fixed_point.h"

namespace dapa {

constexpr int kTableFormatVersion = 1;
constexpr int kMaxTableSites = 4096;

// Site names are what nn/ calls activation sites ("blocks.0.mlp.act"): 1 to 128 of
// A-Z a-z 0-9 _ . -, so they are safe in file paths, HDF5 names and generated code.
// Throws std::invalid_argument otherwise.
void check_site_name(const std::string& site);

struct SiteTable {
  std::string site;  // e.g. "blocks.0.mlp.act", or "shared"
  PiecewiseLinear table;
  bool has_distribution = false;
  Distribution distribution{2};  // placeholder (a default one is 512 KB) unless has_distribution
  bool has_fixed = false;
  FixedTable fixed;  // the 16-bit table quantised from `table`
};

// Written atomically (HDF5) or in one piece (JSON); throws std::runtime_error.
void save_tables(const std::string& path, const std::vector<SiteTable>& sites);
std::vector<SiteTable> load_tables(const std::string& path);
// The JSON form from its text; `path` names it in errors.
std::vector<SiteTable> parse_tables_json(const std::string& text, const std::string& path);

// The same layout inside another HDF5 file, under `group` ("" for the root): how a
// checkpoint carries the tables its weights were trained with. `path` names the file
// in error messages.
class H5Store;
void write_tables(H5Store& h5, const std::string& group, const std::vector<SiteTable>& sites);
std::vector<SiteTable> read_tables(const H5Store& h5, const std::string& group,
                                   const std::string& path);

}  // namespace dapa
