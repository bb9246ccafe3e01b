// dapa_export: the hardware unit's coefficients from a table file. Writes the C header
// the HLS kernel includes and the Verilog include of its RTL twin, both from the same
// fixed-point table (one generator, so the two cannot drift). Refuses tables the unit
// cannot implement.
#include <CLI/CLI.hpp>

#include <cstdio>

#include "core/h5.h"
#include "dapa/export.h"
#include "dapa/table_io.h"
#include "train/cli.h"

namespace dapa {
namespace {

struct Options {
  std::string table, site, header, verilog, prefix = "DAPA";
};

int run(const Options& o) {
  std::vector<SiteTable> tables = load_tables(o.table);
  const SiteTable* chosen = nullptr;
  std::string names;
  for (const SiteTable& t : tables) {
    names += (names.empty() ? "" : ", ") + t.site;
    if (o.site.empty() ? chosen == nullptr : t.site == o.site) chosen = &t;
  }
  if (!chosen)
    throw std::invalid_argument("--site: no site '" + o.site + "' in " + o.table + " (it holds " +
                                names + ")");
  if (!chosen->has_fixed)
    throw std::invalid_argument(o.table + ": site '" + chosen->site +
                                "' has no fixed-point table (fit it with dapa_fit)");
  std::string source = o.table + " site " + chosen->site;
  try {
    // Both texts first: a refused table leaves no half-written output behind.
    std::string h = c_header(chosen->fixed, o.prefix, source);
    std::string v = verilog_include(chosen->fixed, o.prefix, source);
    if (!o.header.empty()) write_text_atomically(o.header, h);
    if (!o.verilog.empty()) write_text_atomically(o.verilog, v);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(source + ": " + e.what());
  }
  std::printf("dapa_export: %s (%d segments)%s%s%s%s\n", source.c_str(), chosen->fixed.segments(),
              o.header.empty() ? "" : " -> ", o.header.c_str(), o.verilog.empty() ? "" : " -> ",
              o.verilog.c_str());
  return 0;
}

}  // namespace
}  // namespace dapa

int main(int argc, char** argv) {
  dapa::Options o;
  CLI::App app{"Write the DAPA unit's coefficient header (HLS) and include (Verilog)."};
  app.add_option("--table", o.table, "table file from dapa_fit or train_vit")->required();
  app.add_option("--site", o.site, "which site's table (default: the first)");
  app.add_option("--header", o.header, "C header to write for hw/hls");
  app.add_option("--verilog", o.verilog, "Verilog include to write for hw/rtl");
  app.add_option("--prefix", o.prefix, "name prefix of every constant")->capture_default_str();
  dapa::cli::one_line_errors(app, "dapa_export");
  CLI11_PARSE(app, argc, argv);
  if (o.header.empty() && o.verilog.empty()) {
    std::fprintf(stderr, "dapa_export: nothing to write (give --header and/or --verilog)\n");
    return 2;
  }
  try {
    return dapa::run(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dapa_export: %s\n", e.what());
    dapa::cli::exit_after_error(1);
  }
}
