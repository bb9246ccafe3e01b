// DAPA table files: HDF5 and JSON round trips, and a clear error for each bad file.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "core/h5.h"
#include "dapa/table_io.h"
#include "test_util.h"

namespace dapa {
namespace {

std::string tmp(const std::string& name) {
  return ::testing::TempDir() + "/" + name;
}

std::vector<SiteTable> two_sites() {
  Distribution d;
  std::vector<float> xs;
  for (int i = 0; i < 10000; ++i) xs.push_back(static_cast<float>(i % 997) / 100.0f - 4.0f);
  d.add(xs.data(), static_cast<int64_t>(xs.size()));
  SiteTable a{"blocks.0.mlp.act",
              fit_dapa(d, 16, find_function("gelu"), DerivativeMode::Fitted),
              true,
              d,
              false,
              FixedTable()};
  SiteTable b{
      "blocks.1.mlp.act", fit_pwl(8, find_function("gelu-tanh")), false, Distribution(), false,
      FixedTable()};
  return {a, b};
}

std::string load_error(const std::string& path) {
  return test::thrown_message([&] { load_tables(path); });
}

TEST(TableIo, RoundTripsHdf5AndJson) {
  for (std::string name : {"tables.h5", "tables.json"}) {
    std::vector<SiteTable> sites = two_sites();
    save_tables(tmp(name), sites);
    std::vector<SiteTable> back = load_tables(tmp(name));
    ASSERT_EQ(back.size(), 2u) << name;
    for (size_t i = 0; i < 2; ++i) {
      const PiecewiseLinear &a = sites[i].table, &b = back[i].table;
      EXPECT_EQ(back[i].site, sites[i].site);
      EXPECT_EQ(b.target, a.target);
      EXPECT_EQ(b.mode, a.mode);
      EXPECT_EQ(b.breakpoints, a.breakpoints) << name;  // float64, exact
      EXPECT_EQ(b.slope, a.slope);
      EXPECT_EQ(b.intercept, a.intercept);
      EXPECT_EQ(b.dslope, a.dslope);
      EXPECT_EQ(b.dintercept, a.dintercept);
    }
    if (name == "tables.h5") {
      ASSERT_TRUE(back[0].has_distribution);
      EXPECT_EQ(back[0].distribution.counts(), sites[0].distribution.counts());
      EXPECT_FALSE(back[1].has_distribution);
    }
    std::remove(tmp(name).c_str());
  }
}

TEST(TableIo, SiteNamesAndCountsAreChecked) {
  // A site name is what nn/ calls a site: nothing that could break out of a file path,
  // an HDF5 name or a generated comment.
  for (std::string bad :
       std::vector<std::string>{"", "a/b", "x\n#error injected", "a b", std::string(129, 'a')}) {
    std::vector<SiteTable> sites = two_sites();
    sites[0].site = bad;
    EXPECT_THROW(save_tables(tmp("bad_name.h5"), sites), std::invalid_argument) << bad;
  }
  save_tables(tmp("names.json"), two_sites());
  std::ifstream in(tmp("names.json"));
  std::string text((std::istreambuf_iterator<char>(in)), {});
  std::string injected = text;
  injected.replace(injected.find("blocks.0.mlp.act"), 16, "x\\n#error injected");
  std::ofstream(tmp("injected.json")) << injected;
  EXPECT_NE(load_error(tmp("injected.json")).find("must be 1 to 128 of"), std::string::npos)
      << load_error(tmp("injected.json"));
  // Thousands of sites are refused before anything is built from them.
  nlohmann::json j = nlohmann::json::parse(text);
  nlohmann::json site = j["sites"]["blocks.1.mlp.act"];
  for (int i = 0; i < 5000; ++i) j["sites"]["s" + std::to_string(i)] = site;
  std::ofstream(tmp("many.json")) << j.dump();
  EXPECT_NE(load_error(tmp("many.json")).find("at most 4096"), std::string::npos)
      << load_error(tmp("many.json"));
  // Counts that must be whole numbers.
  nlohmann::json k = nlohmann::json::parse(text);
  k["sites"]["blocks.1.mlp.act"]["segments"] = 1e300;
  std::ofstream(tmp("huge_segments.json")) << k.dump();
  EXPECT_NE(load_error(tmp("huge_segments.json")).find("'segments' must be a whole number"),
            std::string::npos)
      << load_error(tmp("huge_segments.json"));
}

TEST(TableIo, BadFilesAreRejectedWithTheReason) {
  save_tables(tmp("good.json"), two_sites());
  std::ifstream in(tmp("good.json"));
  nlohmann::json good = nlohmann::json::parse(in);
  auto write = [](const std::string& name, const nlohmann::json& j) {
    std::ofstream(tmp(name)) << j.dump();
    return tmp(name);
  };
  nlohmann::json j = good;
  std::swap(j["sites"]["blocks.0.mlp.act"]["breakpoints"][2],
            j["sites"]["blocks.0.mlp.act"]["breakpoints"][3]);
  EXPECT_NE(load_error(write("unsorted.json", j)).find("strictly increasing"), std::string::npos);
  j = good;
  j["version"] = 7;
  EXPECT_NE(load_error(write("version.json", j)).find("version 7"), std::string::npos);
  j = good;
  j["sites"]["blocks.0.mlp.act"]["segments"] = 8;
  EXPECT_NE(load_error(write("segments.json", j)).find("says 8 segments"), std::string::npos);
  j = good;
  j["sites"]["blocks.0.mlp.act"]["slope"][0] = nullptr;  // JSON's NaN
  EXPECT_NE(load_error(write("nan.json", j)).find("malformed"), std::string::npos);
  j = good;
  j["sites"]["blocks.0.mlp.act"]["target"] = "swish";
  EXPECT_NE(load_error(write("target.json", j)).find("unknown function 'swish'"),
            std::string::npos);
  std::ofstream(tmp("corrupt.json")) << "{\"format\": \"dapa-ta";
  EXPECT_NE(load_error(tmp("corrupt.json")).find("corrupt.json"), std::string::npos);
  EXPECT_NE(load_error(tmp("missing.h5")).find("no such file"), std::string::npos);
  // HDF5: a NaN coefficient, and a foreign HDF5 file.
  {
    // The file's layout written by hand, with a NaN slope.
    std::vector<SiteTable> sites = two_sites();
    H5Store h5(tmp("nan2.h5"), H5Store::Mode::Truncate);
    h5.write_attr("/", "format", "dapa-table");
    h5.write_attr("/", "version", 1.0);
    PiecewiseLinear t = sites[1].table;
    t.slope[1] = NAN;
    h5.write_doubles("sites/s/breakpoints", t.breakpoints);
    h5.write_doubles("sites/s/slope", t.slope);
    h5.write_doubles("sites/s/intercept", t.intercept);
    h5.write_doubles("sites/s/dslope", t.dslope);
    h5.write_doubles("sites/s/dintercept", t.dintercept);
    h5.write_attr("sites/s", "target", "gelu");
    h5.write_attr("sites/s", "mode", "slope");
    h5.write_attr("sites/s", "segments", static_cast<double>(t.segments()));
    h5.close();
  }
  EXPECT_NE(load_error(tmp("nan2.h5")).find("NaN"), std::string::npos)
      << load_error(tmp("nan2.h5"));
  write_h5_atomically(tmp("foreign.h5"),
                      [](H5Store& s) { s.write_tensor("x", Tensor::zeros({2})); });
  EXPECT_NE(load_error(tmp("foreign.h5")).find("not a DAPA table"), std::string::npos);
  PiecewiseLinear bad = fit_pwl(4, find_function("gelu"));
  bad.breakpoints[0] = bad.breakpoints[1];
  EXPECT_THROW(
      save_tables(tmp("never.h5"), {{"s", bad, false, Distribution(), false, FixedTable()}}),
      std::invalid_argument);
}

}  // namespace
}  // namespace dapa
