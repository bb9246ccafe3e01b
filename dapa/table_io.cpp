// DAPA table files; see table_io.h.
#include "dapa/table_io.h"

#include <cctype>
#include <cmath>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "core/h5.h"

namespace dapa {

namespace {
using json = nlohmann::json;

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw std::runtime_error(path + ": " + what);
}

// The checks every loaded table passes, whatever the container.
PiecewiseLinear checked(const std::string& path, const std::string& site, PiecewiseLinear t,
                        int64_t segments) {
  if (segments != t.segments())
    fail(path, "site '" + site + "' says " + std::to_string(segments) + " segments but holds " +
                   std::to_string(t.segments()));
  try {
    check_site_name(site);
    t.validate();
  } catch (const std::invalid_argument& e) {
    fail(path, "site '" + site + "': " + e.what());
  }
  return t;
}

void check_version(const std::string& path, const std::string& format, int64_t version) {
  if (format != "dapa-table") fail(path, "not a DAPA table file (format '" + format + "')");
  if (version != kTableFormatVersion)
    fail(path, "table format version " + std::to_string(version) + " is not supported (expected " +
                   std::to_string(kTableFormatVersion) + ")");
}

void check_site_count(const std::string& path, size_t n) {
  if (n > static_cast<size_t>(kMaxTableSites))
    fail(path, "holds " + std::to_string(n) + " sites (at most " + std::to_string(kMaxTableSites) +
                   " are accepted)");
}

// A JSON number that must be a whole number in [min, max].
int64_t json_int(const std::string& path, const json& j, const char* key, int64_t min,
                 int64_t max) {
  double v = j.at(key).get<double>();
  if (!(v >= static_cast<double>(min) && v <= static_cast<double>(max)) || v != std::floor(v))
    fail(path, std::string("'") + key + "' must be a whole number from " + std::to_string(min) +
                   " to " + std::to_string(max));
  return static_cast<int64_t>(v);
}

const char* kFields[] = {"breakpoints", "slope", "intercept", "dslope", "dintercept"};

std::vector<double>* field(PiecewiseLinear& t, int i) {
  std::vector<double>* f[] = {&t.breakpoints, &t.slope, &t.intercept, &t.dslope, &t.dintercept};
  return f[i];
}

const char* kFracs[] = {"frac_x", "frac_y", "frac_slope", "frac_dslope", "frac_d"};

std::vector<int16_t>* field(FixedTable& t, int i) {
  std::vector<int16_t>* f[] = {&t.breakpoints, &t.slope, &t.intercept, &t.dslope, &t.dintercept};
  return f[i];
}
int* frac(FixedTable& t, int i) {
  int* f[] = {&t.frac_x, &t.frac_y, &t.frac_slope, &t.frac_dslope, &t.frac_d};
  return f[i];
}

std::vector<double> words_to_doubles(const std::vector<int16_t>& w) {
  return std::vector<double>(w.begin(), w.end());
}
std::vector<int16_t> doubles_to_words(const std::string& path, const std::string& site,
                                      const std::vector<double>& v) {
  std::vector<int16_t> w;
  for (double x : v) {
    if (!(x >= INT16_MIN && x <= INT16_MAX) || x != static_cast<double>(static_cast<int64_t>(x)))
      fail(path, "site '" + site + "': fixed-point word " + std::to_string(x) +
                     " is not a 16-bit integer");
    w.push_back(static_cast<int16_t>(x));
  }
  return w;
}
int to_frac(const std::string& path, const std::string& site, double v) {
  if (!(v >= 0 && v < kWordBits) || v != std::floor(v))
    fail(path, "site '" + site + "': fractional bits " + std::to_string(v) +
                   " outside the integers 0 to 15");
  return static_cast<int>(v);
}

// The fixed table read back: its words and formats, checked against the float table.
FixedTable checked_fixed(const std::string& path, const std::string& site, FixedTable f,
                         const PiecewiseLinear& t) {
  f.target = t.target;
  f.mode = t.mode;
  set_domain_words(f, t);
  if (f.segments() != t.segments())
    fail(path, "site '" + site + "': the fixed-point table holds " + std::to_string(f.segments()) +
                   " segments, the table " + std::to_string(t.segments()));
  try {
    f.validate();
  } catch (const std::invalid_argument& e) {
    fail(path, "site '" + site + "': " + e.what());
  }
  return f;
}
}  // namespace

void check_site_name(const std::string& site) {
  bool ok = !site.empty() && site.size() <= 128;
  for (char c : site)
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-');
  if (!ok) {
    std::string shown = site.substr(0, 64);  // quoted in a one-line message
    for (char& c : shown)
      if (!std::isprint(static_cast<unsigned char>(c))) c = '?';
    throw std::invalid_argument("site name '" + shown + "' must be 1 to 128 of A-Z a-z 0-9 _ . -");
  }
}

void save_tables(const std::string& path, const std::vector<SiteTable>& sites) {
  if (sites.empty()) throw std::runtime_error(path + ": no tables to write");
  for (const SiteTable& s : sites) {
    check_site_name(s.site);
    s.table.validate();
    if (s.has_fixed) s.fixed.validate();
  }
  if (ends_with(path, ".json")) {
    json j = {
        {"format", "dapa-table"}, {"version", kTableFormatVersion}, {"sites", json::object()}};
    for (const SiteTable& s : sites) {
      PiecewiseLinear t = s.table;
      json site = {
          {"target", t.target->name}, {"mode", mode_name(t.mode)}, {"segments", t.segments()}};
      for (int i = 0; i < 5; ++i) site[kFields[i]] = *field(t, i);
      if (t.bounded()) site["domain"] = {t.domain_lo, t.domain_hi};
      if (s.has_fixed) {
        FixedTable f = s.fixed;
        json fj;
        for (int i = 0; i < 5; ++i) fj[kFields[i]] = *field(f, i), fj[kFracs[i]] = *frac(f, i);
        fj["shift_add"] = f.shift_add;
        site["fixed"] = fj;
      }
      if (s.has_distribution)
        site["distribution"] = {{"count", s.distribution.count()},
                                {"min", s.distribution.min()},
                                {"max", s.distribution.max()},
                                {"mean", s.distribution.mean()},
                                {"std", s.distribution.stddev()}};
      j["sites"][s.site] = site;
    }
    write_text_atomically(path, j.dump(2) + "\n");
    return;
  }
  write_h5_atomically(path, [&](H5Store& h5) { write_tables(h5, "", sites); });
}

void write_tables(H5Store& h5, const std::string& group, const std::vector<SiteTable>& sites) {
  std::string root = group.empty() ? "" : group + "/";
  for (const SiteTable& s : sites) {
    std::string g = root + "sites/" + s.site;
    PiecewiseLinear t = s.table;
    for (int i = 0; i < 5; ++i) h5.write_doubles(g + "/" + kFields[i], *field(t, i));
    h5.write_attr(g, "target", t.target->name);
    h5.write_attr(g, "mode", mode_name(t.mode));
    h5.write_attr(g, "segments", static_cast<double>(t.segments()));
    if (t.bounded()) {
      h5.write_attr(g, "domain_lo", t.domain_lo);
      h5.write_attr(g, "domain_hi", t.domain_hi);
    }
    if (s.has_distribution) s.distribution.save(h5, g + "/distribution");
    if (s.has_fixed) {
      FixedTable f = s.fixed;
      for (int i = 0; i < 5; ++i) {
        h5.write_doubles(g + "/fixed/" + kFields[i], words_to_doubles(*field(f, i)));
        h5.write_attr(g + "/fixed", kFracs[i], static_cast<double>(*frac(f, i)));
      }
      h5.write_attr(g + "/fixed", "shift_add", f.shift_add ? 1.0 : 0.0);
    }
  }
  std::string object = group.empty() ? "/" : group;
  h5.write_attr(object, "format", "dapa-table");
  h5.write_attr(object, "version", static_cast<double>(kTableFormatVersion));
}

std::vector<SiteTable> parse_tables_json(const std::string& text, const std::string& path) {
  std::vector<SiteTable> out;
  try {
    json j = json::parse(text);
    check_version(path, j.at("format").get<std::string>(), json_int(path, j, "version", 0, 1000));
    check_site_count(path, j.at("sites").size());
    for (auto& [name, site] : j.at("sites").items()) {
      SiteTable s;
      s.site = name;
      s.table.target = &find_function(site.at("target").get<std::string>());
      s.table.mode = parse_mode(site.at("mode").get<std::string>());
      for (int i = 0; i < 5; ++i)
        *field(s.table, i) = site.at(kFields[i]).get<std::vector<double>>();
      if (site.contains("domain")) {
        auto domain = site.at("domain").get<std::vector<double>>();
        if (domain.size() != 2) fail(path, "site '" + name + "': 'domain' must be [lo, hi]");
        s.table.domain_lo = domain[0], s.table.domain_hi = domain[1];
      }
      s.table = checked(path, name, s.table, json_int(path, site, "segments", 0, 1 << 20));
      if (site.contains("fixed")) {
        const json& fj = site.at("fixed");
        for (int i = 0; i < 5; ++i) {
          *field(s.fixed, i) =
              doubles_to_words(path, name, fj.at(kFields[i]).get<std::vector<double>>());
          *frac(s.fixed, i) = to_frac(path, name, fj.at(kFracs[i]).get<double>());
        }
        s.fixed.shift_add = fj.value("shift_add", false);
        s.fixed = checked_fixed(path, name, s.fixed, s.table);
        s.has_fixed = true;
      }
      out.push_back(std::move(s));
    }
  } catch (const json::exception& e) {
    fail(path, std::string("malformed table file (") + e.what() + ")");
  } catch (const std::invalid_argument& e) {
    fail(path, e.what());
  }
  if (out.empty()) fail(path, "holds no tables");
  return out;
}

std::vector<SiteTable> load_tables(const std::string& path) {
  if (ends_with(path, ".json")) {
    std::ifstream f(path, std::ios::binary);
    if (!f) fail(path, "no such file, or not readable");
    std::string text((std::istreambuf_iterator<char>(f)), {});
    if (f.bad()) fail(path, "cannot read");
    return parse_tables_json(text, path);
  }
  try {
    H5Store h5(path, H5Store::Mode::Read);
    return read_tables(h5, "", path);
  } catch (const H5Error& e) {
    throw std::runtime_error(e.what());
  }
}

std::vector<SiteTable> read_tables(const H5Store& h5, const std::string& group,
                                   const std::string& path) {
  std::vector<SiteTable> out;
  std::string root = group.empty() ? "" : group + "/";
  std::string object = group.empty() ? "/" : group;
  try {
    if (!h5.has_attr(object, "format") || !h5.exists(root + "sites"))
      fail(path, "not a DAPA table file (no format attribute or " + root + "sites)");
    check_version(path, h5.read_attr_string(object, "format"),
                  h5.read_attr_int(object, "version", 0, 1000));
    std::vector<std::string> names = h5.children(root + "sites");
    check_site_count(path, names.size());
    for (const std::string& name : names) {
      std::string g = root + "sites/" + name;
      SiteTable s;
      s.site = name;
      s.table.target = &find_function(h5.read_attr_string(g, "target"));
      s.table.mode = parse_mode(h5.read_attr_string(g, "mode"));
      for (int i = 0; i < 5; ++i) *field(s.table, i) = h5.read_doubles(g + "/" + kFields[i]);
      if (h5.has_attr(g, "domain_lo") || h5.has_attr(g, "domain_hi")) {
        s.table.domain_lo = h5.read_attr_double(g, "domain_lo");
        s.table.domain_hi = h5.read_attr_double(g, "domain_hi");
      }
      s.table = checked(path, name, s.table, h5.read_attr_int(g, "segments", 0, 1 << 20));
      if (h5.exists(g + "/distribution")) {
        s.distribution = Distribution::load(h5, g + "/distribution");
        s.has_distribution = true;
      }
      if (h5.exists(g + "/fixed")) {
        for (int i = 0; i < 5; ++i) {
          *field(s.fixed, i) =
              doubles_to_words(path, name, h5.read_doubles(g + "/fixed/" + kFields[i]));
          *frac(s.fixed, i) = to_frac(path, name, h5.read_attr_double(g + "/fixed", kFracs[i]));
        }
        s.fixed.shift_add = h5.has_attr(g + "/fixed", "shift_add") &&
                            h5.read_attr_double(g + "/fixed", "shift_add") != 0;
        s.fixed = checked_fixed(path, name, s.fixed, s.table);
        s.has_fixed = true;
      }
      out.push_back(std::move(s));
    }
  } catch (const std::invalid_argument& e) {
    fail(path, e.what());
  }
  if (out.empty()) fail(path, "holds no tables");
  return out;
}

}  // namespace dapa
