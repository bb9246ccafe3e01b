// HDF5 tensor store: round trips and clear errors on bad files.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "core/h5.h"

namespace dapa {
namespace {

std::string temp_path(const std::string& name) {
  return ::testing::TempDir() + "/" + name;
}

TEST(H5Store, RoundTripsTensorsLabelsBytesAndAttributes) {
  std::string path = temp_path("roundtrip.h5");
  {
    H5Store s(path, H5Store::Mode::Truncate);
    s.write_tensor("a/b/w", Tensor::from({1.5f, -2, 3, 4, 5, 6}, {2, 3}));
    s.write_tensor("scalar", Tensor::scalar(7.0f));
    s.write_labels("labels", {3, 1, 4});
    s.write_bytes("img", {1, 2, 255, 0}, {2, 2});
    s.write_attr("/", "source", "unit test");
    s.write_attr("a/b/w", "scale", 0.25);
  }
  H5Store s(path, H5Store::Mode::Read);
  Tensor w = s.read_tensor("a/b/w");
  EXPECT_EQ(w.shape(), (Shape{2, 3}));
  EXPECT_EQ(w.to_vector(), (std::vector<float>{1.5f, -2, 3, 4, 5, 6}));
  EXPECT_EQ(s.read_tensor("scalar").item(), 7.0f);
  EXPECT_EQ(s.read_labels("labels"), (Labels{3, 1, 4}));
  Shape shape;
  EXPECT_EQ(s.read_bytes("img", &shape), (std::vector<uint8_t>{1, 2, 255, 0}));
  EXPECT_EQ(shape, (Shape{2, 2}));
  EXPECT_EQ(s.read_attr_string("/", "source"), "unit test");
  EXPECT_EQ(s.read_attr_double("a/b/w", "scale"), 0.25);
  EXPECT_TRUE(s.exists("a/b"));
  EXPECT_FALSE(s.exists("a/c/w"));
  EXPECT_EQ(s.children("a/b"), (std::vector<std::string>{"w"}));
  std::remove(path.c_str());
}

TEST(H5Store, ErrorsNameTheFileAndDataset) {
  std::string missing = temp_path("does_not_exist.h5");
  try {
    H5Store s(missing, H5Store::Mode::Read);
    FAIL();
  } catch (const H5Error& e) {
    EXPECT_NE(std::string(e.what()).find(missing), std::string::npos);
  }
  std::string garbage = temp_path("garbage.h5");
  std::ofstream(garbage) << "this is not an HDF5 file";
  EXPECT_THROW(H5Store(garbage, H5Store::Mode::Read), H5Error);
  std::string path = temp_path("one.h5");
  { H5Store(path, H5Store::Mode::Truncate).write_tensor("x", Tensor::zeros({2})); }
  H5Store s(path, H5Store::Mode::Read);
  try {
    s.read_tensor("y");
    FAIL();
  } catch (const H5Error& e) {
    EXPECT_NE(std::string(e.what()).find("'y'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(s.read_attr_string("/", "nope"), H5Error);
  std::remove(path.c_str());
  std::remove(garbage.c_str());
}

}  // namespace
}  // namespace dapa
